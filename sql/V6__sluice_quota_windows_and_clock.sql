-- Sluice quota functions, second version: a dry-run check, windows that are always the current
-- plan's, refunded request ids that charge again when retried, the database clock for everything
-- an application may execute, and calendar windows that stay contiguous across daylight-saving
-- changes. Idempotent. Replaces the functions of V2 and V3 that took the time from the caller.
--
-- Grants an application role needs (replace app_role):
--   GRANT USAGE ON SCHEMA sluice TO app_role;
--   GRANT EXECUTE ON FUNCTION
--     sluice.consume_quota(text, text, integer, text),
--     sluice.check_quota(text, text, integer),
--     sluice.refund_quota(text, text, text),
--     sluice.quota_status(text[], text),
--     sluice.reset_expired_quota_windows(),
--     sluice.rate_limit_acquire(text, text, bigint, bigint) TO app_role;
-- A role that held EXECUTE on a V2/V3 function keeps it on its replacement (and on check_quota
-- when it could consume): this script carries the grants over before dropping the old functions.
--
-- Time: the functions above read the database clock and take no time argument, so an
-- application role cannot charge a future window (or a past one). Each has an "_at" twin taking
-- the time as its last argument, for tests and maintenance; never grant those to applications.
--
-- Windows: a counter always belongs to the window that the subject's current plan and the current
-- time give (sluice.quota_window). A stored window that has ended starts again from zero. A stored
-- window that overlaps the current one but is not it (the plan's window unit was changed, say hour
-- to day) carries over what the ledger shows was consumed, and not refunded, inside the current
-- window: never more than was really used there, and less only if cleanup_old_sessions already
-- deleted those ledger rows. consume, check, refund, quota_status and reset_expired_quota_windows
-- all decide the window this way.

-- The calendar window containing "at": the longest span around "at" during which the local clock
-- of time_zone shows the same hour (day, ISO week, month). Windows are contiguous and never
-- overlap in absolute time. A daylight-saving day has 23 or 25 hours; at a fall-back the repeated
-- local hour belongs to the hour it repeats, so that "hour" lasts two (Lord Howe: one and a half);
-- at a spring-forward the hour after the jump starts at the jump. "minute" windows are minutes.
--
-- PostgreSQL turns a local time that occurs twice into its later instant, and one that does not
-- occur into the instant of the jump: the window starts at the earlier instant when the clock was
-- already inside the unit just before the later one, and ends at the first instant after "at"
-- when the clock shows the next unit. No transition moves a clock by three hours or more.
--
-- Not SECURITY DEFINER and no SET clause (a SET would cost every consume a configuration
-- save/restore): it reads no table, only its callers run it, and they fix the search_path.
CREATE OR REPLACE FUNCTION sluice.quota_window(
    unit text, time_zone text, at timestamptz,
    OUT window_start timestamptz, OUT window_end timestamptz)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
DECLARE
  v_unit   timestamp := pg_catalog.date_trunc(unit, at AT TIME ZONE time_zone);
  v_next   timestamp := v_unit + pg_catalog.concat('1 ', unit)::interval;
  v_later  timestamptz;
  v_earlier timestamptz;
BEGIN
  v_later := v_unit AT TIME ZONE time_zone;
  window_start := v_later;
  IF pg_catalog.date_trunc(unit, (v_later - interval '1 microsecond') AT TIME ZONE time_zone)
     = v_unit THEN
    -- The local start occurs twice and the clock already showed this unit before the later one.
    v_earlier := (v_unit - ((v_later - interval '3 hours') AT TIME ZONE time_zone
                            - (v_later - interval '3 hours') AT TIME ZONE 'UTC'))
                 AT TIME ZONE 'UTC';
    IF v_earlier < v_later AND v_earlier AT TIME ZONE time_zone = v_unit THEN
      window_start := v_earlier;
    END IF;
  END IF;
  v_later := v_next AT TIME ZONE time_zone;
  window_end := v_later;
  v_earlier := (v_next - ((v_later - interval '3 hours') AT TIME ZONE time_zone
                          - (v_later - interval '3 hours') AT TIME ZONE 'UTC'))
               AT TIME ZONE 'UTC';
  IF v_earlier < v_later AND v_earlier > at
     AND pg_catalog.date_trunc(unit, v_earlier AT TIME ZONE time_zone) <> v_unit THEN
    window_end := v_earlier;
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_window(text, text, timestamptz) FROM PUBLIC;

