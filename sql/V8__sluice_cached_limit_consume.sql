-- Sluice quota functions, fourth version: a consume is one single-table guarded UPDATE in the
-- common case, and a consume without a request id writes no ledger row. Idempotent. Keeps every
-- rule of V6/V7 (windows from the current plan, daylight-saving windows, request ids that answer
-- the same, refunded ids that charge again once, the database clock for applications, one lock
-- order) except the carry-over on a unit change, which is now decided without the ledger (point
-- 3).
--
-- Why: measured with benchmarks/pgbench/quota.sh (docs/benchmarks.md), V7's consume spent most
-- of its time on two things a raw guarded UPDATE does not do: joining the subject, its plan and its
-- override to find the limit (three index lookups per consume), and writing a ledger row (a heap
-- row and three index entries, inside the counter row's lock on a hot subject).
--
-- 1. The limit is cached in the counter row (quota_usage.lim), labelled with the configuration
--    version it was read under (quota_usage.config_version). The fast path is
--      UPDATE quota_usage SET used = used + n WHERE <this counter> AND config_version = <current>
--        AND now < window_end AND used + n <= lim
--    A plan's allowance still applies to all its subjects at once (V1's rule): triggers keep the
--    cache honest. A change to sluice.plan_quota (any statement) bumps the one-row
--    sluice.quota_config_version, which unlabels every counter at once without touching them; a
--    change of a subject's plan, a deleted subject and a change to a subject's override unlabel
--    that subject's counters (row triggers, one index lookup). An unlabelled counter takes the
--    full path on its next consume, which reads the plan under the counter's row lock and labels
--    the row again.
-- 2. The ledger records consumes made with a request id (their answers for retries, refunds, and
--    an audit trail); a consume without one is counted in the counter only. Pass a request id to
--    have a consume recorded. A request id's ledger row is now written before the counter is
--    locked (lock order: ledger row, then counter; consume_quota_all writes all of its rows first,
--    in key order), so a hot subject's lock is held for the counter UPDATE and a small in-place
--    update of that row only; and consumed_at is indexed by a BRIN index (rows arrive in time
--    order; the daily cleanup is its only reader) instead of a B-tree that every row entered.
-- 3. Carry-over on a mid-window change of a plan's window unit or time zone, decided without the
--    ledger: from the counter row and sluice.quota_window_usage, which keeps the usage of the
--    counter's earlier windows (one row per window left with units in it, written when a counter
--    moves to another window, never per consume). For the new current window [T, E), each of the
--    counter's windows [S, F) (the stored one and the kept ones) carries:
--      - nothing when F <= T (it ended before the new window began);
--      - everything it counted when S >= T (it began inside the new window: all its usage is in
--        it, exactly; hour -> day counts every hour of that day);
--      - nothing when S < T and it last changed (units counted or given back) before T (exactly:
--        nothing since T);
--      - everything it counted when S < T and it changed at or after T: units on both sides of
--        T (day -> hour, week -> day, week -> month across the first of a month). This is the one
--        case that can count usage from before the new window began. It never counts more than
--        was really used, and it never lets the new window grant more than its allowance (quotas
--        never overshoot; carrying nothing would).
--    Kept windows older than 32 days can no longer lie in a current window (a month is the
--    longest) and are deleted when their counter next moves.

-- Grants: unchanged (see V7); the new tables are read and written by the functions and triggers
-- only.

CREATE TABLE IF NOT EXISTS sluice.quota_config_version (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  version bigint  NOT NULL
);
INSERT INTO sluice.quota_config_version (id, version) VALUES (true, 1) ON CONFLICT (id) DO NOTHING;
REVOKE ALL ON sluice.quota_config_version FROM PUBLIC;

ALTER TABLE sluice.quota_usage
  ADD COLUMN IF NOT EXISTS lim integer,
  ADD COLUMN IF NOT EXISTS config_version bigint;

-- Point 2: the cleanup's range scan needs no B-tree entry per ledger row.
CREATE INDEX IF NOT EXISTS quota_ledger_consumed_at_brin
  ON sluice.quota_ledger USING brin (consumed_at);
DROP INDEX IF EXISTS sluice.quota_ledger_consumed_at_ix;

