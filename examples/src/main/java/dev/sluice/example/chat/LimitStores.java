package dev.sluice.example.chat;

import dev.sluice.ComponentHealth;
import dev.sluice.HealthContributor;
import dev.sluice.HealthContributors;
import dev.sluice.NanoClock;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimiter;
import dev.sluice.quota.PostgresRateLimitStore;
import dev.sluice.redis.RedisRateLimitStore;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import javax.sql.DataSource;

/**
 * The store the app's rate limiters keep their state in, as {@code --rate-limit-store} chose it:
 * in memory (per instance), in the app's PostgreSQL ({@link PostgresRateLimitStore}, on the same
 * pool as the quota) or in Redis ({@link RedisRateLimitStore}, on one Lettuce connection this
 * class opens and closes). Every limiter built here is counted, so the health report can show
 * the store: which one, its decisions and failures, the last failure, and for Redis a
 * {@code PING}.
 *
 * <p>Thread-safe; {@link #close()} closes the Redis client, never the data source.
 */
final class LimitStores implements AutoCloseable {
  /** How long after a failed decision the store still counts as failing. */
  static final Duration FAILING_FOR = Duration.ofSeconds(10);
  /** The bound on the health check's Redis {@code PING} (unless a test overrides the timeout). */
  static final Duration PING_TIMEOUT = Duration.ofMillis(500);
  /** The key of the start-up decision; no client address looks like it. */
  static final String WARM_UP_KEY = "sluice-start-up";

  /**
   * What tests change: the clock of every limiter and of the health check, null for each store's
   * own (the server's clock for PostgreSQL and Redis; with a clock, the PostgreSQL store calls
   * {@code sluice.rate_limit_acquire_at}, which needs the schema owner's rights); and the bound
   * on one Redis decision, null for the store's default
   * ({@value RedisRateLimitStore.Builder#DEFAULT_COMMAND_TIMEOUT_MILLIS} ms), which a loaded test
   * machine can miss.
   *
   * @param clock the limits' clock, or null
   * @param redisCommandTimeout the bound on a Redis decision, or null
   */
  record Overrides(NanoClock clock, Duration redisCommandTimeout) {
    /** Production: the stores' own clocks and timeouts. */
    static final Overrides NONE = new Overrides(null, null);
  }

  private final AppConfig.LimitStore choice;
  private final DataSource db;
  private final NanoClock limitClock;
  private final Duration redisTimeout;
  private final RedisClient redisClient;
  private final StatefulRedisConnection<String, String> redis;
  private final NanoClock healthClock;
  private final LongAdder decisions = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final AtomicLong lastFailureAt = new AtomicLong();
  private final AtomicReference<String> lastFailure = new AtomicReference<>();

  private LimitStores(AppConfig.LimitStore choice, DataSource db, Overrides overrides,
      RedisClient redisClient, StatefulRedisConnection<String, String> redis,
      NanoClock healthClock) {
    this.choice = choice;
    this.db = db;
    this.limitClock = overrides.clock();
    this.redisTimeout = overrides.redisCommandTimeout();
    this.redisClient = redisClient;
    this.redis = redis;
    this.healthClock = healthClock;
  }

