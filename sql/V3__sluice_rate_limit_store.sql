-- Sluice shared rate-limit state for dev.sluice.quota.PostgresRateLimitStore: one GCRA
-- "theoretical arrival time" (TAT) per (namespace, key), so several application instances share
-- one limit and decide exactly as the in-memory store does.
-- Idempotent. EXECUTE is revoked from PUBLIC; grant it with:
--   GRANT USAGE ON SCHEMA sluice TO app_role;
--   GRANT EXECUTE ON FUNCTION sluice.rate_limit_acquire(text, text, bigint, bigint, bigint)
--     TO app_role;
--
-- UNLOGGED on purpose: no WAL per decision (several times faster under load). A crash or an
-- immediate shutdown empties the table, which only gives every key a full bucket once; it is
-- also not replicated to standbys. Rate-limit state is short-lived by nature, so this is the
-- usual trade; convert with ALTER TABLE sluice.rate_limit_state SET LOGGED if you need it.

CREATE SCHEMA IF NOT EXISTS sluice;

CREATE UNLOGGED TABLE IF NOT EXISTS sluice.rate_limit_state (
  namespace  text        NOT NULL,
  key        text        NOT NULL,
  -- The TAT in nanoseconds on the store's clock (by default the server's, microsecond resolution).
  tat        bigint      NOT NULL,
  -- Whether the last step was allowed: lets the single statement below report its decision.
  allowed    boolean     NOT NULL,
  -- Server time at which the bucket is full again: cleanup_old_sessions may drop the row then,
  -- whatever clock the TAT is on.
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (namespace, key)
);
REVOKE ALL ON sluice.rate_limit_state FROM PUBLIC;

-- The server's clock as nanoseconds since the Unix epoch (microsecond resolution: the last three
-- digits are always zero). statement_timestamp() is fixed for the whole statement, so one
-- decision reads the clock once.
CREATE OR REPLACE FUNCTION sluice.epoch_nanos()
  RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, pg_temp
AS $$
  SELECT (extract(epoch FROM statement_timestamp()) * 1000000)::bigint * 1000
$$;
REVOKE EXECUTE ON FUNCTION sluice.epoch_nanos() FROM PUBLIC;

-- One GCRA step, atomically, in one statement (the contract of dev.sluice.RateLimitStore):
--   tat = max(stored, now); newTat = tat + increment
--   if newTat - now <= tolerance: stored = newTat, allowed
--   else: refused, stored unchanged
-- The upsert takes the key's row lock, so concurrent steps on one key serialise; absent keys
-- count as "now". at_nanos is the time to use (null: the server clock, see epoch_nanos()).
-- Returns the decision, the key's TAT after the step (max(stored, now) when refused) and the now
-- it used.
CREATE OR REPLACE FUNCTION sluice.rate_limit_acquire(
    namespace text, key text, increment_nanos bigint, tolerance_nanos bigint,
    at_nanos bigint DEFAULT NULL,
    OUT allowed boolean, OUT tat_nanos bigint, OUT now_nanos bigint)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $$
  INSERT INTO sluice.rate_limit_state AS s (namespace, key, tat, allowed, expires_at)
  VALUES ($1, $2,
          coalesce($5, sluice.epoch_nanos()) + CASE WHEN $3 <= $4 THEN $3 ELSE 0 END,
          $3 <= $4,
          statement_timestamp()
            + CASE WHEN $3 <= $4 THEN (($3 + 999) / 1000) * interval '1 microsecond'
                   ELSE interval '0' END)
  ON CONFLICT (namespace, key) DO UPDATE SET
    allowed = greatest(s.tat, coalesce($5, sluice.epoch_nanos())) + $3
              - coalesce($5, sluice.epoch_nanos()) <= $4,
    tat = CASE WHEN greatest(s.tat, coalesce($5, sluice.epoch_nanos())) + $3
                    - coalesce($5, sluice.epoch_nanos()) <= $4
               THEN greatest(s.tat, coalesce($5, sluice.epoch_nanos())) + $3
               ELSE s.tat END,
    expires_at = CASE WHEN greatest(s.tat, coalesce($5, sluice.epoch_nanos())) + $3
                           - coalesce($5, sluice.epoch_nanos()) <= $4
                      THEN statement_timestamp()
                           + ((greatest(s.tat, coalesce($5, sluice.epoch_nanos())) + $3
                               - coalesce($5, sluice.epoch_nanos()) + 999) / 1000)
                             * interval '1 microsecond'
                      ELSE s.expires_at END
  RETURNING s.allowed,
            CASE WHEN s.allowed THEN s.tat
                 ELSE greatest(s.tat, coalesce($5, sluice.epoch_nanos())) END,
            coalesce($5, sluice.epoch_nanos())
$$;
REVOKE EXECUTE ON FUNCTION sluice.rate_limit_acquire(text, text, bigint, bigint, bigint)
  FROM PUBLIC;
