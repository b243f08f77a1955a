-- Sluice quota functions, third version: one statement per consume in the common case, a batch
-- consume, and one lock order for every writer of a counter. Idempotent. Keeps every rule of V6
-- (windows from the current plan, carry-over on a unit change, daylight-saving windows, request ids
-- that answer the same, refunded ids that charge again once, the database clock for applications).
--
-- Grants an application role needs (replace app_role):
--   GRANT USAGE ON SCHEMA sluice TO app_role;
--   GRANT EXECUTE ON FUNCTION
--     sluice.consume_quota(text, text, integer, text),
--     sluice.consume_quota_all(text[], text[], integer[], text[]),
--     sluice.check_quota(text, text, integer),
--     sluice.refund_quota(text, text, text),
--     sluice.quota_status(text[], text),
--     sluice.reset_expired_quota_windows(),
--     sluice.rate_limit_acquire(text, text, bigint, bigint) TO app_role;
-- A role that may execute consume_quota is granted consume_quota_all by this script. The "_at"
-- twins (consume_quota_at, consume_quota_all_at, ...) take the time as an argument: tests and
-- maintenance only, never grant them to applications.
--
-- Why consume changed: V6 ran up to seven statements per consume (plan, window, upsert, ledger,
-- each planned and executed on its own, through a wrapper function). Here a consume whose
-- counter is already in the current window is one statement: the guarded UPDATE of the counter
-- row joined to the plan, and the ledger row written from what it returns. A refusal in the
-- current window takes one more statement (a locked read of the newest figures); first use, a
-- window to move, a repeated request id or a refusal with a request id take the V6 path inside
-- the same call.
--
-- The label: a counter row now records the window unit and time zone its window was computed
-- with, set only when the row's window is exactly sluice.quota_window(unit, time_zone, at). Windows
-- of one unit and zone tile time without gaps or overlaps, so while the plan still has that unit
-- and zone, "at < window_end" proves the stored window is the current one (or a later one, for a
-- clock that stepped back, which V6 also counts into) without computing the window. Any other row
-- (no label, a changed unit or zone, an ended window) takes the V6 path, which relabels it.
-- Every function that moves a counter's window (consume, refund, reset_expired_quota_windows) keeps
-- the label true, or clears it.
--
-- Lock order: every writer takes the counter row's lock first, then the ledger row's. Consume
-- (both paths) and refund do, so concurrent consumes, retries and refunds of one subject's quota
-- queue on the counter row and cannot deadlock on each other.

ALTER TABLE sluice.quota_usage
  ADD COLUMN IF NOT EXISTS window_unit text,
  ADD COLUMN IF NOT EXISTS time_zone text;