  /**
   * Opens the chosen store: for Redis, connects at once, so a wrong address fails at start-up.
   *
   * @param choice the store
   * @param db the app's pool, used by the PostgreSQL store
   * @param overrides {@link Overrides#NONE}, or what a test changes
   * @return the stores
   * @throws IllegalStateException if Redis cannot be reached
   */
  static LimitStores open(AppConfig.LimitStore choice, DataSource db, Overrides overrides) {
    Objects.requireNonNull(choice, "choice");
    Objects.requireNonNull(db, "db");
    // The health check's clock (failure recency, ping time) follows the limits' in tests.
    NanoClock healthClock = overrides.clock() != null ? overrides.clock() : NanoClock.system();
    if (choice.kind() != AppConfig.LimitStore.Kind.REDIS) {
      return new LimitStores(choice, db, overrides, null, null, healthClock);
    }
    RedisClient client = RedisClient.create(RedisURI.create(choice.redisUri().toString()));
    // While Redis is unreachable every decision fails at once (and the per-IP rules fail open)
    // instead of each waiting for the store's command timeout.
    client.setOptions(ClientOptions.builder()
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
        .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofSeconds(5)).build())
        .build());
    try {
      StatefulRedisConnection<String, String> connection = client.connect();
      return new LimitStores(choice, db, overrides, client, connection, healthClock);
    } catch (RuntimeException e) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      throw new IllegalStateException("--rate-limit-store " + choice + ": cannot connect to Redis ("
          + e.getMessage() + ")", e);
    }
  }

  /**
   * Builds a limiter on the chosen store, its keys under the limiter's name.
   *
   * @param limits a builder with the limiter's name and limit set
   * @param namespace the namespace of its keys in a shared store (the limiter's name)
   * @return the limiter
   */
  RateLimiter<String> build(RateLimiter.Builder limits, String namespace) {
    switch (choice.kind()) {
      case POSTGRES:
        return limits.build(new Counted<>(PostgresRateLimitStore.<String>builder(db, namespace)
            .clock(limitClock).build()));
      case REDIS:
        RedisRateLimitStore.Builder<String> redisStore =
            RedisRateLimitStore.<String>builder(redis, namespace).clock(limitClock);
        if (redisTimeout != null) {
          redisStore.commandTimeout(redisTimeout);
        }
        RedisRateLimitStore<String> store = redisStore.build();
        warmUp(store);
        return limits.build(new Counted<>(store));
      default:
        if (limitClock != null) {
          limits.clock(limitClock);
        }
        return limits.build();
    }
  }

  /**
   * What the start-up banner says about the limits.
   *
   * @return a line's text
   */
  String description() {
    switch (choice.kind()) {
      case POSTGRES:
        return "per-IP limits shared by every instance on this database (PostgreSQL store)";
      case REDIS:
        return "per-IP limits shared by every instance on " + choice + " (Redis store)";
      default:
        return "per-IP limits in memory, per instance (--rate-limit-store postgres or"
            + " redis://host:port shares them)";
    }
  }

  /**
   * A health component {@code rate-limit-store}: the store, whether it is shared, decisions it
   * made and failures since start, the last failure, and for Redis a timed {@code PING}. It scores 100,
   * 40 while a decision failed within {@link #FAILING_FOR} (the per-IP rules then let requests
   * through unlimited), 0 when Redis does not answer its ping, else the ping's latency against
   * the store's command timeout.
   *
   * @return the contributor
   */
  HealthContributor healthContributor() {
    return () -> {
      Map<String, Object> figures = new LinkedHashMap<>();
      figures.put("store", choice.toString());
      figures.put("shared", choice.shared());
      long failed = failures.sum();
      figures.put("decisions", decisions.sum());
      figures.put("failures", failed);
      boolean failing = failed > 0
          && healthClock.nanoTime() - lastFailureAt.get() < FAILING_FOR.toNanos();
      figures.put("failing", failing);
      String last = lastFailure.get();
      if (last != null) {
        figures.put("lastFailure", last);
      }
      List<String> advice = new ArrayList<>();
      int score = 100;
      if (redis != null) {
        score = ping(figures, advice);
      }
      if (failing) {
        score = Math.min(score, 40);
        advice.add("the rate-limit store (" + choice + ") is failing (" + failed + " failures so"
            + " far): per-IP limits let requests through unlimited until it answers again");
      }
      return new ComponentHealth("rate-limit-store", score, figures, advice);
    };
  }

  private int ping(Map<String, Object> figures, List<String> advice) {
    long start = healthClock.nanoTime();
    try {
      Duration bound = redisTimeout != null ? redisTimeout : PING_TIMEOUT;
      redis.async().ping().get(bound.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      figures.put("pingError", "interrupted");
      return 0;
    } catch (ExecutionException | TimeoutException | RuntimeException e) {
      Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
      String what = cause.getClass().getSimpleName() + ": " + cause.getMessage();
      figures.put("pingError", what);
      advice.add("Redis at " + choice + " does not answer (" + what + "): check the server;"
          + " Lettuce reconnects by itself");
      return 0;
    }
    double ms = (healthClock.nanoTime() - start) / 1_000 / 1000.0;
    figures.put("pingMs", ms);
    long target = RedisRateLimitStore.Builder.DEFAULT_COMMAND_TIMEOUT_MILLIS;
    int score = HealthContributors.score(ms, target);
    if (score < 85) {
      advice.add(String.format(Locale.ROOT, "Redis answered a PING in %.0f ms; decisions fail"
          + " after %d ms: check the network and the server's load", ms, target));
    }
    return score;
  }

  /**
   * One throwaway decision before the first request. A cold start (the script not yet cached in
   * Redis, so {@code EVALSHA}, {@code NOSCRIPT}, {@code EVAL}; Lettuce and the JIT not warm) can
   * take longer than the store's 100 ms command timeout, and the first real decisions would then
   * fail open. The key costs 1 ns of a 1 ns bucket, so Redis drops it within a millisecond.
   */
  private static void warmUp(RedisRateLimitStore<String> store) {
    try {
      store.acquireAsync(WARM_UP_KEY, 1, 1).toCompletableFuture().get(5, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      // Missed the deadline while cold: the script is loaded all the same, the next step is warm.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void failed(Throwable e) {
    failures.increment();
    lastFailureAt.set(healthClock.nanoTime());
    lastFailure.set(e.getMessage());
  }

  @Override
  public void close() {
    if (redis != null) {
      redis.close();
      redisClient.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /**
   * A store that counts its decisions and failures for the health report. Delegates everything,
   * including {@link #isRemote()}, so the limiter treats it as the store it wraps.
   */
  private final class Counted<K> implements RateLimitStore<K> {
    private final RateLimitStore<K> delegate;

    Counted(RateLimitStore<K> delegate) {
      this.delegate = delegate;
    }

    @Override
    public Outcome acquire(K key, long incrementNanos, long toleranceNanos) {
      Outcome outcome;
      try {
        outcome = delegate.acquire(key, incrementNanos, toleranceNanos);
      } catch (RuntimeException e) {
        failed(e);
        throw e;
      }
      decisions.increment();
      return outcome;
    }

    @Override
    public CompletionStage<Outcome> acquireAsync(K key, long incrementNanos,
        long toleranceNanos) {
      // Completed by hand: whenComplete's stage would wrap a store failure in a
      // CompletionException, and callers expect the RateLimitStoreException itself.
      CompletableFuture<Outcome> result = new CompletableFuture<>();
      delegate.acquireAsync(key, incrementNanos, toleranceNanos).whenComplete((o, e) -> {
        if (e != null) {
          failed(e);
          result.completeExceptionally(e);
        } else {
          decisions.increment();
          result.complete(o);
        }
      });
      return result;
    }

    @Override
    public boolean isRemote() {
      return delegate.isRemote();
    }

    @Override
    public String toString() {
      return delegate.toString();
    }
  }
}