-- A counter's earlier windows that still had units in them when it moved on (point 3).
CREATE TABLE IF NOT EXISTS sluice.quota_window_usage (
  subject      text        NOT NULL,
  quota        text        NOT NULL,
  window_start timestamptz NOT NULL,
  window_end   timestamptz NOT NULL,
  used         integer     NOT NULL CHECK (used > 0),
  last_at      timestamptz NOT NULL,
  PRIMARY KEY (subject, quota, window_start)
);
REVOKE ALL ON sluice.quota_window_usage FROM PUBLIC;

-- Whether a window [S, F) with "used" units, last counted at "last_at", is carried whole into
-- the window starting at "start" (point 3); false means it carries nothing.
CREATE OR REPLACE FUNCTION sluice.quota_window_carried(
    window_start timestamptz, window_end timestamptz, last_at timestamptz, start timestamptz)
  RETURNS boolean
  LANGUAGE sql IMMUTABLE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT $2 > $4 AND ($1 >= $4 OR $3 >= $4)
$$;
REVOKE EXECUTE ON FUNCTION
  sluice.quota_window_carried(timestamptz, timestamptz, timestamptz, timestamptz) FROM PUBLIC;

-- Called by every writer that moves a counter to the window starting at "start", before the
-- move and under the counter's row lock: keeps the stored window when it has units that the new
-- window does not carry, and forgets kept windows too old to matter.
CREATE OR REPLACE FUNCTION sluice.quota_keep_window(subject text, quota text, start timestamptz)
  RETURNS void
  LANGUAGE plpgsql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
  INSERT INTO sluice.quota_window_usage AS h
    (subject, quota, window_start, window_end, used, last_at)
  SELECT u.subject, u.quota, u.window_start, u.window_end, u.used, u.updated_at
    FROM sluice.quota_usage u
   WHERE u.subject = $1 AND u.quota = $2 AND u.used > 0 AND u.window_start <> $3
     AND NOT sluice.quota_window_carried(u.window_start, u.window_end, u.updated_at, $3)
  ON CONFLICT (subject, quota, window_start) DO NOTHING;
  DELETE FROM sluice.quota_window_usage h
   WHERE h.subject = $1 AND h.quota = $2 AND h.window_end < $3 - interval '32 days';
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_keep_window(text, text, timestamptz) FROM PUBLIC;

-- The triggers run as the schema's owner: an operator's role that may change plans or overrides
-- needs no privilege on the counters.
CREATE OR REPLACE FUNCTION sluice.quota_config_changed()
  RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE sluice.quota_config_version SET version = version + 1;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_config_changed() FROM PUBLIC;

-- Unlabels a subject's counter of one quota (all of its counters when quota is null).
CREATE OR REPLACE FUNCTION sluice.quota_unlabel(subject text, quota text)
  RETURNS void
  LANGUAGE sql VOLATILE
  SET search_path = pg_catalog, pg_temp