-- Consume, as the test/maintenance twin (time "at") and as what applications call (the database
-- clock). Both are made from one body below, so they cannot drift apart; they are two functions
-- rather than a wrapper and its callee because a nested SECURITY DEFINER call (search_path saved
-- and restored twice, a second statement) costs a consume about a tenth of its time.
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
  v_ws         timestamptz;
  v_we         timestamptz;
  v_ledger_id  bigint;
  v_refunded   timestamptz;
  v_used       integer;
  v_cws        timestamptz;
  v_end        timestamptz;
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

  -- The common case, one statement: the guarded UPDATE of the counter row, joined to the plan,
  -- counts the units when the row's labelled window is still the plan's and they fit; the
  -- ledger row is written from what it returns. The row lock is taken by the UPDATE itself (it
  -- waits for a concurrent consume and re-checks the guard on the newest row version, as a raw
  -- guarded UPDATE does), so the lock is held for as short a time as the statement allows.
  IF $4 IS NULL THEN
    WITH c AS (
      UPDATE sluice.quota_usage u SET used = u.used + v_amount, updated_at = v_now
        FROM sluice.subject s
        JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = $2
        LEFT JOIN sluice.subject_quota_override o ON o.subject = s.subject AND o.quota = $2
       WHERE u.subject = $1 AND u.quota = $2 AND s.subject = $1
         AND u.window_unit = pq.window_unit AND u.time_zone = pq.time_zone
         AND v_now < u.window_end
         AND u.used::bigint + v_amount <= coalesce(o.allowance, pq.allowance)
      RETURNING u.used, u.window_start, u.window_end, coalesce(o.allowance, pq.allowance) AS lim),
    l AS (
      INSERT INTO sluice.quota_ledger
        (subject, quota, amount, allowed, used_after, limit_at, window_start, window_end,
         consumed_at)
      SELECT $1, $2, v_amount, true, c.used, c.lim, c.window_start, c.window_end, v_now FROM c)
    SELECT c.used, c.lim, c.window_end INTO used, "limit", resets_at FROM c;
    IF FOUND THEN
      allowed := true;
      remaining := greatest(0, "limit" - used);
      RETURN;
    END IF;
    -- Not counted: refused in the current window (answered from the newest row version, locked),
    -- or the full path is needed.
    SELECT u.used, coalesce(o.allowance, pq.allowance), u.window_end
      INTO v_cur_used, "limit", resets_at
      FROM sluice.quota_usage u
      JOIN sluice.subject s ON s.subject = u.subject
      JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = u.quota
      LEFT JOIN sluice.subject_quota_override o ON o.subject = u.subject AND o.quota = u.quota
     WHERE u.subject = $1 AND u.quota = $2
       AND u.window_unit = pq.window_unit AND u.time_zone = pq.time_zone
       AND v_now < u.window_end
       FOR UPDATE OF u;
    IF FOUND AND v_cur_used::bigint + v_amount > "limit" THEN
      allowed := false;
      used := v_cur_used;
      remaining := greatest(0, "limit" - used);
      RETURN;
    END IF;
  ELSE
    -- The same with the request id in the ledger row. A request id already in the ledger (a
    -- retry) conflicts, and then the units this statement counted are taken back below before
    -- anyone can see them (the row lock is still held): a retry never counts twice.
    WITH c AS (
      UPDATE sluice.quota_usage u SET used = u.used + v_amount, updated_at = v_now
        FROM sluice.subject s
        JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = $2
        LEFT JOIN sluice.subject_quota_override o ON o.subject = s.subject AND o.quota = $2
       WHERE u.subject = $1 AND u.quota = $2 AND s.subject = $1
         AND u.window_unit = pq.window_unit AND u.time_zone = pq.time_zone
         AND v_now < u.window_end
         AND u.used::bigint + v_amount <= coalesce(o.allowance, pq.allowance)
      RETURNING u.used, u.window_start, u.window_end, coalesce(o.allowance, pq.allowance) AS lim),
    l AS (
      INSERT INTO sluice.quota_ledger
        (subject, quota, request_id, amount, allowed, used_after, limit_at, window_start,
         window_end, consumed_at)
      SELECT $1, $2, $4, v_amount, true, c.used, c.lim, c.window_start, c.window_end, v_now
        FROM c
      ON CONFLICT (subject, quota, request_id) DO NOTHING
      RETURNING 1)
    SELECT c.used, c.lim, c.window_end, (SELECT count(*) FROM l) = 1
      INTO used, "limit", resets_at, allowed
      FROM c;
    IF allowed THEN
      remaining := greatest(0, "limit" - used);
      RETURN;
    ELSIF FOUND THEN
      UPDATE sluice.quota_usage u SET used = u.used - v_amount
       WHERE u.subject = $1 AND u.quota = $2;
    END IF;
    allowed := NULL;
    used := NULL;
    "limit" := NULL;
    resets_at := NULL;
    -- A retry, a refusal (recorded in the ledger below) or the full path.
  END IF;

  -- The rest is V6's consume, under the counter row's lock taken first.
  SELECT coalesce(o.allowance, pq.allowance), pq.window_unit, pq.time_zone
    INTO v_limit, v_unit, v_tz
    FROM sluice.subject s
    JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = $2
    LEFT JOIN sluice.subject_quota_override o ON o.subject = s.subject AND o.quota = $2
   WHERE s.subject = $1;
  IF NOT FOUND THEN
    -- First use creates the account; a concurrent first use is absorbed by ON CONFLICT.
    INSERT INTO sluice.subject (subject) VALUES ($1) ON CONFLICT (subject) DO NOTHING;
    SELECT coalesce(o.allowance, pq.allowance), pq.window_unit, pq.time_zone
      INTO v_limit, v_unit, v_tz
      FROM sluice.subject s
      JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = $2
      LEFT JOIN sluice.subject_quota_override o ON o.subject = s.subject AND o.quota = $2
     WHERE s.subject = $1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'quota "%" is not defined for the plan of subject "%"', $2, $1
        USING ERRCODE = 'SLQ01';
    END IF;
  END IF;

  SELECT w.window_start, w.window_end INTO v_ws, v_we
    FROM sluice.quota_window(v_unit, v_tz, v_now) w;

  -- First use creates the counter (nothing used, current window) so that there is a row to lock;
  -- a concurrent first use is absorbed by ON CONFLICT, and then both queue on the lock.
  INSERT INTO sluice.quota_usage AS u
    (subject, quota, window_start, window_end, used, updated_at, window_unit, time_zone)
  VALUES ($1, $2, v_ws, v_we, 0, v_now, v_unit, v_tz)
  ON CONFLICT (subject, quota) DO NOTHING;
  PERFORM 1 FROM sluice.quota_usage u WHERE u.subject = $1 AND u.quota = $2 FOR UPDATE;

  IF $4 IS NOT NULL THEN
    INSERT INTO sluice.quota_ledger (subject, quota, request_id, amount, consumed_at)
    VALUES ($1, $2, $4, v_amount, v_now)
    ON CONFLICT (subject, quota, request_id) DO NOTHING
    RETURNING id INTO v_ledger_id;
    IF v_ledger_id IS NULL THEN
      SELECT l.id, l.allowed, l.used_after, l.limit_at, l.window_end, l.refunded_at
        INTO v_ledger_id, allowed, used, "limit", resets_at, v_refunded
        FROM sluice.quota_ledger l
       WHERE l.subject = $1 AND l.quota = $2 AND l.request_id = $4;
      IF v_refunded IS NULL THEN
        remaining := greatest(0, "limit" - used);
        RETURN;
      END IF;
      -- Refunded: this retry charges again. A concurrent retry waits on the counter lock and then
      -- finds refunded_at cleared, answering what this one decided.
    END IF;
  END IF;

  SELECT c.counter_start, c.counter_end, c.used INTO v_cws, v_end, v_used
    FROM sluice.quota_counter($1, $2, v_ws, v_we) c;
  allowed := v_amount <= v_limit AND v_used::bigint + v_amount <= v_limit;
  IF allowed THEN
    v_used := v_used + v_amount;
    UPDATE sluice.quota_usage u
       SET window_start = v_cws, window_end = v_end, used = v_used, updated_at = v_now,
           window_unit = CASE WHEN v_cws = v_ws AND v_end = v_we THEN v_unit END,
           time_zone = CASE WHEN v_cws = v_ws AND v_end = v_we THEN v_tz END
     WHERE u.subject = $1 AND u.quota = $2;
  END IF;
  used := v_used;
  resets_at := v_end;
  "limit" := v_limit;
  remaining := greatest(0, v_limit - v_used);

  IF v_ledger_id IS NOT NULL THEN
    UPDATE sluice.quota_ledger l
       SET allowed = @FN@.allowed, used_after = @FN@.used, limit_at = v_limit,
           window_start = v_cws, window_end = @FN@.resets_at, consumed_at = v_now,
           refunded_at = NULL
     WHERE l.id = v_ledger_id;
  ELSIF allowed THEN
    INSERT INTO sluice.quota_ledger
      (subject, quota, amount, allowed, used_after, limit_at, window_start, window_end, consumed_at)
    VALUES ($1, $2, v_amount, true, v_used, v_limit, v_cws, v_end, v_now);
  END IF;
