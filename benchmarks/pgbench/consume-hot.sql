SELECT allowed, used, "limit", remaining, resets_at FROM sluice.consume_quota('s0', 'bench', 1, NULL);
