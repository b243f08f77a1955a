-- Sluice atomic quota functions: consume, refund, batch status and batch reset.
-- Idempotent (CREATE OR REPLACE). Every function here is SECURITY DEFINER with a fixed
-- search_path: that is what lets an application role hold EXECUTE on these functions and no
-- privilege at all on the tables, so the only way to change a counter is through the guarded
-- statements below. EXECUTE is revoked from PUBLIC right after each function is created.
--
-- Grants an application role needs (replace app_role):
--   GRANT USAGE ON SCHEMA sluice TO app_role;
--   GRANT EXECUTE ON FUNCTION
--     sluice.consume_quota(text, text, integer, text, timestamptz),
--     sluice.refund_quota(text, text, text, timestamptz),
--     sluice.quota_status(text[], text, timestamptz),
--     sluice.reset_expired_quota_windows(timestamptz) TO app_role;
--
-- Time: every function takes an optional last argument "now" (default: the server's
-- clock_timestamp()), so several application instances share one clock and tests can move time
-- without sleeping.

-- The calendar window containing "at": truncated to the unit in the given time zone, so a day
-- ends at local midnight (daylight-saving days are 23 or 25 hours long, as they should be).
CREATE OR REPLACE FUNCTION sluice.quota_window(
    unit text, time_zone text, at timestamptz,
    OUT window_start timestamptz, OUT window_end timestamptz)
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT date_trunc($1, $3 AT TIME ZONE $2) AT TIME ZONE $2,
         (date_trunc($1, $3 AT TIME ZONE $2) + ('1 ' || $1)::interval) AT TIME ZONE $2
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_window(text, text, timestamptz) FROM PUBLIC;

