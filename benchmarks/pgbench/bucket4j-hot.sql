BEGIN;
SELECT state FROM bucket WHERE id = 0 FOR UPDATE;
UPDATE bucket SET state = '\x000000010000000000000000000000007fffffffffffffff0000018f2a3b4c5d'::bytea, expires_at = 0 WHERE id = 0;
COMMIT;
