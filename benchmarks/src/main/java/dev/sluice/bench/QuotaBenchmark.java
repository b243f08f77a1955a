package dev.sluice.bench;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import dev.sluice.quota.AtomicQuotaRepository;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.proxy.ProxyManager;
import io.github.bucket4j.postgresql.Bucket4jPostgreSQL;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * One quota consume against one PostgreSQL server, every call allowed: Sluice's
 * {@code consume_quota} (through {@link AtomicQuotaRepository}, with and without a request id, and
 * called directly over JDBC), a raw single-statement guarded {@code UPDATE … RETURNING} on a counter
 * table (the server's physical limit for "check and count one unit"), and Bucket4j's PostgreSQL
 * proxy manager ({@code SELECT … FOR UPDATE}, then {@code UPDATE}, in one transaction).
 *
 * <p>Every call borrows a connection from one HikariCP pool sized to the JMH thread count (the
 * clients) and runs in its own transaction. {@code subjects=hot}: every client charges subject
 * {@code s0}; {@code spread}: each client draws from {@code spreadSubjects} subjects uniformly. A
 * refused call throws, so a run that measured a refusal fails.
 *
 * <p>Run in both throughput (ops/s) and sample-time (latency percentiles) modes.
 */
@State(Scope.Benchmark)
@BenchmarkMode({Mode.Throughput, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class QuotaBenchmark {
  private static final String QUOTA = "bench";
  private static final String CONSUME_SQL =
      "SELECT allowed, used, \"limit\", remaining, resets_at"
          + " FROM sluice.consume_quota(?, ?, 1, NULL)";
  private static final String RAW_UPDATE_SQL =
      "UPDATE bench_counter SET used = used + 1, updated_at = clock_timestamp()"
          + " WHERE subject = ? AND used + 1 <= lim RETURNING used, lim";

  @Param({"hot", "spread"})
  public String subjects;

  @Param({"1000"})
  public int spreadSubjects;

  HikariDataSource pool;
  AtomicQuotaRepository repository;
  BucketProxy[] buckets;
  String[] names;
  private final AtomicInteger clients = new AtomicInteger();

  @Setup(Level.Trial)
  public void setUp(BenchmarkParams params) {
    QuotaDatabase pg = QuotaDatabase.get();
    int n = subjects.equals("hot") ? 1 : spreadSubjects;
    pg.reset(n);
    names = new String[n];
    for (int i = 0; i < n; i++) {
      names[i] = "s" + i;
    }
    HikariConfig config = new HikariConfig();
    config.setPoolName("bench");
    config.setJdbcUrl(pg.url());
    config.setMaximumPoolSize(params.getThreads());
    config.setMinimumIdle(params.getThreads());
    config.setConnectionTimeout(30_000);
    pool = new HikariDataSource(config);
    repository = AtomicQuotaRepository.create(pool);
    if (params.getBenchmark().endsWith(".bucket4j")) {
      ProxyManager<Long> manager = Bucket4jPostgreSQL.selectForUpdateBasedBuilder(pool).build();
      long limit = QuotaDatabase.NEVER_REFUSES;
      BucketConfiguration bucket = BucketConfiguration.builder()
          .addLimit(Bandwidth.builder().capacity(limit).refillGreedy(limit, Duration.ofDays(30))
              .build())
          .build();
      buckets = new BucketProxy[n];
      for (int i = 0; i < n; i++) {
        buckets[i] = manager.builder().build((long) i, () -> bucket);
        // Creates the row, so that the measured calls take the update path as the others do.
        buckets[i].tryConsume(1);
      }
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    pool.close();
  }

  /** One client: its own order of subjects and its own request ids. */
  @State(Scope.Thread)
  public static class Client {
    private static final int MASK = (1 << 16) - 1;
    int[] order;
    int next;
    long requests;
    String prefix;

    @Setup(Level.Trial)
    public void setUp(QuotaBenchmark bench) {
      int id = bench.clients.incrementAndGet();
      prefix = "c" + id + "-" + System.nanoTime() + "-";
      SplittableRandom random = new SplittableRandom(id);
      order = new int[MASK + 1];
      for (int i = 0; i < order.length; i++) {
        order[i] = random.nextInt(bench.names.length);
      }
    }

    int subject() {
      return order[next++ & MASK];
    }

    String requestId() {
      return prefix + requests++;
    }
  }

  @Benchmark
  public long sluice(Client client) {
    return allowed(repository.consume(names[client.subject()], QUOTA, 1, null));
  }

  @Benchmark
  public long sluiceRequestId(Client client) {
    return allowed(repository.consume(names[client.subject()], QUOTA, 1, client.requestId()));
  }

  @Benchmark
  public long sluiceSql(Client client) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement ps = c.prepareStatement(CONSUME_SQL)) {
      ps.setString(1, names[client.subject()]);
      ps.setString(2, QUOTA);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next() || !rs.getBoolean(1)) {
          throw new IllegalStateException("consume_quota refused a call the benchmark allows");
        }
        return rs.getLong(2);
      }
    }
  }

  @Benchmark
  public long rawUpdate(Client client) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement ps = c.prepareStatement(RAW_UPDATE_SQL)) {
      ps.setString(1, names[client.subject()]);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          throw new IllegalStateException("the raw UPDATE refused a call the benchmark allows");
        }
        return rs.getLong(1);
      }
    }
  }

  @Benchmark
  public boolean bucket4j(Client client) {
    if (!buckets[client.subject()].tryConsume(1)) {
      throw new IllegalStateException("Bucket4j refused a call the benchmark allows");
    }
    return true;
  }

  private static long allowed(QuotaDecision d) {
    if (!d.allowed()) {
      throw new IllegalStateException("Sluice refused a call the benchmark allows: " + d);
    }
    return d.used();
  }
}