-- Consumes "amount" units of a subject's quota if they are available in the current window.
--
-- Atomicity: one guarded upsert on the counter row, INSERT ... ON CONFLICT DO UPDATE ... WHERE
-- used + amount <= limit. PostgreSQL takes the row lock and re-evaluates the guard on the newest
-- row version, so concurrent consumes serialise on the row and never overshoot; the INSERT arm
-- makes concurrent first use safe without a separate existence check. We chose it over
-- SELECT ... FOR UPDATE followed by UPDATE: both hold the row lock until the call commits, but
-- the guarded upsert checks and writes in one statement (one plan execution, one index descent,
-- no read-then-write window to get wrong) and needs no separate INSERT path for a new subject.
-- A refused upsert still locks the row, so the read that reports the figures sees the latest
-- committed value.
--
-- Window reset is built in: a consume whose window is later than the stored one starts the
-- counter from zero. A "now" earlier than the stored window (a skewed clock) counts into the
-- stored window; it never resets it.
--
-- With a request_id the call is idempotent: the ledger row for (subject, quota, request_id) is
-- inserted first, so a concurrent duplicate waits for the first call to commit and then answers
-- exactly what the first call answered, without counting again.
CREATE OR REPLACE FUNCTION sluice.consume_quota(
    subject text, quota text, amount integer DEFAULT 1, request_id text DEFAULT NULL,
    now timestamptz DEFAULT NULL,
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
  v_now        timestamptz := coalesce($5, clock_timestamp());
  v_limit      integer;
  v_unit       text;
  v_tz         text;
  v_ws         timestamptz;
  v_we         timestamptz;
  v_ledger_id  bigint;
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
      RAISE EXCEPTION 'quota % is not defined for the plan of subject %', v_quota, v_subject
        USING ERRCODE = 'SLQ01';
    END IF;
  END IF;

  -- The same computation as sluice.quota_window(), written out: a LANGUAGE sql function with OUT
  -- parameters is never inlined, so calling it would parse and plan its body on every consume
  -- (about a fifth of the call; docs/benchmarks.md).
  v_ws := date_trunc(v_unit, v_now AT TIME ZONE v_tz) AT TIME ZONE v_tz;
  v_we := (date_trunc(v_unit, v_now AT TIME ZONE v_tz) + ('1 ' || v_unit)::interval)
          AT TIME ZONE v_tz;

  IF v_request_id IS NOT NULL THEN
    INSERT INTO sluice.quota_ledger (subject, quota, request_id, amount, consumed_at)
    VALUES (v_subject, v_quota, v_request_id, v_amount, v_now)
    ON CONFLICT (subject, quota, request_id) WHERE request_id IS NOT NULL DO NOTHING
    RETURNING id INTO v_ledger_id;
    IF v_ledger_id IS NULL THEN
      SELECT l.allowed, l.used_after, l.limit_at, l.window_end
        INTO allowed, used, "limit", resets_at
        FROM sluice.quota_ledger l
       WHERE l.subject = v_subject AND l.quota = v_quota AND l.request_id = v_request_id;
      remaining := greatest(0, "limit" - used);
      RETURN;
    END IF;
  END IF;

  INSERT INTO sluice.quota_usage AS u (subject, quota, window_start, window_end, used, updated_at)
  SELECT v_subject, v_quota, v_ws, v_we, v_amount, v_now
   WHERE v_amount <= v_limit
  ON CONFLICT (subject, quota) DO UPDATE
     SET used = CASE WHEN EXCLUDED.window_start > u.window_start
                     THEN EXCLUDED.used ELSE u.used + EXCLUDED.used END,
         window_start = greatest(u.window_start, EXCLUDED.window_start),
         window_end = CASE WHEN EXCLUDED.window_start > u.window_start
                           THEN EXCLUDED.window_end ELSE u.window_end END,
         updated_at = EXCLUDED.updated_at
   WHERE CASE WHEN EXCLUDED.window_start > u.window_start THEN 0 ELSE u.used::bigint END
         + EXCLUDED.used <= v_limit
  RETURNING u.used, u.window_start, u.window_end INTO v_used, v_cws, v_end;

  IF v_used IS NOT NULL THEN
    allowed := true;
    used := v_used;
    resets_at := v_end;
  ELSE
    allowed := false;
    -- The refused upsert locked the row (if any): this read sees its latest committed state.
    SELECT CASE WHEN u.window_start >= v_ws THEN u.used ELSE 0 END,
           CASE WHEN u.window_start >= v_ws THEN u.window_end ELSE v_we END
      INTO used, resets_at
      FROM sluice.quota_usage u
     WHERE u.subject = v_subject AND u.quota = v_quota;
    IF NOT FOUND THEN
      used := 0;
      resets_at := v_we;
    END IF;
  END IF;
  "limit" := v_limit;
  remaining := greatest(0, v_limit - used);

  -- The ledger records the window the units were really counted in (the counter's, which a
  -- skewed "now" does not move back), so a refund finds it.
  IF v_ledger_id IS NOT NULL THEN
    UPDATE sluice.quota_ledger l
       SET allowed = consume_quota.allowed, used_after = consume_quota.used, limit_at = v_limit,
           window_start = v_cws, window_end = consume_quota.resets_at
     WHERE l.id = v_ledger_id;
  ELSIF allowed THEN
    INSERT INTO sluice.quota_ledger
      (subject, quota, amount, allowed, used_after, limit_at, window_start, window_end, consumed_at)
    VALUES (v_subject, v_quota, v_amount, true, v_used, v_limit, v_cws, v_end, v_now);
  END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.consume_quota(text, text, integer, text, timestamptz) FROM PUBLIC;

-- Gives back a consumption made with request_id whose protected work failed. Idempotent (the
-- ledger row is marked refunded under a row lock); never makes "used" negative; never refunds
-- into a later window: the counter must still be in the window the units were counted in, and
-- "now" must be before that window's end. Returns whether this call gave units back.
CREATE OR REPLACE FUNCTION sluice.refund_quota(
    subject text, quota text, request_id text, now timestamptz DEFAULT NULL)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_now    timestamptz := coalesce($4, clock_timestamp());
  v_id     bigint;
  v_amount integer;
  v_ws     timestamptz;
BEGIN
  IF $3 IS NULL THEN
    RETURN false;
  END IF;
  SELECT l.id, l.amount, l.window_start INTO v_id, v_amount, v_ws
    FROM sluice.quota_ledger l
   WHERE l.subject = $1 AND l.quota = $2 AND l.request_id = $3
     AND l.allowed AND l.refunded_at IS NULL
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE sluice.quota_usage u
     SET used = greatest(0, u.used - v_amount), updated_at = v_now
   WHERE u.subject = $1 AND u.quota = $2 AND u.window_start = v_ws AND v_now < u.window_end;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  UPDATE sluice.quota_ledger l SET refunded_at = v_now WHERE l.id = v_id;
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.refund_quota(text, text, text, timestamptz) FROM PUBLIC;

-- Status of many subjects for one quota in one call, in the order given. Read-only: a subject
-- with no account is reported on the default plan "free" with nothing used. Subjects whose plan
-- does not define the quota are left out.
CREATE OR REPLACE FUNCTION sluice.quota_status(
    subjects text[], quota text, now timestamptz DEFAULT NULL)
  RETURNS TABLE (subject text, plan text, used integer, "limit" integer, remaining integer,
                 resets_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  WITH t AS (SELECT coalesce($3, clock_timestamp()) AS at)
  SELECT x.subject,
         pq.plan,
         CASE WHEN u.window_end > t.at THEN u.used ELSE 0 END,
         coalesce(o.allowance, pq.allowance),
         greatest(0, coalesce(o.allowance, pq.allowance)
                     - CASE WHEN u.window_end > t.at THEN u.used ELSE 0 END),
         CASE WHEN u.window_end > t.at THEN u.window_end ELSE w.window_end END
    FROM unnest($1) WITH ORDINALITY AS x(subject, ord)
   CROSS JOIN t
    LEFT JOIN sluice.subject s ON s.subject = x.subject
    JOIN sluice.plan_quota pq ON pq.plan = coalesce(s.plan, 'free') AND pq.quota = $2
    LEFT JOIN sluice.subject_quota_override o ON o.subject = x.subject AND o.quota = $2
    LEFT JOIN sluice.quota_usage u ON u.subject = x.subject AND u.quota = $2
   CROSS JOIN LATERAL sluice.quota_window(pq.window_unit, pq.time_zone, t.at) w
   ORDER BY x.ord
$$;
REVOKE EXECUTE ON FUNCTION sluice.quota_status(text[], text, timestamptz) FROM PUBLIC;

-- Resets every counter whose window has ended: used = 0, window moved to the current one.
-- consume_quota already resets lazily; this keeps reports and dashboards honest. Returns the
-- number of counters reset. Units of an ended window can no longer be refunded either way.
CREATE OR REPLACE FUNCTION sluice.reset_expired_quota_windows(now timestamptz DEFAULT NULL)
  RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  WITH t AS (SELECT coalesce($1, clock_timestamp()) AS at),
  reset AS (
    UPDATE sluice.quota_usage u
       SET used = 0, window_start = w.window_start, window_end = w.window_end,
           updated_at = t.at
      FROM t, sluice.subject s, sluice.plan_quota pq,
           LATERAL sluice.quota_window(pq.window_unit, pq.time_zone, t.at) w
     WHERE u.window_end <= t.at
       AND s.subject = u.subject AND pq.plan = s.plan AND pq.quota = u.quota
    RETURNING 1)
  SELECT count(*)::integer FROM reset
$$;
REVOKE EXECUTE ON FUNCTION sluice.reset_expired_quota_windows(timestamptz) FROM PUBLIC;
