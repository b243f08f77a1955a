#!/usr/bin/env bash
# Regenerates the benchmark tables of docs/benchmarks.md.
#
#   benchmarks/run.sh [quick|full] [table ...]
#
#   quick  (default) 1 fork, 2 x 500 ms warm-up, 3 x 500 ms measured: ~5 min, for a first look
#   full   2 forks, 3 x 1 s warm-up, 5 x 1 s measured: ~17 min, the numbers in docs/benchmarks.md
#   table  keyed-1t, keyed-2t, keyed-floor, admission-uncontended, admission-contended, outbound-1t,
#          outbound-2t, quota-1c, quota-8c, quota-32c, redis-1t, redis-8t, redis-32t, filter, or
#          a prefix (keyed, admission, outbound, quota, redis); none means all
#
# quota-*: PostgreSQL from SLUICE_BENCH_POSTGRES=embedded, SLUICE_BENCH_JDBC_URL,
#          SLUICE_TEST_JDBC_URL, 127.0.0.1:5432, else embedded; a fresh database per JVM, dropped at
#          exit (quick: ~5 min for the three, 1 s iterations in sample-time mode).
# redis-*: Redis from SLUICE_BENCH_REDIS_URL, SLUICE_TEST_REDIS_URL, else a redis-server from the
#          PATH started once for all tables (quick: ~4-5 min a table, full ~12, 1 s / 2 s
#          iterations, throughput and sample-time modes).
# filter:  Jetty on 127.0.0.1 loaded by wrk if installed, else a Java generator (quick ~45 s, full
#          ~2 min).
#
# Builds benchmarks/target/benchmarks.jar (skipping tests), runs one JMH run per table (with
# -prof gc for the in-memory tables), and writes Markdown tables, JMH JSON and the machine description to
# benchmarks/target/results/<timestamp>-<mode>/. Ad-hoc runs use the jar directly, e.g.
#   java -jar benchmarks/target/benchmarks.jar KeyedRateLimit -p keys=hot -t 2 -prof gc
set -euo pipefail

mode="${1:-quick}"
[ $# -gt 0 ] && shift
case "$mode" in
  quick|full) ;;
  -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
  *) echo "usage: $0 [quick|full] [table ...]" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

mvn -B -ntp -q -pl benchmarks -am -DskipTests package

out="benchmarks/target/results/$(date -u +%Y%m%dT%H%M%SZ)-$mode"
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "command: benchmarks/run.sh $mode $*"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "java: $(java -version 2>&1 | tr '\n' ' ')"
  echo "load before run: $(cat /proc/loadavg 2>/dev/null || echo n/a)"
  lscpu 2>/dev/null | grep -E '^(Model name|CPU\(s\)|Thread|Core|Socket|Hypervisor|CPU MHz)' || true
} > "$out/machine.txt"
cat "$out/machine.txt"

java -cp benchmarks/target/benchmarks.jar dev.sluice.bench.Tables "$mode" "$@" --out "$out" \
  | tee "$out/jmh.log"

echo "load after run: $(cat /proc/loadavg 2>/dev/null || echo n/a)" >> "$out/machine.txt"
echo
echo "Results: $out/tables.md (machine: $out/machine.txt)"