END
$body$;
BEGIN
  EXECUTE 'CREATE OR REPLACE FUNCTION sluice.consume_quota_at('
    || ' subject text, quota text, amount integer, request_id text, at timestamptz,'
    || ' OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,'
    || ' OUT resets_at timestamptz)'
    || ' LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS '
    || quote_literal(replace(replace(body, '@NOW@', '$5'), '@FN@', 'consume_quota_at'));
  EXECUTE 'CREATE OR REPLACE FUNCTION sluice.consume_quota('
    || ' subject text, quota text, amount integer DEFAULT 1, request_id text DEFAULT NULL,'
    || ' OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,'
    || ' OUT resets_at timestamptz)'
    || ' LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS '
    -- clock_timestamp() rather than now(): a consume inside a long transaction still lands in
    -- the window of the moment it runs.
    || quote_literal(replace(replace(body, '@NOW@', 'clock_timestamp()'), '@FN@',
                             'consume_quota'));
END
$do$;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota_at(text, text, integer, text, timestamptz)
  FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota(text, text, integer, text) FROM PUBLIC;

-- Many consumes in one call and one transaction, answered in the order given: element i charges
-- amounts[i] (null: 1) of quotas[i] (or quotas[1] for all when it has one element) for
-- subjects[i], with request_ids[i] (null: none). Each element is decided exactly as a single
-- consume_quota_at would decide it at that point; the same subject may appear several times (its
-- elements are decided in input order). Elements are processed in the order of (subject, quota)
-- so that two batches holding locks on common counters always take them in the same order and
-- never deadlock. An error in any element (an undefined quota) rolls the whole batch back.
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

