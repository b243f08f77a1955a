\set n random(0, 99999)
SELECT allowed, used, "limit", remaining, resets_at FROM sluice.consume_quota('s' || :n, 'bench', 1, NULL);
