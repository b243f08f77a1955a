UPDATE bench_counter SET used = used + 1, updated_at = clock_timestamp()
 WHERE subject = 's0' AND used + 1 <= lim RETURNING used;
