\set n random(0, 99999)
\set r random(1, 9223372036854775806)
SELECT allowed, used, "limit", remaining, resets_at FROM sluice.consume_quota('s' || :n, 'bench', 1, 'r' || :r);
