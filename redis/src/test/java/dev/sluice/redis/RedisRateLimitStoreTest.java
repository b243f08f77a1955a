package dev.sluice.redis;

import dev.sluice.testing.RedisServer;
import dev.sluice.testing.Await;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.ComponentHealth;
import dev.sluice.HealthContributor;
import dev.sluice.HealthContributors;
import dev.sluice.RateLimiter;
import dev.sluice.StoreStats;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RedisRateLimitStoreTest {
  private static final Duration PATIENT = Duration.ofSeconds(20);
  private final List<RedisClient> clients = new ArrayList<>();
  private final List<RedisServer> servers = new ArrayList<>();

  @AfterEach
  void tearDown() {
    for (RedisClient client : clients) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(5));
    }
    servers.forEach(RedisServer::stop);
  }

  private StatefulRedisConnection<String, String> connect(String uri) {
    RedisClient client = RedisClient.create(uri);
    clients.add(client);
    return client.connect();
  }

  /**
   * A store with a timeout no busy machine reaches: only the tests about timeouts use short ones
   * (a cold JVM's first script load can take longer than the default 100 ms).
   */
  private static RedisRateLimitStore<String> store(
      StatefulRedisConnection<String, String> connection, String namespace) {
    return RedisRateLimitStore.<String>builder(connection, namespace).commandTimeout(PATIENT)
        .build();
  }

  private static String namespace(String prefix) {
    return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
  }

  @Test
  void acquire_allowed_storesTheTatUnderAHashTaggedKeyWithATtlUntilTheBucketIsFull() {
    StatefulRedisConnection<String, String> connection = connect(TestRedis.uri());
    String ns = namespace("layout");
    RedisRateLimitStore<String> store = store(connection, ns);
    long minute = Duration.ofMinutes(1).toNanos();
    long before = System.currentTimeMillis();

    RateLimitStore.Outcome outcome = store.acquire("203.0.113.9", minute, 5 * minute);

    String key = "sluice:rl:" + ns + ":{203.0.113.9}";
    assertThat(store.redisKey("203.0.113.9")).isEqualTo(key);
    assertThat(outcome.allowed()).isTrue();
    assertThat(outcome.nowNanos() % 1_000).as("microsecond resolution").isZero();
    assertThat(outcome.nowNanos() / 1_000_000).isBetween(before - 60_000, before + 60_000);
    assertThat(outcome.tatNanos()).isEqualTo(outcome.nowNanos() + minute);
    RedisCommands<String, String> redis = connection.sync();
    assertThat(redis.get(key)).isEqualTo(Long.toString(outcome.tatNanos()));
    assertThat(redis.pttl(key)).isBetween(1L, 60_001L).isGreaterThan(30_000L);
  }

  @Test
  void acquire_refused_writesNothing() {
    StatefulRedisConnection<String, String> connection = connect(TestRedis.uri());
    AtomicLong now = new AtomicLong(5_000_000_000L);
    RedisRateLimitStore<String> store = RedisRateLimitStore.<String>builder(connection,
        namespace("refuse")).commandTimeout(PATIENT).clock(now::get).build();
    RedisCommands<String, String> redis = connection.sync();

    assertThat(store.acquire("k", 100, 200)).isEqualTo(
        new RateLimitStore.Outcome(true, 5_000_000_100L, 5_000_000_000L));
    long ttl = redis.pttl(store.redisKey("k"));
    assertThat(store.acquire("k", 300, 200)).isEqualTo(
        new RateLimitStore.Outcome(false, 5_000_000_100L, 5_000_000_000L));
    assertThat(store.acquire("other", 300, 200)).isEqualTo(
        new RateLimitStore.Outcome(false, 5_000_000_000L, 5_000_000_000L));

    assertThat(redis.get(store.redisKey("k"))).isEqualTo("5000000100");
    assertThat(redis.pttl(store.redisKey("k"))).isBetween(1L, ttl);
    assertThat(redis.exists(store.redisKey("other"))).isZero();
  }

  /** Lua numbers are doubles: the script carries times as two parts; every sign and carry. */
  @Test
  void acquire_timesAcrossTheWholeLongRange_areStoredAndReadBackExactly() {
    StatefulRedisConnection<String, String> connection = connect(TestRedis.uri());
    AtomicLong now = new AtomicLong();
    RedisRateLimitStore<String> store = RedisRateLimitStore.<String>builder(connection,
        namespace("range")).commandTimeout(PATIENT).clock(now::get).build();
    long[] origins = {0, 1, 999_999_999, 1_000_000_000, -1, -999_999_999, -1_000_000_000,
        -1_000_000_001, Long.MIN_VALUE / 4 + 7, Long.MAX_VALUE / 4 - 7, 1_767_225_600_123_456_789L};
    long increment = 999_999_999;
    long tolerance = 3 * increment;

    for (long origin : origins) {
      now.set(origin);
      String key = "k" + origin;
      for (int i = 1; i <= 3; i++) {
        RateLimitStore.Outcome outcome = store.acquire(key, increment, tolerance);
        assertThat(outcome).as("origin %d call %d", origin, i)
            .isEqualTo(new RateLimitStore.Outcome(true, origin + i * increment, origin));
        assertThat(connection.sync().get(store.redisKey(key)))
            .isEqualTo(Long.toString(origin + i * increment));
      }
      assertThat(store.acquire(key, increment, tolerance))
          .isEqualTo(new RateLimitStore.Outcome(false, origin + 3 * increment, origin));
    }
  }

  @Test
  void acquire_afterScriptFlush_reloadsTheScriptAndDecidesOn() {
    StatefulRedisConnection<String, String> connection = connect(TestRedis.uri());
    RateLimiter<String> limiter = RateLimiter.builder().name("flush").limit(2, Duration.ofHours(1))
        .build(store(connection, namespace("flush")));
    String digest = connection.sync().digest(RedisRateLimitStore.SCRIPT);

    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    connection.sync().scriptFlush();
    assertThat(connection.sync().scriptExists(digest)).containsExactly(false);

    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    assertThat(connection.sync().scriptExists(digest)).containsExactly(true);
  }

  @Test
  void acquire_serverPausedLongerThanTheTimeout_failsWithRateLimitStoreExceptionThenAnswers()
      throws Exception {
    RedisServer server = ownServer();
    StatefulRedisConnection<String, String> connection = connect(server.uri());
    StatefulRedisConnection<String, String> admin = connect(server.uri());
    String ns = namespace("pause");
    RedisRateLimitStore<String> patient = store(connection, ns);
    RedisRateLimitStore<String> store = RedisRateLimitStore.<String>builder(connection, ns)
        .commandTimeout(Duration.ofMillis(100)).build();
    assertThat(patient.acquire("k", 1_000, 5_000).allowed()).isTrue();

    // WRITE mode holds every script (a script may write) but still serves CLIENT UNPAUSE.
    client(admin, "PAUSE", "30000", "WRITE");
    try {
      CompletableFuture<RateLimitStore.Outcome> stage =
          store.acquireAsync("k", 1_000, 5_000).toCompletableFuture();
      Throwable failure = catchThrowable(() -> stage.get(10, SECONDS));
      assertThat(failure).isInstanceOf(ExecutionException.class)
          .cause().isInstanceOf(RateLimitStoreException.class)
          .hasMessageContaining("did not answer within 100 ms");
      assertThatThrownBy(() -> store.acquire("k", 1_000, 5_000))
          .isInstanceOf(RateLimitStoreException.class);
    } finally {
      client(admin, "UNPAUSE");
    }

    assertThat(patient.acquire("fresh", 1_000, 5_000).allowed()).isTrue();
  }

  /**
   * The client rejects commands while disconnected (the option the store's javadoc recommends),
   * so steps fail at once during the outage rather than each after its timeout, and the timeout
   * can be one no busy machine reaches.
   */
  @Test
  void acquire_serverStoppedAndStartedAgain_failsMeanwhileLogsOncePerIntervalAndRecovers()
      throws Exception {
    RedisServer server = ownServer();
    RedisClient client = RedisClient.create(server.uri());
    clients.add(client);
    client.setOptions(ClientOptions.builder()
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS).build());
    StatefulRedisConnection<String, String> connection = client.connect();
    AtomicLong logTime = new AtomicLong();
    List<String> logged = new CopyOnWriteArrayList<>();
    String ns = namespace("restart");
    RedisRateLimitStore<String> store =
        RedisRateLimitStore.<String>builder(connection, ns)
            .commandTimeout(PATIENT)
            .failureLogInterval(Duration.ofSeconds(10))
            .failureLog(logTime::get, logged::add)
            .build();
    RateLimiter<String> limiter = RateLimiter.builder().name("restart")
        .limit(2, Duration.ofHours(1))
        .build(store);
    HealthContributor health = HealthContributors.rateLimitStore(store);
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    assertThat(health.check().score()).isEqualTo(100);

    server.stop();
    for (int i = 0; i < 5; i++) {
      assertThatThrownBy(() -> limiter.tryAcquire("k")).isInstanceOf(RateLimitStoreException.class);
    }
    assertThat(logged).hasSize(1);
    logTime.addAndGet(Duration.ofSeconds(10).toNanos());
    assertThatThrownBy(() -> limiter.tryAcquire("k")).isInstanceOf(RateLimitStoreException.class);
    assertThat(logged).hasSize(2);
    assertThat(logged.get(1)).contains("and 4 more failures");
    StoreStats down = store.stats().orElseThrow();
    assertThat(down).isEqualTo(new StoreStats("redis:" + ns, 7, 6, 6));
    ComponentHealth unhealthy = health.check();
    assertThat(unhealthy.name()).isEqualTo("store:redis:" + ns);
    assertThat(unhealthy.score()).isEqualTo(HealthContributors.OPEN_SCORE);
    assertThat(unhealthy.figures()).containsEntry("failing", true)
        .containsEntry("consecutiveFailures", 6L);
    assertThat(unhealthy.recommendations()).singleElement().asString()
        .contains("failed its last 6 calls");

    server.restart();
    RateLimitDecision decision = awaitAnswer(limiter);
    // The server kept nothing (no persistence): the key starts again with a full bucket.
    assertThat(decision.allowed()).isTrue();
    assertThat(decision.remaining()).isEqualTo(1);
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    StoreStats up = store.stats().orElseThrow();
    assertThat(up.consecutiveFailures()).isZero();
    assertThat(up.calls() - up.failures()).isEqualTo(4); // the four answered steps
    assertThat(health.check().score()).isEqualTo(100);
  }

  /**
   * Waits, at most a minute, for Lettuce to reconnect by itself (its back-off between attempts
   * grows to seconds); the wait is for a real event, and every call in it is itself bounded.
   */
  private static RateLimitDecision awaitAnswer(RateLimiter<String> limiter)
      throws InterruptedException {
    return Await.result(() -> limiter.tryAcquire("k"), Duration.ofMinutes(1),
        "the store to answer after the restart");
  }

  private static void client(StatefulRedisConnection<String, String> connection, String... args) {
    CommandArgs<String, String> commandArgs = new CommandArgs<>(StringCodec.UTF8);
    for (String arg : args) {
      commandArgs.add(arg);
    }
    assertThat(connection.sync().dispatch(CommandType.CLIENT, new StatusOutput<>(StringCodec.UTF8),
        commandArgs)).isEqualTo("OK");
  }

  private RedisServer ownServer() throws Exception {
    RedisServer server = TestRedis.startOwnServer();
    servers.add(server);
    return server;
  }

  @Test
  void builder_badArguments_areRejectedNamingTheArgument() {
    StatefulRedisConnection<String, String> connection = connect(TestRedis.uri());

    assertThatThrownBy(() -> RedisRateLimitStore.create(connection, " "))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("namespace");
    assertThatThrownBy(() -> RedisRateLimitStore.create(connection, "a{b"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("namespace")
        .hasMessageContaining("hash tag");
    assertThatThrownBy(() -> RedisRateLimitStore.builder(connection, "ns").prefix("x}"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("prefix");
    assertThatThrownBy(() -> RedisRateLimitStore.builder(connection, "ns")
        .commandTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("commandTimeout");
    assertThatThrownBy(() -> RedisRateLimitStore.builder(connection, "ns")
        .failureLogInterval(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("failureLogInterval");
    assertThatThrownBy(() -> RedisRateLimitStore.create(
        (StatefulRedisConnection<String, String>) null, "ns"))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("connection");
  }

  @Test
  void limiter_overRedis_isNotLocal() {
    RateLimiter<String> limiter = RateLimiter.builder().limit(1, Duration.ofSeconds(1))
        .build(store(connect(TestRedis.uri()), namespace("remote")));

    assertThat(limiter.isLocal()).isFalse();
  }
}