-- A subject's counter as it stands for the current window [window_start, window_end): the stored
-- row when it is that window, or a later one (a clock that stepped back never resets a counter);
-- zero when the stored window ended before the current one began; the ledger's unrefunded
-- consumes inside the current window when the stored window overlaps it (the plan's unit
-- changed). Reads only; callers that write lock the counter row first.
CREATE OR REPLACE FUNCTION sluice.quota_counter(
    subject text, quota text, window_start timestamptz, window_end timestamptz,
    OUT counter_start timestamptz, OUT counter_end timestamptz, OUT used integer)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_start timestamptz;
  v_end   timestamptz;
  v_used  integer;
BEGIN
  SELECT u.window_start, u.window_end, u.used INTO v_start, v_end, v_used
    FROM sluice.quota_usage u
   WHERE u.subject = $1 AND u.quota = $2;
  IF FOUND AND ((v_start = $3 AND v_end = $4) OR v_start >= $4) THEN
    counter_start := v_start;
    counter_end := v_end;
    used := v_used;
    RETURN;
  END IF;
  counter_start := $3;
  counter_end := $4;
  IF NOT FOUND OR v_end <= $3 THEN
    used := 0;
  ELSE
    SELECT coalesce(sum(l.amount), 0)::integer INTO used
      FROM sluice.quota_ledger l
     WHERE l.subject = $1 AND l.quota = $2 AND l.allowed AND l.refunded_at IS NULL
       AND l.consumed_at >= $3 AND l.consumed_at < $4;
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_counter(text, text, timestamptz, timestamptz) FROM PUBLIC;

-- The carried-over sum above looks up one subject's ledger rows: index them by subject and quota
-- (this unique index also serves the request-id conflict of consume_quota; rows without a request
-- id never conflict, nulls being distinct).
CREATE UNIQUE INDEX IF NOT EXISTS quota_ledger_subject_request_uq
  ON sluice.quota_ledger (subject, quota, request_id);
DROP INDEX IF EXISTS sluice.quota_ledger_request_uq;

