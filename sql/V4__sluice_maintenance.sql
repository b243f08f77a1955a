-- Sluice maintenance functions, keeping the original system's names:
--   sluice.check_system_load()                       hourly: load figures and recommendations
--   sluice.cleanup_old_sessions(retention interval)  daily: old ledger rows, dormant counters,
--                                                    expired rate-limit state
--   sluice.emergency_cleanup_connections(idle_for)   emergency: end sessions stuck idle in a
--                                                    transaction
-- Idempotent. EXECUTE is revoked from PUBLIC on each; grant them to an operations role only:
--   GRANT USAGE ON SCHEMA sluice TO ops_role;
--   GRANT EXECUTE ON FUNCTION sluice.check_system_load(),
--     sluice.cleanup_old_sessions(interval),
--     sluice.emergency_cleanup_connections(interval) TO ops_role;

-- Load of the current database: connections by state, the oldest idle-in-transaction session,
-- lock waits, the longest running query and the cache hit ratio, each with a status
-- (ok, warning, critical) and, when not ok, a recommendation.
-- SECURITY DEFINER so that a caller sees aggregates over every session (when the owner may read
-- them: a superuser, or a member of pg_read_all_stats) without being able to read other
-- sessions' query texts itself. It returns figures only, never query text or user names.
CREATE OR REPLACE FUNCTION sluice.check_system_load()
  RETURNS TABLE (metric text, value numeric, status text, recommendation text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
  v_now       timestamptz := clock_timestamp();
  v_max       numeric     := current_setting('max_connections')::numeric;
  v_total     numeric;
  v_idle_tx   numeric;
  v_waits     numeric;
  v_longest   numeric;
  v_hit       numeric;
  r           record;
BEGIN
  SELECT count(*) INTO v_total FROM pg_stat_activity WHERE backend_type = 'client backend';
  metric := 'connections_total';
  value := v_total;
  status := CASE WHEN v_total >= 0.95 * v_max THEN 'critical'
                 WHEN v_total >= 0.80 * v_max THEN 'warning' ELSE 'ok' END;
  recommendation := CASE WHEN status <> 'ok' THEN format(
      '%s of max_connections=%s are in use: put a pooler (PgBouncer) in front, or lower the '
      'application pool sizes', v_total, v_max) END;
  RETURN NEXT;

  metric := 'max_connections'; value := v_max; status := 'ok'; recommendation := NULL;
  RETURN NEXT;

  FOR r IN
    SELECT coalesce(a.state, 'unknown') AS state, count(*) AS n
      FROM pg_stat_activity a
     WHERE a.datname = current_database() AND a.backend_type = 'client backend'
     GROUP BY 1 ORDER BY 1
  LOOP
    metric := 'connections_' || replace(replace(replace(r.state, ' ', '_'), '(', ''), ')', '');
    value := r.n;
    status := CASE WHEN r.state LIKE 'idle in transaction%' AND r.n > 5 THEN 'warning'
                   ELSE 'ok' END;
    recommendation := CASE WHEN status <> 'ok' THEN
      'many sessions hold a transaction open while idle: fix the code path that forgets to '
      'commit, and set idle_in_transaction_session_timeout' END;
    RETURN NEXT;
  END LOOP;

  SELECT coalesce(max(extract(epoch FROM v_now - a.state_change)), 0) INTO v_idle_tx
    FROM pg_stat_activity a
   WHERE a.datname = current_database() AND a.state LIKE 'idle in transaction%';
  metric := 'oldest_idle_in_transaction_seconds';
  value := round(v_idle_tx, 3);
  status := CASE WHEN v_idle_tx > 300 THEN 'critical'
                 WHEN v_idle_tx > 60 THEN 'warning' ELSE 'ok' END;
  recommendation := CASE WHEN status <> 'ok' THEN
    'a session has been idle in a transaction for minutes, holding locks: run '
    'sluice.emergency_cleanup_connections(''5 minutes'') as the application role, and set '
    'idle_in_transaction_session_timeout' END;
  RETURN NEXT;

  SELECT count(*) INTO v_waits
    FROM pg_stat_activity a
   WHERE a.datname = current_database() AND a.wait_event_type = 'Lock';
  metric := 'lock_waits';
  value := v_waits;
  status := CASE WHEN v_waits > 20 THEN 'critical' WHEN v_waits > 5 THEN 'warning' ELSE 'ok' END;
  recommendation := CASE WHEN status <> 'ok' THEN
    'sessions are queueing on row locks: look for long transactions on hot rows (pg_locks), '
    'and keep transactions around quota consumes short' END;
  RETURN NEXT;

  SELECT coalesce(max(extract(epoch FROM v_now - a.query_start)), 0) INTO v_longest
    FROM pg_stat_activity a
   WHERE a.datname = current_database() AND a.state = 'active' AND a.pid <> pg_backend_pid()
     AND a.backend_type = 'client backend';
  metric := 'longest_query_seconds';
  value := round(v_longest, 3);
  status := CASE WHEN v_longest > 300 THEN 'critical'
                 WHEN v_longest > 30 THEN 'warning' ELSE 'ok' END;
  recommendation := CASE WHEN status <> 'ok' THEN
    'a query has been running for a long time: check it with EXPLAIN, and set statement_timeout '
    'for the application role' END;
  RETURN NEXT;

  SELECT CASE WHEN d.blks_hit + d.blks_read = 0 THEN 100
              ELSE round(100.0 * d.blks_hit / (d.blks_hit + d.blks_read), 2) END
    INTO v_hit
    FROM pg_stat_database d WHERE d.datname = current_database();
  metric := 'cache_hit_ratio_percent';
  value := coalesce(v_hit, 100);
  status := CASE WHEN value < 90 THEN 'critical' WHEN value < 99 THEN 'warning' ELSE 'ok' END;
  recommendation := CASE WHEN status <> 'ok' THEN
    'reads miss the buffer cache: raise shared_buffers, or add the missing index behind the '
    'sequential scans in pg_stat_user_tables' END;
  RETURN NEXT;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.check_system_load() FROM PUBLIC;

-- Deletes ledger rows older than the retention whose window has ended (rows of a current window
-- stay: refunds and idempotent retries need them), counters whose window ended more than the
-- retention ago, and rate-limit keys whose bucket is full again (dropping them never grants more
-- than a full bucket). Keep the retention longer than any client retries a request id.
-- SECURITY DEFINER for the same reason as the quota functions: callers hold no table privileges.
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
  DELETE FROM sluice.rate_limit_state r WHERE r.expires_at <= v_now;
  GET DIAGNOSTICS rate_limit_keys_deleted = ROW_COUNT;
  RETURN NEXT;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.cleanup_old_sessions(interval) FROM PUBLIC;

-- Ends sessions that have sat idle in a transaction for longer than idle_for — only backends of
-- the current database that belong to the calling role (current_user), never the caller's own
-- backend, never a superuser's. Returns what it ended.
-- SECURITY INVOKER on purpose (the original's version could kill anyone's connections): the
-- signal is sent with the caller's own rights, so even a wrong filter could never reach further
-- than pg_terminate_backend already allows that role.
CREATE OR REPLACE FUNCTION sluice.emergency_cleanup_connections(idle_for interval)
  RETURNS TABLE (pid integer, usename text, application_name text, client_addr text,
                 idle_seconds numeric, terminated boolean)
  LANGUAGE sql VOLATILE SECURITY INVOKER
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT a.pid, a.usename::text, a.application_name, host(a.client_addr),
         round(extract(epoch FROM clock_timestamp() - a.state_change), 3),
         pg_terminate_backend(a.pid)
    FROM pg_stat_activity a
    JOIN pg_roles r ON r.oid = a.usesysid
   WHERE $1 IS NOT NULL
     AND a.datname = current_database()
     AND r.rolname = current_user
     AND NOT r.rolsuper
     AND a.pid <> pg_backend_pid()
     AND a.state IN ('idle in transaction', 'idle in transaction (aborted)')
     AND a.state_change < clock_timestamp() - $1
$$;
REVOKE EXECUTE ON FUNCTION sluice.emergency_cleanup_connections(interval) FROM PUBLIC;

-- Supabase (and any database with the same roles): its API roles must never reach Sluice.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('REVOKE ALL ON SCHEMA sluice FROM %I', r);
      EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA sluice FROM %I', r);
      EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA sluice FROM %I', r);
      EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sluice FROM %I', r);
    END IF;
  END LOOP;
END
$$;