-- What applications call: the batch on the database clock (one reading for the whole batch).
CREATE OR REPLACE FUNCTION sluice.consume_quota_all(
    subjects text[], quotas text[], amounts integer[] DEFAULT NULL,
    request_ids text[] DEFAULT NULL)
  RETURNS TABLE (allowed boolean, used integer, "limit" integer, remaining integer,
                 resets_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN QUERY SELECT * FROM sluice.consume_quota_all_at($1, $2, $3, $4, clock_timestamp());
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota_all(text[], text[], integer[], text[])
  FROM PUBLIC;

-- Refund (V6) with the lock order above (counter first) and the label kept true.
CREATE OR REPLACE FUNCTION sluice.refund_quota_at(
    subject text, quota text, request_id text, at timestamptz)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_now       timestamptz := $4;
  v_id        bigint;
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
  SELECT l.id, l.amount, l.window_start, l.consumed_at
    INTO v_id, v_amount, v_ledger_ws, v_consumed
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
  UPDATE sluice.quota_usage u
     SET window_start = v_cws, window_end = v_cwe, used = greatest(0, v_used - v_amount),
         updated_at = v_now,
         window_unit = CASE WHEN v_cws = v_ws AND v_cwe = v_we THEN v_unit END,
         time_zone = CASE WHEN v_cws = v_ws AND v_cwe = v_we THEN v_tz END
   WHERE u.subject = $1 AND u.quota = $2;
  UPDATE sluice.quota_ledger l SET refunded_at = v_now WHERE l.id = v_id;
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.refund_quota_at(text, text, text, timestamptz) FROM PUBLIC;

-- reset_expired_quota_windows (V6) with the label kept true.
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
           u.used AS old_used, c.counter_start, c.counter_end, c.used,
           pw.window_unit, pw.time_zone,
           c.counter_start = pw.window_start AND c.counter_end = pw.window_end AS current
      FROM sluice.quota_usage u
      JOIN sluice.subject s ON s.subject = u.subject
      JOIN plan_window pw ON pw.plan = s.plan AND pw.quota = u.quota
     CROSS JOIN LATERAL sluice.quota_counter(u.subject, u.quota, pw.window_start, pw.window_end) c
     WHERE NOT (u.window_start = pw.window_start AND u.window_end = pw.window_end)
       AND u.window_start < pw.window_end),
  moved AS (
    UPDATE sluice.quota_usage u
       SET used = stale.used, window_start = stale.counter_start,
           window_end = stale.counter_end, updated_at = $1,
           window_unit = CASE WHEN stale.current THEN stale.window_unit END,
           time_zone = CASE WHEN stale.current THEN stale.time_zone END
      FROM stale
     WHERE u.subject = stale.subject AND u.quota = stale.quota
       AND u.window_start = stale.old_start AND u.window_end = stale.old_end
       AND u.used = stale.old_used
    RETURNING 1)
  SELECT count(*)::integer FROM moved
$$;
REVOKE EXECUTE ON FUNCTION sluice.reset_expired_quota_windows_at(timestamptz) FROM PUBLIC;

-- A role that may consume may consume in batches (as V6 carried grants to its replacements).
DO $$
DECLARE
  g record;
BEGIN
  FOR g IN
    SELECT r.rolname
      FROM pg_proc p
     CROSS JOIN LATERAL aclexplode(p.proacl) a
      JOIN pg_roles r ON r.oid = a.grantee
     WHERE p.oid = 'sluice.consume_quota(text, text, integer, text)'::regprocedure
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
  LOOP
    EXECUTE format('GRANT EXECUTE ON FUNCTION'
                   ' sluice.consume_quota_all(text[], text[], integer[], text[]) TO %I',
                   g.rolname);
  END LOOP;
END
$$;

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
