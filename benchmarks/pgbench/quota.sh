#!/usr/bin/env bash
# Quota consume against a raw guarded UPDATE, with pgbench, on any PostgreSQL server.
#
#   benchmarks/pgbench/quota.sh [-T seconds] [-r rounds] [-c "1 8 32"] [-s "on off"] [-k] URL
#
#   URL   a libpq URI of any database on the server, e.g. postgresql://postgres@127.0.0.1:5432/test
#         (the user must be allowed to create databases)
#   -T    seconds per variant and round (default 20)
#   -r    rounds per cell (default 1): the variants run one after another, round after round, and
#         each variant's tps is the mean of its rounds (interleaving evens out drift, e.g. the
#         disk's flush latency with synchronous_commit on)
#   -c    client counts (default "1 8 32"); pgbench threads = min(clients, CPUs)
#   -s    synchronous_commit settings to run, set per session with PGOPTIONS (default "on off")
#   -k    keep database sluice_pgbench afterwards (default: dropped)
#
# Creates database sluice_pgbench (dropped first if it exists), installs Sluice's shipped schema
# from sql/V*.sql, and seeds 100,000 subjects s0..s99999 on a plan that never refuses, each with a
# counter in the current window, a raw counter table and a Bucket4j-shaped state table with the
# same keys. Every variant runs pgbench -n -M prepared for -T seconds per round; within a cell the
# variants run back to back, and the ledger is emptied before each cell. Variants (scripts next to this file):
#   raw         UPDATE bench_counter SET used = used + 1 WHERE subject = $1 AND used + 1 <= lim
#               RETURNING used: the physical limit of "check and count one unit"
#   consume     SELECT … FROM sluice.consume_quota(subject, 'bench', 1, NULL)
#   request-id  the same with a fresh request id per call (a ledger row keyed by it)
#   bucket4j    Bucket4j's PostgreSQL "select for update" proxy's statements: BEGIN; SELECT state
#               … FOR UPDATE; UPDATE … SET state = <bytea>; COMMIT (its Java work not included)
# Cells: one hot subject (s0), and 100k spread subjects (uniformly random). Prints one Markdown
# table per synchronous_commit setting, with each variant's tps and its share of the raw tps.
set -euo pipefail

seconds=20
rounds=1
clients="1 8 32"
syncs="on off"
keep=0
while getopts "T:r:c:s:kh" opt; do
  case "$opt" in
    T) seconds="$OPTARG" ;;
    r) rounds="$OPTARG" ;;
    c) clients="$OPTARG" ;;
    s) syncs="$OPTARG" ;;
    k) keep=1 ;;
    *) sed -n '2,30p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -ne 1 ]; then
  sed -n '2,30p' "$0"
  exit 2
fi
url="$1"
here="$(cd "$(dirname "$0")" && pwd)"
sql="$here/../../sql"
db=sluice_pgbench
# The same URI with the database path replaced.
bench_url="$(printf '%s' "$url" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\\1/$db#")"
cpus="$(nproc 2>/dev/null || echo 2)"

psql -X -q -v ON_ERROR_STOP=1 -d "$url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
  -c "CREATE DATABASE $db"
if [ "$keep" = 0 ]; then
  trap 'psql -X -q -d "$url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true' EXIT
fi
for f in $(ls "$sql"/V*__*.sql | sort -V); do
  psql -X -q -v ON_ERROR_STOP=1 -d "$bench_url" -f "$f" 2>&1 | grep -v NOTICE || true
done
psql -X -q -v ON_ERROR_STOP=1 -d "$bench_url" <<'SQL'
INSERT INTO sluice.plan (plan, description) VALUES ('bench', 'never refuses');
INSERT INTO sluice.plan_quota (plan, quota, allowance, window_unit, time_zone)
  VALUES ('bench', 'bench', 2147483647, 'month', 'UTC');
INSERT INTO sluice.subject (subject, plan) SELECT 's' || i, 'bench' FROM generate_series(0, 99999) i;
INSERT INTO sluice.quota_usage
  (subject, quota, window_start, window_end, used, updated_at, window_unit, time_zone, lim,
   config_version)
  SELECT 's' || i, 'bench', w.window_start, w.window_end, 0, clock_timestamp(), 'month', 'UTC',
         2147483647, v.version
    FROM generate_series(0, 99999) i, sluice.quota_window('month', 'UTC', clock_timestamp()) w,
         sluice.quota_config_version v;
CREATE TABLE bench_counter (subject text PRIMARY KEY, used integer NOT NULL CHECK (used >= 0),
  lim integer NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO bench_counter SELECT 's' || i, 0, 2147483647, clock_timestamp()
  FROM generate_series(0, 99999) i;
CREATE TABLE bucket (id bigint PRIMARY KEY, state bytea, expires_at bigint);
INSERT INTO bucket SELECT i, '\x00'::bytea, 0 FROM generate_series(0, 99999) i;
VACUUM ANALYZE;
SQL

server="$(psql -X -At -d "$bench_url" -c "SELECT current_setting('server_version') || ', fsync '
  || current_setting('fsync') || ', shared_buffers ' || current_setting('shared_buffers')")"
echo "server: PostgreSQL $server; $cpus CPUs; $rounds round(s) of $seconds s per variant and cell;"\
  "pgbench -n -M prepared"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"

tps() { # variant dist clients sync
  local j=$3
  [ "$j" -gt "$cpus" ] && j=$cpus
  PGOPTIONS="-c synchronous_commit=$4" pgbench -n -M prepared -T "$seconds" -c "$3" -j "$j" \
    -f "$here/$1-$2.sql" "$bench_url" 2>/dev/null \
    | sed -nE 's/^tps = ([0-9.]+) .*without initial connection time.*/\1/p' | cut -d. -f1
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%d", 100 * a / b; else print "-" }'; }

for sync in $syncs; do
  echo
  echo "#### synchronous_commit = $sync"
  echo
  echo "| cell | clients | raw UPDATE tps | consume_quota tps (% of raw) | with request id (% of raw) | Bucket4j statements tps (% of raw) |"
  echo "|---|---:|---:|---:|---:|---:|"
  for dist in hot spread; do
    for c in $clients; do
      psql -X -q -d "$bench_url" -c "TRUNCATE sluice.quota_ledger" -c "VACUUM ANALYZE"
      raw=0 con=0 rid=0 b4j=0
      for _ in $(seq "$rounds"); do
        raw=$((raw + $(tps raw "$dist" "$c" "$sync")))
        con=$((con + $(tps consume "$dist" "$c" "$sync")))
        rid=$((rid + $(tps request-id "$dist" "$c" "$sync")))
        b4j=$((b4j + $(tps bucket4j "$dist" "$c" "$sync")))
      done
      raw=$((raw / rounds)) con=$((con / rounds)) rid=$((rid / rounds)) b4j=$((b4j / rounds))
      name="one hot subject"
      [ "$dist" = spread ] && name="100k spread subjects"
      echo "| $name | $c | $raw | $con ($(pct "$con" "$raw") %) | $rid ($(pct "$rid" "$raw") %) | $b4j ($(pct "$b4j" "$raw") %) |"
    done
  done
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
