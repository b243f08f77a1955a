-- Sluice: a plan's time zone is checked when it is written, not when a user's request first
-- needs it. Before this, a typo in sluice.plan_quota.time_zone surfaced only at the next consume,
-- as "time zone ... not recognized" in front of a user.
-- Idempotent. Rows already stored are only reported (a WARNING per bad row at the end): a
-- migration must not fail on an operator's data. Until such a row is fixed, every call that needs
-- its window fails with "time zone ... not recognized" (AtomicQuotaRepository throws
-- QuotaConfigurationException), and so does reset_expired_quota_windows, which covers all plans.

-- Refuses a plan_quota row whose time zone is not a name PostgreSQL knows (pg_timezone_names),
-- naming the zone, the plan and the quota. POSIX-style specifications such as 'UTC+3' are refused
-- even though AT TIME ZONE accepts them: their sign is the reverse of ISO 8601 ('UTC+3' is three
-- hours behind UTC), a trap for a plan's calendar.
CREATE OR REPLACE FUNCTION sluice.plan_quota_check_time_zone()
  RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_known boolean;
BEGIN
  BEGIN
    PERFORM timestamptz '2000-01-01 00:00Z' AT TIME ZONE NEW.time_zone;
    -- Names are letters, '/', '_' and '-'; only the rare ones with digits or a sign
    -- (Etc/GMT+3, EST5EDT) are looked up in the catalog, which takes tens of milliseconds.
    v_known := NEW.time_zone !~ '[0-9+<>:]'
               OR EXISTS (SELECT 1 FROM pg_timezone_names n WHERE n.name = NEW.time_zone);
  EXCEPTION WHEN invalid_parameter_value THEN
    v_known := false;
  END;
  IF NOT v_known THEN
    RAISE EXCEPTION 'time zone "%" of plan "%", quota "%" is not recognized',
        NEW.time_zone, NEW.plan, NEW.quota
      USING ERRCODE = '22023',
            HINT = 'Use a name from pg_timezone_names, such as UTC, Europe/Berlin or'
                   ' America/New_York.';
  END IF;
  RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION sluice.plan_quota_check_time_zone() FROM PUBLIC;

DROP TRIGGER IF EXISTS plan_quota_time_zone_check ON sluice.plan_quota;
CREATE TRIGGER plan_quota_time_zone_check
  BEFORE INSERT OR UPDATE OF time_zone ON sluice.plan_quota
  FOR EACH ROW EXECUTE FUNCTION sluice.plan_quota_check_time_zone();

DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT pq.plan, pq.quota, pq.time_zone FROM sluice.plan_quota pq LOOP
    BEGIN
      PERFORM timestamptz '2000-01-01 00:00Z' AT TIME ZONE r.time_zone;
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE WARNING 'time zone "%" of plan "%", quota "%" is not recognized: fix it with UPDATE'
        ' sluice.plan_quota', r.time_zone, r.plan, r.quota;
    END;
  END LOOP;
END
$$;