-- Consumes "amount" units at time "at" if they are available in the current window. The test
-- and maintenance twin of consume_quota (which applications call); never grant it to them.
--
-- Atomicity: one guarded upsert on the counter row, INSERT ... ON CONFLICT DO UPDATE ... WHERE
-- used + amount <= limit, as in V2 (PostgreSQL re-evaluates the guard on the newest row version
-- under the row lock, so concurrent consumes never overshoot). The guard also requires the stored
-- window to be the current one; when it is not, the upsert leaves the row locked and unchanged,
-- and the counter is moved to the current window (sluice.quota_counter) in the same transaction.
--
-- With a request_id the call is idempotent: the first call records its answer in the ledger row
-- for (subject, quota, request_id) and every retry answers the same without counting again,
-- unless the consumption was refunded: then the retry is a new charge (recorded on the same row,
-- under its lock, so concurrent retries charge once) or is refused when nothing is left.
CREATE OR REPLACE FUNCTION sluice.consume_quota_at(
    subject text, quota text, amount integer, request_id text, at timestamptz,
    OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,
    OUT resets_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_subject    text        := $1;
  v_quota      text        := $2;
  v_amount     integer     := coalesce($3, 1);
  v_request_id text        := $4;
  v_now        timestamptz := $5;
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
  IF v_subject IS NULL OR v_subject = '' THEN
    RAISE EXCEPTION 'subject must be non-empty' USING ERRCODE = '22023';
  END IF;
  IF v_quota IS NULL OR v_quota = '' THEN
    RAISE EXCEPTION 'quota must be non-empty' USING ERRCODE = '22023';
  END IF;
  IF v_amount < 1 THEN
    RAISE EXCEPTION 'amount must be >= 1 but was %', v_amount USING ERRCODE = '22023';
  END IF;
  IF v_now IS NULL THEN
    RAISE EXCEPTION 'at must not be null' USING ERRCODE = '22023';
  END IF;

  SELECT coalesce(o.allowance, pq.allowance), pq.window_unit, pq.time_zone
    INTO v_limit, v_unit, v_tz
    FROM sluice.subject s
    JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = v_quota
    LEFT JOIN sluice.subject_quota_override o ON o.subject = s.subject AND o.quota = v_quota
   WHERE s.subject = v_subject;
  IF NOT FOUND THEN
    -- First use creates the account; a concurrent first use is absorbed by ON CONFLICT.
    INSERT INTO sluice.subject (subject) VALUES (v_subject) ON CONFLICT (subject) DO NOTHING;
    SELECT coalesce(o.allowance, pq.allowance), pq.window_unit, pq.time_zone
      INTO v_limit, v_unit, v_tz
      FROM sluice.subject s
      JOIN sluice.plan_quota pq ON pq.plan = s.plan AND pq.quota = v_quota
      LEFT JOIN sluice.subject_quota_override o ON o.subject = s.subject AND o.quota = v_quota
     WHERE s.subject = v_subject;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'quota "%" is not defined for the plan of subject "%"', v_quota, v_subject
        USING ERRCODE = 'SLQ01';
    END IF;
  END IF;

  SELECT w.window_start, w.window_end INTO v_ws, v_we
    FROM sluice.quota_window(v_unit, v_tz, v_now) w;

  IF v_request_id IS NOT NULL THEN
    INSERT INTO sluice.quota_ledger (subject, quota, request_id, amount, consumed_at)
    VALUES (v_subject, v_quota, v_request_id, v_amount, v_now)
    ON CONFLICT (subject, quota, request_id) WHERE request_id IS NOT NULL DO NOTHING
    RETURNING id INTO v_ledger_id;
    IF v_ledger_id IS NULL THEN
      SELECT l.id, l.allowed, l.used_after, l.limit_at, l.window_end, l.refunded_at
        INTO v_ledger_id, allowed, used, "limit", resets_at, v_refunded
        FROM sluice.quota_ledger l
       WHERE l.subject = v_subject AND l.quota = v_quota AND l.request_id = v_request_id;
      IF v_refunded IS NOT NULL THEN
        -- Refunded: this retry charges again. The row lock makes a concurrent retry wait here
        -- and then answer what this one decided.
        SELECT l.allowed, l.used_after, l.limit_at, l.window_end, l.refunded_at
          INTO allowed, used, "limit", resets_at, v_refunded
          FROM sluice.quota_ledger l
         WHERE l.id = v_ledger_id
           FOR UPDATE;
      END IF;
      IF v_refunded IS NULL THEN
        remaining := greatest(0, "limit" - used);
        RETURN;
      END IF;
    END IF;
  END IF;

  INSERT INTO sluice.quota_usage AS u (subject, quota, window_start, window_end, used, updated_at)
  SELECT v_subject, v_quota, v_ws, v_we, v_amount, v_now
   WHERE v_amount <= v_limit
  ON CONFLICT (subject, quota) DO UPDATE
     SET used = u.used + EXCLUDED.used,
         updated_at = EXCLUDED.updated_at
   WHERE ((u.window_start = EXCLUDED.window_start AND u.window_end = EXCLUDED.window_end)
          OR u.window_start >= EXCLUDED.window_end)
     AND u.used::bigint + EXCLUDED.used <= v_limit
  RETURNING u.used, u.window_start, u.window_end INTO v_used, v_cws, v_end;

  IF v_used IS NOT NULL THEN
    allowed := true;
  ELSE
    -- Refused, or the stored window is not the current one. When amount <= limit the upsert
    -- found the row and holds its lock, so the counter read here cannot change under us.
    SELECT c.counter_start, c.counter_end, c.used INTO v_cws, v_end, v_used
      FROM sluice.quota_counter(v_subject, v_quota, v_ws, v_we) c;
    allowed := v_amount <= v_limit AND v_used::bigint + v_amount <= v_limit;
    IF allowed THEN
      UPDATE sluice.quota_usage u
         SET window_start = v_cws, window_end = v_end, used = v_used + v_amount,
             updated_at = v_now
       WHERE u.subject = v_subject AND u.quota = v_quota
      RETURNING u.used INTO v_used;
    END IF;
  END IF;
  used := v_used;
  resets_at := v_end;
  "limit" := v_limit;
  remaining := greatest(0, v_limit - v_used);

  -- The ledger records the window the units were really counted in (the counter's, which a
  -- skewed "now" does not move back), so a refund finds it.
  IF v_ledger_id IS NOT NULL THEN
    UPDATE sluice.quota_ledger l
       SET allowed = consume_quota_at.allowed, used_after = consume_quota_at.used,
           limit_at = v_limit, window_start = v_cws, window_end = consume_quota_at.resets_at,
           consumed_at = v_now, refunded_at = NULL
     WHERE l.id = v_ledger_id;
  ELSIF allowed THEN
    INSERT INTO sluice.quota_ledger
      (subject, quota, amount, allowed, used_after, limit_at, window_start, window_end, consumed_at)
    VALUES (v_subject, v_quota, v_amount, true, v_used, v_limit, v_cws, v_end, v_now);
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota_at(text, text, integer, text, timestamptz)
  FROM PUBLIC;

-- What consume_quota_at would answer, without consuming or writing anything: the current used
-- and remaining figures, and whether "amount" more would be granted. A subject without an account
-- is on the default plan "free" with nothing used, as its first consume would be.
CREATE OR REPLACE FUNCTION sluice.check_quota_at(
    subject text, quota text, amount integer, at timestamptz,
    OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,
    OUT resets_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_amount integer := coalesce($3, 1);
  v_limit  integer;
  v_unit   text;
  v_tz     text;
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
  IF $4 IS NULL THEN
    RAISE EXCEPTION 'at must not be null' USING ERRCODE = '22023';
  END IF;
  SELECT coalesce(o.allowance, pq.allowance), pq.window_unit, pq.time_zone
    INTO v_limit, v_unit, v_tz
    FROM (SELECT 1) one
    LEFT JOIN sluice.subject s ON s.subject = $1
    JOIN sluice.plan_quota pq ON pq.plan = coalesce(s.plan, 'free') AND pq.quota = $2
    LEFT JOIN sluice.subject_quota_override o ON o.subject = $1 AND o.quota = $2;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'quota "%" is not defined for the plan of subject "%"', $2, $1
      USING ERRCODE = 'SLQ01';
  END IF;
  SELECT c.used, c.counter_end INTO used, resets_at
    FROM sluice.quota_window(v_unit, v_tz, $4) w
   CROSS JOIN LATERAL sluice.quota_counter($1, $2, w.window_start, w.window_end) c;
  allowed := v_amount <= v_limit AND used::bigint + v_amount <= v_limit;
  "limit" := v_limit;
  remaining := greatest(0, v_limit - used);
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.check_quota_at(text, text, integer, timestamptz) FROM PUBLIC;

-- Gives back, at time "at", a consumption made with request_id whose protected work failed.
-- Idempotent (the ledger row is marked refunded under its row lock); never makes "used"
-- negative; gives back only units still counted in the counter's current window (consumed in it,
-- or carried over into it), never into a later window. Returns whether this call gave units back.
CREATE OR REPLACE FUNCTION sluice.refund_quota_at(
    subject text, quota text, request_id text, at timestamptz)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_now      timestamptz := $4;
  v_id       bigint;
  v_amount   integer;
  v_ledger_ws timestamptz;
  v_consumed timestamptz;
  v_unit     text;
  v_tz       text;
  v_cws      timestamptz;
  v_cwe      timestamptz;
  v_used     integer;
BEGIN
  IF $3 IS NULL THEN
    RETURN false;
  END IF;
  IF v_now IS NULL THEN
    RAISE EXCEPTION 'at must not be null' USING ERRCODE = '22023';
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
  PERFORM 1 FROM sluice.quota_usage u WHERE u.subject = $1 AND u.quota = $2 FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT c.counter_start, c.counter_end, c.used INTO v_cws, v_cwe, v_used
    FROM sluice.quota_window(v_unit, v_tz, v_now) w
   CROSS JOIN LATERAL sluice.quota_counter($1, $2, w.window_start, w.window_end) c;
  IF v_ledger_ws IS DISTINCT FROM v_cws AND NOT (v_consumed >= v_cws AND v_consumed < v_cwe) THEN
    RETURN false;
  END IF;
  UPDATE sluice.quota_usage u
     SET window_start = v_cws, window_end = v_cwe, used = greatest(0, v_used - v_amount),
         updated_at = v_now
   WHERE u.subject = $1 AND u.quota = $2;
  UPDATE sluice.quota_ledger l SET refunded_at = v_now WHERE l.id = v_id;
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.refund_quota_at(text, text, text, timestamptz) FROM PUBLIC;

-- Status of many subjects for one quota at time "at", in the order given. Read-only: a subject
-- with no account is reported on the default plan "free" with nothing used. Subjects whose plan
-- does not define the quota are left out.
CREATE OR REPLACE FUNCTION sluice.quota_status_at(subjects text[], quota text, at timestamptz)
  RETURNS TABLE (subject text, plan text, used integer, "limit" integer, remaining integer,
                 resets_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT x.subject,
         pq.plan,
         c.used,
         coalesce(o.allowance, pq.allowance),
         greatest(0, coalesce(o.allowance, pq.allowance) - c.used),
         c.counter_end
    FROM unnest($1) WITH ORDINALITY AS x(subject, ord)
    LEFT JOIN sluice.subject s ON s.subject = x.subject
    JOIN sluice.plan_quota pq ON pq.plan = coalesce(s.plan, 'free') AND pq.quota = $2
    LEFT JOIN sluice.subject_quota_override o ON o.subject = x.subject AND o.quota = $2
   CROSS JOIN LATERAL sluice.quota_window(pq.window_unit, pq.time_zone, $3) w
   CROSS JOIN LATERAL sluice.quota_counter(x.subject, $2, w.window_start, w.window_end) c
   ORDER BY x.ord
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_status_at(text[], text, timestamptz) FROM PUBLIC;

-- Moves every counter whose stored window is not the current one (ended, or left behind by a
-- change of the plan's window unit) to the current window, with the usage quota_counter gives.
-- consume_quota does the same lazily; this keeps reports and dashboards honest. Returns the
-- number of counters moved. A counter a concurrent call moved first is left to that call.
CREATE OR REPLACE FUNCTION sluice.reset_expired_quota_windows_at(at timestamptz)
  RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  WITH plan_window AS (
    SELECT pq.plan, pq.quota, w.window_start, w.window_end
      FROM sluice.plan_quota pq
     CROSS JOIN LATERAL sluice.quota_window(pq.window_unit, pq.time_zone, $1) w),
  stale AS (
    SELECT u.subject, u.quota, u.window_start AS old_start, u.window_end AS old_end,
           u.used AS old_used, c.counter_start, c.counter_end, c.used
      FROM sluice.quota_usage u
      JOIN sluice.subject s ON s.subject = u.subject
      JOIN plan_window pw ON pw.plan = s.plan AND pw.quota = u.quota
     CROSS JOIN LATERAL sluice.quota_counter(u.subject, u.quota, pw.window_start, pw.window_end) c
     WHERE NOT (u.window_start = pw.window_start AND u.window_end = pw.window_end)
       AND u.window_start < pw.window_end),
  moved AS (
    UPDATE sluice.quota_usage u
       SET used = stale.used, window_start = stale.counter_start,
           window_end = stale.counter_end, updated_at = $1
      FROM stale
     WHERE u.subject = stale.subject AND u.quota = stale.quota
       AND u.window_start = stale.old_start AND u.window_end = stale.old_end
       AND u.used = stale.old_used
    RETURNING 1)
  SELECT count(*)::integer FROM moved
$$;
REVOKE EXECUTE ON FUNCTION sluice.reset_expired_quota_windows_at(timestamptz) FROM PUBLIC;

-- What applications call: the functions above on the database clock. clock_timestamp() rather
-- than now(): a consume inside a long transaction still lands in the window of the moment it runs.
CREATE OR REPLACE FUNCTION sluice.consume_quota(
    subject text, quota text, amount integer DEFAULT 1, request_id text DEFAULT NULL,
    OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,
    OUT resets_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  SELECT c.allowed, c.used, c."limit", c.remaining, c.resets_at
    INTO allowed, used, "limit", remaining, resets_at
    FROM sluice.consume_quota_at($1, $2, $3, $4, clock_timestamp()) c;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota(text, text, integer, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sluice.check_quota(
    subject text, quota text, amount integer DEFAULT 1,
    OUT allowed boolean, OUT used integer, OUT "limit" integer, OUT remaining integer,
    OUT resets_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  SELECT c.allowed, c.used, c."limit", c.remaining, c.resets_at
    INTO allowed, used, "limit", remaining, resets_at
    FROM sluice.check_quota_at($1, $2, $3, clock_timestamp()) c;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.check_quota(text, text, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sluice.refund_quota(subject text, quota text, request_id text)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  RETURN sluice.refund_quota_at($1, $2, $3, clock_timestamp());
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.refund_quota(text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sluice.quota_status(subjects text[], quota text)
  RETURNS TABLE (subject text, plan text, used integer, "limit" integer, remaining integer,
                 resets_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM sluice.quota_status_at($1, $2, clock_timestamp())
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_status(text[], text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION sluice.reset_expired_quota_windows()
  RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT sluice.reset_expired_quota_windows_at(clock_timestamp())
$$;
REVOKE EXECUTE ON FUNCTION sluice.reset_expired_quota_windows() FROM PUBLIC;

-- The rate-limit step of V3 with the time as a required argument: the test twin of
-- rate_limit_acquire, never granted to applications (a caller choosing the time could spend
-- future allowance). PL/pgSQL so the statement's plan is cached per session.
CREATE OR REPLACE FUNCTION sluice.rate_limit_acquire_at(
    namespace text, key text, increment_nanos bigint, tolerance_nanos bigint, at_nanos bigint,
    OUT allowed boolean, OUT tat_nanos bigint, OUT now_nanos bigint)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_now bigint := $5;
BEGIN
  IF v_now IS NULL THEN
    RAISE EXCEPTION 'at_nanos must not be null' USING ERRCODE = '22023';
  END IF;
  INSERT INTO sluice.rate_limit_state AS s (namespace, key, tat, allowed, expires_at)
  VALUES ($1, $2,
          v_now + CASE WHEN $3 <= $4 THEN $3 ELSE 0 END,
          $3 <= $4,
          statement_timestamp()
            + CASE WHEN $3 <= $4 THEN (($3 + 999) / 1000) * interval '1 microsecond'
                   ELSE interval '0' END)
  ON CONFLICT (namespace, key) DO UPDATE SET
    allowed = greatest(s.tat, v_now) + $3 - v_now <= $4,
    tat = CASE WHEN greatest(s.tat, v_now) + $3 - v_now <= $4
               THEN greatest(s.tat, v_now) + $3
               ELSE s.tat END,
    expires_at = CASE WHEN greatest(s.tat, v_now) + $3 - v_now <= $4
                      THEN statement_timestamp()
                           + ((greatest(s.tat, v_now) + $3 - v_now + 999) / 1000)
                             * interval '1 microsecond'
                      ELSE s.expires_at END
  RETURNING s.allowed, CASE WHEN s.allowed THEN s.tat ELSE greatest(s.tat, v_now) END
    INTO allowed, tat_nanos;
  now_nanos := v_now;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.rate_limit_acquire_at(text, text, bigint, bigint, bigint)
  FROM PUBLIC;

-- One GCRA step on the server clock (see V3): what applications call.
CREATE OR REPLACE FUNCTION sluice.rate_limit_acquire(
    namespace text, key text, increment_nanos bigint, tolerance_nanos bigint,
    OUT allowed boolean, OUT tat_nanos bigint, OUT now_nanos bigint)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  SELECT r.allowed, r.tat_nanos, r.now_nanos INTO allowed, tat_nanos, now_nanos
    FROM sluice.rate_limit_acquire_at($1, $2, $3, $4, sluice.epoch_nanos()) r;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.rate_limit_acquire(text, text, bigint, bigint) FROM PUBLIC;

-- emergency_cleanup_connections() without an argument, as the original system called it: ends
-- the caller's own sessions idle in a transaction for more than five minutes, the point at which
-- check_system_load calls such a session critical. A shorter wait would end sessions that are
-- merely slow; the one-argument form stays for other thresholds.
CREATE OR REPLACE FUNCTION sluice.emergency_cleanup_connections()
  RETURNS TABLE (pid integer, usename text, application_name text, client_addr text,
                 idle_seconds numeric, terminated boolean)
  LANGUAGE sql VOLATILE SECURITY INVOKER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT * FROM sluice.emergency_cleanup_connections(interval '5 minutes')
$$;
REVOKE EXECUTE ON FUNCTION sluice.emergency_cleanup_connections() FROM PUBLIC;

-- Carry grants over to the replacements, then drop the functions that took the time from the
-- caller (their EXECUTE grants go with them).
DO $$
DECLARE
  m record;
  g record;
BEGIN
  FOR m IN
    SELECT * FROM (VALUES
      ('sluice.consume_quota(text, text, integer, text, timestamptz)',
       ARRAY['sluice.consume_quota(text, text, integer, text)',
             'sluice.check_quota(text, text, integer)'], true),
      ('sluice.refund_quota(text, text, text, timestamptz)',
       ARRAY['sluice.refund_quota(text, text, text)'], true),
      ('sluice.quota_status(text[], text, timestamptz)',
       ARRAY['sluice.quota_status(text[], text)'], true),
      ('sluice.reset_expired_quota_windows(timestamptz)',
       ARRAY['sluice.reset_expired_quota_windows()'], true),
      ('sluice.rate_limit_acquire(text, text, bigint, bigint, bigint)',
       ARRAY['sluice.rate_limit_acquire(text, text, bigint, bigint)'], true),
      ('sluice.emergency_cleanup_connections(interval)',
       ARRAY['sluice.emergency_cleanup_connections()'], false)
    ) AS t(old_signature, new_signatures, drop_old)
  LOOP
    CONTINUE WHEN to_regprocedure(m.old_signature) IS NULL;
    FOR g IN
      SELECT r.rolname
        FROM pg_proc p
       CROSS JOIN LATERAL aclexplode(p.proacl) a
        JOIN pg_roles r ON r.oid = a.grantee
       WHERE p.oid = to_regprocedure(m.old_signature)
         AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
    LOOP
      FOR i IN 1 .. array_length(m.new_signatures, 1) LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', m.new_signatures[i], g.rolname);
      END LOOP;
    END LOOP;
    IF m.drop_old THEN
      EXECUTE format('DROP FUNCTION %s', m.old_signature);
    END IF;
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
