\set r random(1, 9223372036854775806)
SELECT allowed, used, "limit", remaining, resets_at FROM sluice.consume_quota('s0', 'bench', 1, 'r' || :r);
