package dev.sluice.quota;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.RateLimitDecision;
import dev.sluice.HealthContributors;
import dev.sluice.RateLimitStore;
import dev.sluice.StoreStats;
import dev.sluice.RateLimitStoreException;
import dev.sluice.RateLimiter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PostgresRateLimitStoreTest {
  private static QuotaDatabase pg;
  private static HikariDataSource pool;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    pool = pg.pool("ratelimit", 8);
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  @Test
  void tryAcquire_sameSequence_decidesExactlyAsTheInMemoryStore() {
    assertSameDecisions(5, Duration.ofMinutes(1), 5, 1L);
    assertSameDecisions(7, Duration.ofSeconds(1), 3, -4_000_000_000L);
    assertSameDecisions(3, Duration.ofMillis(10), 1, Long.MAX_VALUE / 4);
  }

  private static void assertSameDecisions(int limit, Duration period, int burst, long origin) {
    AtomicLong now = new AtomicLong(origin);
    RateLimiter.Builder builder = RateLimiter.builder().name("cmp").limit(limit, period)
        .burst(burst).clock(now::get);
    RateLimiter<String> memory = builder.build();
    RateLimiter<String> postgres = builder.build(
        PostgresRateLimitStore.<String>builder(pool, QuotaDatabase.unique("cmp"))
            .clock(now::get).build());
    Random random = new Random(limit * 31L + burst);
    long interval = memory.emissionInterval().toNanos();
    String[] keys = {"alice", "bob", "10.0.0.1"};

    for (int step = 0; step < 400; step++) {
      now.addAndGet((long) (random.nextDouble() * 1.5 * interval));
      String key = keys[random.nextInt(keys.length)];
      int cost = 1 + random.nextInt(burst);
      RateLimitDecision expected = memory.tryAcquire(key, cost);
      RateLimitDecision actual = postgres.tryAcquire(key, cost);
      assertThat(actual).as("step %d, key %s, cost %d", step, key, cost).isEqualTo(expected);
    }
  }

  @Test
  void tryAcquire_freshKeyWithCostEqualToBurstOnAClockThatTicksOnEveryRead_isAllowed() {
    // Issue 12: a store that read the clock again for a new key's cell refused its first call.
    AtomicLong ticks = new AtomicLong(1_000_000_000L);
    RateLimiter<String> one = RateLimiter.builder().name("tick1").limit(1, Duration.ofMinutes(1))
        .clock(ticks::incrementAndGet)
        .build(PostgresRateLimitStore.<String>builder(pool, QuotaDatabase.unique("tick1"))
            .clock(ticks::incrementAndGet).build());
    RateLimiter<String> five = RateLimiter.builder().name("tick5").limit(5, Duration.ofMinutes(1))
        .clock(ticks::incrementAndGet)
        .build(PostgresRateLimitStore.<String>builder(pool, QuotaDatabase.unique("tick5"))
            .clock(ticks::incrementAndGet).build());

    for (int i = 0; i < 20; i++) {
      String key = "fresh-" + i;
      assertThat(one.tryAcquire(key, 1)).as(key).satisfies(d -> {
        assertThat(d.allowed()).isTrue();
        assertThat(d.remaining()).isZero();
      });
      assertThat(one.tryAcquire(key, 1).allowed()).as(key).isFalse();
      assertThat(five.tryAcquire(key, 5).allowed()).as(key).isTrue();
      assertThat(five.tryAcquire(key, 1).allowed()).as(key).isFalse();
    }
  }

  @Test
  void tryAcquire_freshKeyWithCostEqualToBurstOnServerClock_isAllowed() {
    RateLimiter<String> five = RateLimiter.builder().name("srv5").limit(5, Duration.ofMinutes(1))
        .build(PostgresRateLimitStore.create(pool, QuotaDatabase.unique("srv5")));

    for (int i = 0; i < 20; i++) {
      assertThat(five.tryAcquire("fresh-" + i, 5).allowed()).as("fresh-" + i).isTrue();
    }
  }

  @Test
  void acquire_32ThreadsOnOneKeyOnServerClock_allowExactlyTheBurst() throws Exception {
    // 32 threads queue on one row lock through 8 connections: on a loaded machine that can take
    // longer than the default 100 ms, which would be a (correct) timeout, not what this tests.
    RateLimiter<String> limiter = RateLimiter.builder().name("burst")
        .limit(5, Duration.ofHours(1))
        .build(PostgresRateLimitStore.<String>builder(pool, QuotaDatabase.unique("burst"))
            .statementTimeout(Duration.ofSeconds(30)).build());
    ExecutorService threads = Executors.newFixedThreadPool(32);
    try {
      CyclicBarrier start = new CyclicBarrier(32);
      List<Future<Boolean>> futures = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        futures.add(threads.submit(() -> {
          start.await(10, SECONDS);
          return limiter.tryAcquirePermit("hot");
        }));
      }
      int allowed = 0;
      for (Future<Boolean> f : futures) {
        allowed += f.get(60, SECONDS) ? 1 : 0;
      }
      assertThat(allowed).isEqualTo(5);
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void acquire_serverClock_reportsEpochNanosWithMicrosecondResolution() {
    PostgresRateLimitStore<String> store = PostgresRateLimitStore.create(pool, "clock");
    long before = System.currentTimeMillis();

    RateLimitStore.Outcome outcome = store.acquire(QuotaDatabase.unique("k"), 1_000, 5_000);

    assertThat(outcome.allowed()).isTrue();
    assertThat(outcome.nowNanos() % 1_000).isZero();
    assertThat(outcome.nowNanos() / 1_000_000).isBetween(before - 60_000, before + 60_000);
    assertThat(outcome.tatNanos()).isEqualTo(outcome.nowNanos() + 1_000);
  }

  @Test
  void acquire_sameKeyInTwoNamespaces_keepsSeparateState() {
    AtomicLong now = new AtomicLong();
    PostgresRateLimitStore<String> a = PostgresRateLimitStore.<String>builder(pool,
        QuotaDatabase.unique("ns")).clock(now::get).build();
    PostgresRateLimitStore<String> b = PostgresRateLimitStore.<String>builder(pool,
        QuotaDatabase.unique("ns")).clock(now::get).build();

    assertThat(a.acquire("k", 10, 10).allowed()).isTrue();
    assertThat(a.acquire("k", 10, 10).allowed()).isFalse();
    assertThat(b.acquire("k", 10, 10).allowed()).isTrue();
  }

  @Test
  void acquire_refused_reportsTheStoredTatAndKeepsIt() {
    AtomicLong now = new AtomicLong(1_000);
    PostgresRateLimitStore<Integer> store = PostgresRateLimitStore.<Integer>builder(pool,
        QuotaDatabase.unique("refuse")).keyText(k -> "user:" + k).clock(now::get).build();

    assertThat(store.acquire(7, 100, 200)).isEqualTo(new RateLimitStore.Outcome(true, 1_100, 1_000));
    assertThat(store.acquire(7, 100, 200)).isEqualTo(new RateLimitStore.Outcome(true, 1_200, 1_000));
    assertThat(store.acquire(7, 100, 200))
        .isEqualTo(new RateLimitStore.Outcome(false, 1_200, 1_000));
    assertThat(store.acquire(7, 300, 200)).isEqualTo(new RateLimitStore.Outcome(false, 1_200, 1_000));
    assertThat(store.acquire(8, 300, 200)).isEqualTo(new RateLimitStore.Outcome(false, 1_000, 1_000));
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.rate_limit_state WHERE namespace = '"
        + store.namespace() + "' AND key = 'user:7'")).isOne();
  }

  @Test
  void acquire_databaseUnreachable_throwsRateLimitStoreException() {
    PostgresRateLimitStore<String> store = PostgresRateLimitStore.create(
        QuotaDatabase.dataSource("jdbc:postgresql://127.0.0.1:1/nowhere?connectTimeout=2", null),
        "down");

    assertThatThrownBy(() -> store.acquire("k", 1, 1))
        .isInstanceOf(RateLimitStoreException.class)
        .hasMessageContaining("down");
  }

  @Test
  void theStoreIsRemote_soALimiterOnItIsNotLocal() {
    try (PostgresRateLimitStore<String> store = PostgresRateLimitStore.create(pool, "remote")) {
      assertThat(store.isRemote()).isTrue();
      assertThat(store.statementTimeout()).isEqualTo(Duration.ofMillis(100));
      RateLimiter<String> limiter = RateLimiter.builder().name("r")
          .limit(1, Duration.ofMinutes(1)).build(store);
      assertThat(limiter.isLocal()).isFalse();
    }
  }

  @Test
  void acquireAsync_runsTheStatementOnTheStoresOwnNamedDaemonThread_andDecidesAsAcquire()
      throws Exception {
    AtomicLong now = new AtomicLong(5_000);
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    String namespace = QuotaDatabase.unique("async");
    try (PostgresRateLimitStore<String> store = PostgresRateLimitStore.<String>builder(pool,
        namespace).clock(() -> {
          ranOn.set(Thread.currentThread());
          return now.get();
        }).build()) {
      assertThat(store.acquireAsync("k", 100, 200).toCompletableFuture().get(10, SECONDS))
          .isEqualTo(new RateLimitStore.Outcome(true, 5_100, 5_000));
      assertThat(ranOn.get().getName()).startsWith("sluice-pg-rate-limit-" + namespace + "-");
      assertThat(ranOn.get().isDaemon()).isTrue();
      assertThat(store.acquire("k", 100, 200))
          .isEqualTo(new RateLimitStore.Outcome(true, 5_200, 5_000));
      assertThat(ranOn.get()).isSameAs(Thread.currentThread());
      assertThat(store.acquireAsync("k", 100, 200).toCompletableFuture().get(10, SECONDS))
          .isEqualTo(new RateLimitStore.Outcome(false, 5_200, 5_000));
    }
  }

  @Test
  void acquireAsync_onAGivenExecutor_usesIt_andARejectedStepFailsWithoutThrowing()
      throws Exception {
    ExecutorService mine = Executors.newSingleThreadExecutor(r -> new Thread(r, "mine"));
    try {
      AtomicReference<String> ranOn = new AtomicReference<>();
      PostgresRateLimitStore<String> store = PostgresRateLimitStore.<String>builder(pool,
          QuotaDatabase.unique("given")).executor(mine).clock(() -> {
            ranOn.set(Thread.currentThread().getName());
            return 1L;
          }).build();
      assertThat(store.acquireAsync("k", 1, 1).toCompletableFuture().get(10, SECONDS).allowed())
          .isTrue();
      assertThat(ranOn).hasValue("mine");
      store.close(); // leaves a given executor alone
      assertThat(mine.isShutdown()).isFalse();
    } finally {
      mine.shutdownNow();
    }

    PostgresRateLimitStore<String> saturated = PostgresRateLimitStore.<String>builder(pool,
        "saturated").executor(r -> {
          throw new RejectedExecutionException("queue full");
        }).build();
    CompletableFuture<RateLimitStore.Outcome> refused =
        saturated.acquireAsync("k", 1, 1).toCompletableFuture();
    assertThat(refused).isCompletedExceptionally();
    assertThatThrownBy(() -> refused.get(1, SECONDS)).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(RateLimitStoreException.class).hasMessageContaining("saturated");
  }

  @Test
  void close_shutsTheOwnExecutorDown_laterAsyncStepsFail_syncStepsStillWork() throws Exception {
    PostgresRateLimitStore<String> store =
        PostgresRateLimitStore.create(pool, QuotaDatabase.unique("closed"));
    assertThat(store.acquireAsync("k", 1, 10).toCompletableFuture().get(10, SECONDS).allowed())
        .isTrue();
    store.close();
    store.close();
    CompletableFuture<RateLimitStore.Outcome> after =
        store.acquireAsync("k", 1, 10).toCompletableFuture();
    assertThatThrownBy(() -> after.get(10, SECONDS)).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(RateLimitStoreException.class);
    assertThat(store.acquire("k", 1, 10).allowed()).isTrue();
  }

  @Test
  void aStepWaitingOnARowAnotherTransactionLocked_timesOut_withRateLimitStoreException()
      throws Exception {
    try (HikariDataSource one = pg.pool(QuotaDatabase.unique("one"), 1)) {
      String namespace = QuotaDatabase.unique("locked");
      PostgresRateLimitStore<String> store = PostgresRateLimitStore.<String>builder(one, namespace)
          .statementTimeout(Duration.ofMillis(200)).build();
      assertThat(store.acquire("hot", 1_000, 1_000_000_000L).allowed()).isTrue();
      ExecutorService caller = Executors.newSingleThreadExecutor();
      try (Connection holder = pg.dataSource().getConnection()) {
        holder.setAutoCommit(false);
        try (PreparedStatement lock = holder.prepareStatement("SELECT 1 FROM"
            + " sluice.rate_limit_state WHERE namespace = ? AND key = 'hot' FOR UPDATE")) {
          lock.setString(1, namespace);
          try (ResultSet rs = lock.executeQuery()) {
            assertThat(rs.next()).isTrue();
          }
        }
        // Bounded: the server cancels the step; were the timeout not applied it would wait here
        // until the lock is released, and the get below would fail after 10 s.
        Future<RateLimitStore.Outcome> sync =
            caller.submit(() -> store.acquire("hot", 1_000, 1_000_000_000L));
        assertThatThrownBy(() -> sync.get(10, SECONDS)).isInstanceOf(ExecutionException.class)
            .cause().isInstanceOf(RateLimitStoreException.class)
            .hasMessageContaining("timed out after 200 ms").hasMessageContaining(namespace);
        CompletableFuture<RateLimitStore.Outcome> async =
            store.acquireAsync("hot", 1_000, 1_000_000_000L).toCompletableFuture();
        assertThatThrownBy(() -> async.get(10, SECONDS)).isInstanceOf(ExecutionException.class)
            .cause().isInstanceOf(RateLimitStoreException.class)
            .hasMessageContaining("timed out");
        holder.rollback();
      } finally {
        caller.shutdownNow();
        store.close();
      }
      assertThat(store.stats()).contains(new StoreStats("postgres:" + namespace, 3, 2, 2));
      assertThat(HealthContributors.rateLimitStore(store).check().score())
          .isEqualTo(HealthContributors.HALF_OPEN_SCORE);
      // The pool's only connection is healthy and kept no timeout of its own.
      assertThat(store.acquire("hot", 1_000, 1_000_000_000L).allowed()).isTrue();
      assertThat(store.stats()).contains(new StoreStats("postgres:" + namespace, 4, 2, 0));
      try (Connection c = one.getConnection();
          var s = c.createStatement();
          ResultSet rs = s.executeQuery("SHOW statement_timeout")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).isEqualTo("0");
      }
    }
  }

  @Test
  void statementTimeoutZero_disablesIt_andInvalidValuesFailAtBuild() {
    PostgresRateLimitStore<String> plain = PostgresRateLimitStore.<String>builder(pool,
        QuotaDatabase.unique("plain")).statementTimeout(Duration.ZERO).build();
    assertThat(plain.statementTimeout()).isZero();
    assertThat(plain.acquire("k", 1, 1).allowed()).isTrue();
    plain.close();
    for (Duration bad : List.of(Duration.ofMillis(-1), Duration.ofNanos(500_000),
        Duration.ofDays(30))) {
      PostgresRateLimitStore.Builder<String> builder =
          PostgresRateLimitStore.<String>builder(pool, "bad").statementTimeout(bad);
      assertThatThrownBy(builder::build).as(bad.toString())
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("statementTimeout");
    }
    assertThatThrownBy(() -> PostgresRateLimitStore.builder(pool, "x").statementTimeout(null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> PostgresRateLimitStore.builder(pool, "x").executor(null))
        .isInstanceOf(NullPointerException.class);
  }
}
