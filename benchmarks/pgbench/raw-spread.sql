\set n random(0, 99999)
UPDATE bench_counter SET used = used + 1, updated_at = clock_timestamp()
 WHERE subject = 's' || :n AND used + 1 <= lim RETURNING used;