AS $$
  UPDATE sluice.quota_usage u SET config_version = NULL
   WHERE u.subject = $1 AND ($2 IS NULL OR u.quota = $2) AND u.config_version IS NOT NULL
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_unlabel(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sluice.quota_subject_changed()
  RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.subject = NEW.subject AND OLD.plan = NEW.plan THEN
    RETURN NULL;
  END IF;
  PERFORM sluice.quota_unlabel(OLD.subject, NULL);
  IF TG_OP = 'UPDATE' AND OLD.subject <> NEW.subject THEN
    PERFORM sluice.quota_unlabel(NEW.subject, NULL);
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_subject_changed() FROM PUBLIC;

CREATE OR REPLACE FUNCTION sluice.quota_override_changed()
  RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM sluice.quota_unlabel(OLD.subject, OLD.quota);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM sluice.quota_unlabel(NEW.subject, NEW.quota);
  END IF;
  RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_override_changed() FROM PUBLIC;

DROP TRIGGER IF EXISTS quota_config_changed ON sluice.plan_quota;
CREATE TRIGGER quota_config_changed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sluice.plan_quota
  FOR EACH STATEMENT EXECUTE FUNCTION sluice.quota_config_changed();
DROP TRIGGER IF EXISTS quota_subject_changed ON sluice.subject;
CREATE TRIGGER quota_subject_changed
  AFTER UPDATE OR DELETE ON sluice.subject
  FOR EACH ROW EXECUTE FUNCTION sluice.quota_subject_changed();
DROP TRIGGER IF EXISTS quota_subject_truncated ON sluice.subject;
CREATE TRIGGER quota_subject_truncated
  AFTER TRUNCATE ON sluice.subject
  FOR EACH STATEMENT EXECUTE FUNCTION sluice.quota_config_changed();
DROP TRIGGER IF EXISTS quota_override_changed ON sluice.subject_quota_override;
CREATE TRIGGER quota_override_changed
  AFTER INSERT OR UPDATE OR DELETE ON sluice.subject_quota_override
  FOR EACH ROW EXECUTE FUNCTION sluice.quota_override_changed();
DROP TRIGGER IF EXISTS quota_override_truncated ON sluice.subject_quota_override;
CREATE TRIGGER quota_override_truncated
  AFTER TRUNCATE ON sluice.subject_quota_override
  FOR EACH STATEMENT EXECUTE FUNCTION sluice.quota_config_changed();

-- A subject's counter as it stands for the current window [window_start, window_end), with the
-- carry-over rule of point 3 above. Reads only; callers that write lock the counter row first.
CREATE OR REPLACE FUNCTION sluice.quota_counter(
    subject text, quota text, window_start timestamptz, window_end timestamptz,
    OUT counter_start timestamptz, OUT counter_end timestamptz, OUT used integer)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_start   timestamptz;
  v_end     timestamptz;
  v_used    integer;
  v_changed timestamptz;
  v_kept    integer;
BEGIN
  SELECT u.window_start, u.window_end, u.used, u.updated_at
    INTO v_start, v_end, v_used, v_changed
    FROM sluice.quota_usage u
   WHERE u.subject = $1 AND u.quota = $2;
  IF FOUND AND ((v_start = $3 AND v_end = $4) OR v_start >= $4) THEN
    -- The current window, or a later one (a clock that stepped back never resets a counter).
    counter_start := v_start;
    counter_end := v_end;
    used := v_used;
    RETURN;
  END IF;
  counter_start := $3;
  counter_end := $4;
  used := 0;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF sluice.quota_window_carried(v_start, v_end, v_changed, $3) THEN
    used := v_used;
  END IF;
  SELECT coalesce(sum(h.used), 0)::integer INTO v_kept
    FROM sluice.quota_window_usage h
   WHERE h.subject = $1 AND h.quota = $2 AND h.window_end > $3 AND h.window_start <> v_start
     AND sluice.quota_window_carried(h.window_start, h.window_end, h.last_at, $3);
  used := used + v_kept;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_counter(text, text, timestamptz, timestamptz) FROM PUBLIC;

-- Consume, as the test/maintenance twin (time "at") and as what applications call (the database
-- clock), made from one body as in V7. enable_seqscan = off: plpgsql caches each statement's
-- plan for the session, and a plan made while a table was small (a fresh install, an emptied
-- ledger) may scan the whole table on every later call until autovacuum's next ANALYZE; every
-- statement here finds its rows by key or by ctid (measured: a pooled session fell from 2,600 to
-- 870 consumes/s within 16 s after the ledger was emptied and analyzed). jit = off: the cost a
-- disabled scan is given (on the one-row version table, which has nothing else) would otherwise
-- make PostgreSQL compile every statement (6 ms a call, measured).
DO $do$
DECLARE
  body constant text := $body$
#variable_conflict use_column
DECLARE
  v_now        timestamptz := @NOW@;
  v_amount     integer     := coalesce($3, 1);
  v_cur_used   integer;
  v_limit      integer;
  v_unit       text;
  v_tz         text;
  v_version    bigint;
  v_ws         timestamptz;
  v_we         timestamptz;
  v_ledger     tid;
  v_refunded   timestamptz;
  v_used       integer;
  v_cws        timestamptz;
  v_end        timestamptz;
  v_current    boolean;
  v_attempt    integer;
BEGIN
  IF $1 IS NULL OR $1 = '' THEN
    RAISE EXCEPTION 'subject must be non-empty' USING ERRCODE = '22023';
  END IF;
  IF $2 IS NULL OR $2 = '' THEN
    RAISE EXCEPTION 'quota must be non-empty' USING ERRCODE = '22023';
  END IF;
  IF v_amount < 1 THEN
    RAISE EXCEPTION 'amount must be >= 1 but was %', v_amount USING ERRCODE = '22023';
  END IF;
  IF v_now IS NULL THEN
    RAISE EXCEPTION 'at must not be null' USING ERRCODE = '22023';
  END IF;

  -- The common case, one statement on one row: the counter is labelled with the current
  -- configuration version (so its cached limit and its window's unit and zone are the plan's),
  -- its window has not ended (so it is the current one: windows of one unit and zone tile time),
  -- and the units fit. The UPDATE takes the row lock itself and re-checks the guard on the newest
  -- row version, as a raw guarded UPDATE does. The version is read first, by its own statement:
  -- outside the row lock, and without a join that a lock wait would make the UPDATE re-evaluate
  -- (a plan change committed in between makes this consume one that raced the change; a subject's
  -- own change clears the row's label, which the UPDATE sees).
  SELECT g.version INTO v_version FROM sluice.quota_config_version g;
  -- A ledger row is found again by its ctid (a TID scan whatever the plan cache holds: a plan
  -- cached while the ledger was small would otherwise scan it whole on every call); only this
  -- call, under the counter's lock, changes the row meanwhile.
  -- With a request id, its ledger row comes first, before any counter lock (the lock order of
  -- V8: a request id's ledger row, then the counter; no call ever waits for a ledger row while
  -- holding a counter, so the two cannot deadlock, and the row's heap and index entries are
  -- written outside the counter's lock). A conflict is a retry of a request id already recorded,
  -- or, inside consume_quota_all, the row the batch recorded up front (still undecided).
  IF $4 IS NOT NULL THEN
    INSERT INTO sluice.quota_ledger (subject, quota, request_id, amount, consumed_at)
    VALUES ($1, $2, $4, v_amount, v_now)
    ON CONFLICT (subject, quota, request_id) DO NOTHING
    RETURNING ctid INTO v_ledger;
    IF v_ledger IS NULL THEN
      SELECT l.ctid INTO v_ledger
        FROM sluice.quota_ledger l
       WHERE l.subject = $1 AND l.quota = $2 AND l.request_id = $4 AND l.allowed IS NULL;
    END IF;
  END IF;
  IF $4 IS NULL OR v_ledger IS NOT NULL THEN
    UPDATE sluice.quota_usage u SET used = u.used + v_amount, updated_at = v_now
     WHERE u.subject = $1 AND u.quota = $2 AND u.config_version = v_version
       AND v_now < u.window_end AND u.used::bigint + v_amount <= u.lim
    RETURNING u.used, u.lim, u.window_start, u.window_end
      INTO used, "limit", v_cws, resets_at;
    IF FOUND THEN
      allowed := true;
      remaining := greatest(0, "limit" - used);
      IF v_ledger IS NOT NULL THEN
        UPDATE sluice.quota_ledger l
           SET allowed = true, used_after = @FN@.used, limit_at = @FN@."limit",
               window_start = v_cws, window_end = @FN@.resets_at
         WHERE l.ctid = v_ledger;
      END IF;
      RETURN;
    END IF;
  END IF;
  IF $4 IS NULL THEN
    -- Not counted: refused in the current window (answered from the newest row version, locked),
    -- or the full path is needed. (With a request id, a refusal takes the full path, which
    -- records it in the ledger row.)
    SELECT u.used, u.lim, u.window_end INTO v_cur_used, "limit", resets_at
      FROM sluice.quota_usage u
     WHERE u.subject = $1 AND u.quota = $2 AND u.config_version = v_version
       AND v_now < u.window_end
       FOR UPDATE;
    IF FOUND AND v_cur_used::bigint + v_amount > "limit" THEN
      allowed := false;
      used := v_cur_used;
      remaining := greatest(0, "limit" - used);
      RETURN;
    END IF;
  END IF;
  allowed := NULL;
  used := NULL;
  "limit" := NULL;
  resets_at := NULL;

  -- The full path. The counter row's lock comes first; first use creates the subject (default
  -- plan) and a counter with nothing used and an empty window, so that there is a row to lock (a
  -- concurrent first use is absorbed by ON CONFLICT, and then both queue on the lock).
  PERFORM 1 FROM sluice.quota_usage u WHERE u.subject = $1 AND u.quota = $2 FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO sluice.subject (subject) VALUES ($1) ON CONFLICT (subject) DO NOTHING;
    INSERT INTO sluice.quota_usage AS u (subject, quota, window_start, window_end, used, updated_at)
    VALUES ($1, $2, v_now, v_now, 0, v_now)
    ON CONFLICT (subject, quota) DO NOTHING;
    PERFORM 1 FROM sluice.quota_usage u WHERE u.subject = $1 AND u.quota = $2 FOR UPDATE;
  END IF;

  -- The plan and the configuration version, read in one snapshot under the counter's lock: a
  -- change committed after this read unlabels the row again (its trigger waits for this lock, or
  -- the version moves on), so the label written below is never newer than the limit it vouches for.
  FOR v_attempt IN 1..2 LOOP
    SELECT coalesce(o.allowance, pq.allowance), pq.window_unit, pq.time_zone, g.version
      INTO v_limit, v_unit, v_tz, v_version
      FROM sluice.subject s
      JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = $2
      LEFT JOIN sluice.subject_quota_override o ON o.subject = s.subject AND o.quota = $2
     CROSS JOIN sluice.quota_config_version g
     WHERE s.subject = $1;
    EXIT WHEN FOUND;
    IF v_attempt = 2 THEN
      RAISE EXCEPTION 'quota "%" is not defined for the plan of subject "%"', $2, $1
        USING ERRCODE = 'SLQ01';
    END IF;
    -- A counter whose subject was deleted: the subject comes back on the default plan.
    INSERT INTO sluice.subject (subject) VALUES ($1) ON CONFLICT (subject) DO NOTHING;
  END LOOP;

  SELECT w.window_start, w.window_end INTO v_ws, v_we
    FROM sluice.quota_window(v_unit, v_tz, v_now) w;

  IF $4 IS NOT NULL AND v_ledger IS NULL THEN
    -- A retry of a recorded request id, under the counter's lock: answered from its row, or
    -- charged again if it was refunded (a concurrent retry waits on the counter lock and then
    -- finds refunded_at cleared, answering what this one decided).
    SELECT l.ctid, l.allowed, l.used_after, l.limit_at, l.window_end, l.refunded_at
      INTO v_ledger, allowed, used, "limit", resets_at, v_refunded
      FROM sluice.quota_ledger l
     WHERE l.subject = $1 AND l.quota = $2 AND l.request_id = $4;
    IF v_refunded IS NULL THEN
      remaining := greatest(0, "limit" - used);
      RETURN;
    END IF;
  END IF;

  SELECT c.counter_start, c.counter_end, c.used INTO v_cws, v_end, v_used
    FROM sluice.quota_counter($1, $2, v_ws, v_we) c;
  allowed := v_amount <= v_limit AND v_used::bigint + v_amount <= v_limit;
  IF allowed THEN
    v_used := v_used + v_amount;
  END IF;
  -- The row always leaves this path in its current window and labelled when that window is the
  -- plan's, so that the next consume (a refusal too) takes the fast path. A refusal does not
  -- count as a change (updated_at is the time units were last counted or given back).
  v_current := v_cws = v_ws AND v_end = v_we;
  PERFORM sluice.quota_keep_window($1, $2, v_cws);
  UPDATE sluice.quota_usage u
     SET window_start = v_cws, window_end = v_end, used = v_used,
         updated_at = CASE WHEN allowed THEN v_now ELSE u.updated_at END,
         window_unit = CASE WHEN v_current THEN v_unit END,
         time_zone = CASE WHEN v_current THEN v_tz END,
         lim = v_limit,
         config_version = CASE WHEN v_current THEN v_version END
   WHERE u.subject = $1 AND u.quota = $2;
  used := v_used;
  resets_at := v_end;
  "limit" := v_limit;
  remaining := greatest(0, v_limit - v_used);

  IF v_ledger IS NOT NULL THEN
    UPDATE sluice.quota_ledger l
       SET allowed = @FN@.allowed, used_after = @FN@.used, limit_at = v_limit,
           window_start = v_cws, window_end = @FN@.resets_at, consumed_at = v_now,
           refunded_at = NULL
     WHERE l.ctid = v_ledger;
  END IF;
END
$body$;
BEGIN
  EXECUTE 'CREATE OR REPLACE FUNCTION sluice.consume_quota_at('
    || ' subject text, quota text, amount integer, request_id text, at timestamptz,'
    || ' OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,'
    || ' OUT resets_at timestamptz)'
    || ' LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp'
    || ' SET enable_seqscan = off SET jit = off AS '
    || quote_literal(replace(replace(body, '@NOW@', '$5'), '@FN@', 'consume_quota_at'));
  EXECUTE 'CREATE OR REPLACE FUNCTION sluice.consume_quota('
    || ' subject text, quota text, amount integer DEFAULT 1, request_id text DEFAULT NULL,'
    || ' OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,'
    || ' OUT resets_at timestamptz)'
    || ' LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp'
    || ' SET enable_seqscan = off SET jit = off AS '
    || quote_literal(replace(replace(body, '@NOW@', 'clock_timestamp()'), '@FN@',
                             'consume_quota'));
END
$do$;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota_at(text, text, integer, text, timestamptz)
  FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota(text, text, integer, text) FROM PUBLIC;

-- The batch (V7) records every request id's ledger row before it locks any counter.
CREATE OR REPLACE FUNCTION sluice.consume_quota_all_at(
    subjects text[], quotas text[], amounts integer[], request_ids text[], at timestamptz)
  RETURNS TABLE (allowed boolean, used integer, "limit" integer, remaining integer,
                 resets_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  n           integer := coalesce(cardinality($1), 0);
  r           record;
  d           record;
  a_allowed   boolean[] := array_fill(NULL::boolean, ARRAY[n]);
  a_used      integer[] := array_fill(NULL::integer, ARRAY[n]);
  a_limit     integer[] := array_fill(NULL::integer, ARRAY[n]);
  a_remaining integer[] := array_fill(NULL::integer, ARRAY[n]);
  a_resets    timestamptz[] := array_fill(NULL::timestamptz, ARRAY[n]);
BEGIN
  IF $1 IS NULL THEN
    RAISE EXCEPTION 'subjects must not be null' USING ERRCODE = '22023';
  END IF;
  IF $2 IS NULL OR cardinality($2) NOT IN (1, n) THEN
    RAISE EXCEPTION 'quotas must have 1 or % elements but had %', n, coalesce(cardinality($2), 0)
      USING ERRCODE = '22023';
  END IF;
  IF $3 IS NOT NULL AND cardinality($3) <> n THEN
    RAISE EXCEPTION 'amounts must be null or have % elements but had %', n, cardinality($3)
      USING ERRCODE = '22023';
  END IF;
  IF $4 IS NOT NULL AND cardinality($4) <> n THEN
    RAISE EXCEPTION 'request_ids must be null or have % elements but had %', n, cardinality($4)
      USING ERRCODE = '22023';
  END IF;
  -- Every request id's ledger row first, in key order, before any counter is locked (V8's lock
  -- order; see consume_quota_at). Invalid elements are left to the loop, which names them.
  INSERT INTO sluice.quota_ledger (subject, quota, request_id, amount, consumed_at)
  SELECT y.subject, y.quota, y.request_id, y.amount, $5
    FROM (SELECT x.subject, CASE WHEN cardinality($2) = 1 THEN $2[1] ELSE $2[x.ord] END AS quota,
                 $4[x.ord] AS request_id, coalesce($3[x.ord], 1) AS amount
            FROM unnest($1) WITH ORDINALITY AS x(subject, ord)) y
   WHERE y.request_id IS NOT NULL AND y.subject <> '' AND y.quota <> '' AND y.amount >= 1
     AND $5 IS NOT NULL
   ORDER BY y.subject, y.quota, y.request_id
  ON CONFLICT (subject, quota, request_id) DO NOTHING;
  FOR r IN
    SELECT x.ord::integer AS ord, x.subject,
           CASE WHEN cardinality($2) = 1 THEN $2[1] ELSE $2[x.ord] END AS quota
      FROM unnest($1) WITH ORDINALITY AS x(subject, ord)
     ORDER BY 2, 3, 1
  LOOP
    SELECT * INTO d
      FROM sluice.consume_quota_at(r.subject, r.quota, coalesce($3[r.ord], 1), $4[r.ord], $5);
    a_allowed[r.ord] := d.allowed;
    a_used[r.ord] := d.used;
    a_limit[r.ord] := d."limit";
    a_remaining[r.ord] := d.remaining;
    a_resets[r.ord] := d.resets_at;
  END LOOP;
  RETURN QUERY
    SELECT x.allowed, x.used, x."limit", x.remaining, x.resets_at
      FROM unnest(a_allowed, a_used, a_limit, a_remaining, a_resets)
           WITH ORDINALITY AS x(allowed, used, "limit", remaining, resets_at, ord)
     ORDER BY x.ord;
END
$$;
REVOKE EXECUTE ON FUNCTION
  sluice.consume_quota_all_at(text[], text[], integer[], text[], timestamptz) FROM PUBLIC;

-- Refund (V7) keeping the label when the counter's window does not move, clearing it otherwise;
-- its rows found by key or ctid whatever plan is cached (see consume).
CREATE OR REPLACE FUNCTION sluice.refund_quota_at(
    subject text, quota text, request_id text, at timestamptz)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
  SET enable_seqscan = off
  SET jit = off
AS $$
#variable_conflict use_column
DECLARE
  v_now       timestamptz := $4;
  v_ledger    tid;
  v_amount    integer;
  v_ledger_ws timestamptz;
  v_consumed  timestamptz;
  v_unit      text;
  v_tz        text;
  v_ws        timestamptz;
  v_we        timestamptz;
  v_cws       timestamptz;
  v_cwe       timestamptz;
  v_used      integer;
BEGIN
  IF $3 IS NULL THEN
    RETURN false;
  END IF;
  IF v_now IS NULL THEN
    RAISE EXCEPTION 'at must not be null' USING ERRCODE = '22023';
  END IF;
  PERFORM 1 FROM sluice.quota_usage u WHERE u.subject = $1 AND u.quota = $2 FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT l.ctid, l.amount, l.window_start, l.consumed_at
    INTO v_ledger, v_amount, v_ledger_ws, v_consumed
    FROM sluice.quota_ledger l
   WHERE l.subject = $1 AND l.quota = $2 AND l.request_id = $3
     AND l.allowed AND l.refunded_at IS NULL
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT pq.window_unit, pq.time_zone INTO v_unit, v_tz
    FROM sluice.subject s
    JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = $2
   WHERE s.subject = $1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quota "%" is not defined for the plan of subject "%"', $2, $1
      USING ERRCODE = 'SLQ01';
  END IF;
  SELECT w.window_start, w.window_end INTO v_ws, v_we
    FROM sluice.quota_window(v_unit, v_tz, v_now) w;
  SELECT c.counter_start, c.counter_end, c.used INTO v_cws, v_cwe, v_used
    FROM sluice.quota_counter($1, $2, v_ws, v_we) c;
  IF v_ledger_ws IS DISTINCT FROM v_cws AND NOT (v_consumed >= v_cws AND v_consumed < v_cwe) THEN
    RETURN false;
  END IF;
  PERFORM sluice.quota_keep_window($1, $2, v_cws);
  UPDATE sluice.quota_usage u
     SET window_start = v_cws, window_end = v_cwe, used = greatest(0, v_used - v_amount),
         updated_at = v_now,
         window_unit = CASE WHEN v_cws = v_ws AND v_cwe = v_we THEN v_unit END,
         time_zone = CASE WHEN v_cws = v_ws AND v_cwe = v_we THEN v_tz END,
         config_version = CASE WHEN u.window_start = v_cws AND u.window_end = v_cwe
                               THEN u.config_version END
   WHERE u.subject = $1 AND u.quota = $2;
  UPDATE sluice.quota_ledger l SET refunded_at = v_now WHERE l.ctid = v_ledger;
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.refund_quota_at(text, text, text, timestamptz) FROM PUBLIC;

-- reset_expired_quota_windows (V7): a counter it moves keeps its window's usage as the other
-- writers do, and is unlabelled (its next consume reads the plan and labels it again). Kept
-- windows older than 32 days are deleted by the counter's next move or by cleanup_old_sessions.
CREATE OR REPLACE FUNCTION sluice.reset_expired_quota_windows_at(at timestamptz)
  RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  WITH plan_window AS (
    SELECT pq.plan, pq.quota, pq.window_unit, pq.time_zone, w.window_start, w.window_end
      FROM sluice.plan_quota pq
     CROSS JOIN LATERAL sluice.quota_window(pq.window_unit, pq.time_zone, $1) w),
  stale AS (
    SELECT u.subject, u.quota, u.window_start AS old_start, u.window_end AS old_end,
           u.used AS old_used, u.updated_at AS old_changed, c.counter_start, c.counter_end, c.used,
           pw.window_unit, pw.time_zone,
           c.counter_start = pw.window_start AND c.counter_end = pw.window_end AS current
      FROM sluice.quota_usage u
      JOIN sluice.subject s ON s.subject = u.subject
      JOIN plan_window pw ON pw.plan = s.plan AND pw.quota = u.quota
     CROSS JOIN LATERAL sluice.quota_counter(u.subject, u.quota, pw.window_start, pw.window_end) c
     WHERE NOT (u.window_start = pw.window_start AND u.window_end = pw.window_end)
       AND u.window_start < pw.window_end),
  kept AS (
    INSERT INTO sluice.quota_window_usage (subject, quota, window_start, window_end, used, last_at)
    SELECT stale.subject, stale.quota, stale.old_start, stale.old_end, stale.old_used,
           stale.old_changed
      FROM stale
     WHERE stale.old_used > 0 AND stale.old_start <> stale.counter_start
       AND NOT sluice.quota_window_carried(stale.old_start, stale.old_end, stale.old_changed,
                                           stale.counter_start)
    ON CONFLICT (subject, quota, window_start) DO NOTHING),
  moved AS (
    UPDATE sluice.quota_usage u
       SET used = stale.used, window_start = stale.counter_start,
           window_end = stale.counter_end, updated_at = $1,
           window_unit = CASE WHEN stale.current THEN stale.window_unit END,
           time_zone = CASE WHEN stale.current THEN stale.time_zone END,
           config_version = NULL
      FROM stale
     WHERE u.subject = stale.subject AND u.quota = stale.quota
       AND u.window_start = stale.old_start AND u.window_end = stale.old_end
       AND u.used = stale.old_used
    RETURNING 1)
  SELECT count(*)::integer FROM moved
$$;
REVOKE EXECUTE ON FUNCTION sluice.reset_expired_quota_windows_at(timestamptz) FROM PUBLIC;

-- cleanup_old_sessions (V4) also forgets kept windows (V8) that ended more than the retention,
-- and at least 32 days, ago (not counted in its answer).
CREATE OR REPLACE FUNCTION sluice.cleanup_old_sessions(retention interval DEFAULT interval '7 days')
  RETURNS TABLE (ledger_rows_deleted bigint, quota_rows_deleted bigint,
                 rate_limit_keys_deleted bigint)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_now timestamptz := clock_timestamp();
BEGIN
  IF $1 IS NULL OR $1 < interval '0' THEN
    RAISE EXCEPTION 'retention must be >= 0 but was %', $1 USING ERRCODE = '22023';
  END IF;
  DELETE FROM sluice.quota_ledger l
   WHERE l.consumed_at < v_now - $1 AND (l.window_end IS NULL OR l.window_end <= v_now);
  GET DIAGNOSTICS ledger_rows_deleted = ROW_COUNT;
  DELETE FROM sluice.quota_usage u WHERE u.window_end < v_now - $1;
  GET DIAGNOSTICS quota_rows_deleted = ROW_COUNT;
  DELETE FROM sluice.quota_window_usage h
   WHERE h.window_end < v_now - greatest($1, interval '32 days');
  DELETE FROM sluice.rate_limit_state r WHERE r.expires_at <= v_now;
  GET DIAGNOSTICS rate_limit_keys_deleted = ROW_COUNT;
  RETURN NEXT;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.cleanup_old_sessions(interval) FROM PUBLIC;

-- Supabase (and any database with the same roles): as in V4, for the functions created here.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sluice FROM %I', r);
    END IF;
  END LOOP;
END
$$;
