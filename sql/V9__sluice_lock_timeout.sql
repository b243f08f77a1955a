-- Sluice: a bound on how long a request waits for a locked counter. Idempotent.
--
-- A consume or refund locks its counter row (and, with a request id, waits for a concurrent
-- insert of the same ledger key). Concurrent consumes hold that lock for microseconds; a session
-- that locked the row and then stalled (an operator's open transaction, an application session
-- idle in a transaction, a stuck batch) held every later consume of that subject, and the
-- request threads waiting in them, for as long as it stalled: until then PostgreSQL's default
-- lock_timeout of 0 meant "forever".
--
-- The functions that decide a request now wait at most 5 s for any one lock. A wait that runs
-- out fails with SQLSTATE 55P03 (lock_not_available); the statement's transaction is rolled back,
-- so nothing was consumed or refunded (the Java repository reports a QuotaStoreException saying
-- so, which the servlet filter answers by its fail-open or fail-closed choice). The setting lives
-- on the functions: the caller's own lock_timeout does not change it, and it costs no extra
-- statement per call. To choose another bound, alter the functions, e.g.
--   ALTER FUNCTION sluice.consume_quota(text, text, integer, text) SET lock_timeout = '2s';
-- (and the same for all the other functions below, together: consume_quota_all and refund_quota
-- run the _at twins, whose own setting applies inside them); '0' restores waiting forever.
--
-- Not bounded here: check_quota (it reads without locking), quota_status, and the maintenance
-- functions (reset_expired_quota_windows may wait for many rows; run it from a scheduler with a
-- statement_timeout of its own).

ALTER FUNCTION sluice.consume_quota(text, text, integer, text) SET lock_timeout = '5s';
ALTER FUNCTION sluice.consume_quota_at(text, text, integer, text, timestamptz)
  SET lock_timeout = '5s';
ALTER FUNCTION sluice.consume_quota_all(text[], text[], integer[], text[]) SET lock_timeout = '5s';
ALTER FUNCTION sluice.consume_quota_all_at(text[], text[], integer[], text[], timestamptz)
  SET lock_timeout = '5s';
ALTER FUNCTION sluice.refund_quota(text, text, text) SET lock_timeout = '5s';
ALTER FUNCTION sluice.refund_quota_at(text, text, text, timestamptz) SET lock_timeout = '5s';
