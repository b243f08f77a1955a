-- Sluice quota schema: plans, accounts, counters and the consumption ledger.
-- Idempotent: safe to run again; an existing row is never overwritten by the seed.
-- Everything lives in schema "sluice". No role but the owner gets any privilege on these tables:
-- applications go through the functions of V2 (see the grants documented there).

CREATE SCHEMA IF NOT EXISTS sluice;
REVOKE ALL ON SCHEMA sluice FROM PUBLIC;

-- A plan: a named set of allowances ("free", "pro").
CREATE TABLE IF NOT EXISTS sluice.plan (
  plan        text PRIMARY KEY CHECK (plan <> ''),
  description text
);

-- A plan's allowance per quota name per calendar window. The limit is read from here at every
-- consume, never copied into a subject's row: changing a plan's allowance applies to all its
-- subjects at once (the original had to repair per-user rows after a bug set 1000).
CREATE TABLE IF NOT EXISTS sluice.plan_quota (
  plan        text    NOT NULL REFERENCES sluice.plan (plan) ON UPDATE CASCADE,
  quota       text    NOT NULL CHECK (quota <> ''),
  allowance   integer NOT NULL CHECK (allowance >= 0),
  -- The calendar window: minute, hour, day, week (ISO, from Monday) or month.
  window_unit text    NOT NULL DEFAULT 'day'
              CHECK (window_unit IN ('minute', 'hour', 'day', 'week', 'month')),
  -- Where the window's boundary (midnight for a day) is drawn; any name pg_timezone_names knows.
  time_zone   text    NOT NULL DEFAULT 'UTC',
  PRIMARY KEY (plan, quota)
);

-- An account: created on first consume with the default plan.
CREATE TABLE IF NOT EXISTS sluice.subject (
  subject    text        PRIMARY KEY CHECK (subject <> ''),
  plan       text        NOT NULL DEFAULT 'free' REFERENCES sluice.plan (plan) ON UPDATE CASCADE,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- An optional per-subject allowance that replaces the plan's for one quota.
CREATE TABLE IF NOT EXISTS sluice.subject_quota_override (
  subject   text    NOT NULL REFERENCES sluice.subject (subject) ON DELETE CASCADE,
  quota     text    NOT NULL,
  allowance integer NOT NULL CHECK (allowance >= 0),
  PRIMARY KEY (subject, quota)
);

-- The counter: one row per subject and quota, for the window it was last charged in. A consume
-- in a later window starts it again from zero (the reset is built into consume_quota).
CREATE TABLE IF NOT EXISTS sluice.quota_usage (
  subject      text        NOT NULL,
  quota        text        NOT NULL,
  window_start timestamptz NOT NULL,
  window_end   timestamptz NOT NULL,
  used         integer     NOT NULL CHECK (used >= 0),
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (subject, quota)
);

-- The ledger: one row per allowed consume, and per consume made with a request id (allowed or
-- not, so a retry answers the same). The allowed, unrefunded amounts of a window add up to the
-- counter of that window.
CREATE TABLE IF NOT EXISTS sluice.quota_ledger (
  id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  subject      text        NOT NULL,
  quota        text        NOT NULL,
  request_id   text,
  amount       integer     NOT NULL CHECK (amount > 0),
  allowed      boolean,
  used_after   integer,
  limit_at     integer,
  window_start timestamptz,
  window_end   timestamptz,
  consumed_at  timestamptz NOT NULL,
  refunded_at  timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS quota_ledger_request_uq
  ON sluice.quota_ledger (subject, quota, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS quota_ledger_consumed_at_ix ON sluice.quota_ledger (consumed_at);

REVOKE ALL ON ALL TABLES IN SCHEMA sluice FROM PUBLIC;

-- Seed: the free plan allows 3 chats per day (UTC midnight). ON CONFLICT DO NOTHING keeps an
-- operator's later change.
INSERT INTO sluice.plan (plan, description) VALUES ('free', 'Default plan of new subjects')
  ON CONFLICT (plan) DO NOTHING;
INSERT INTO sluice.plan_quota (plan, quota, allowance, window_unit, time_zone)
  VALUES ('free', 'chat', 3, 'day', 'UTC')
  ON CONFLICT (plan, quota) DO NOTHING;
