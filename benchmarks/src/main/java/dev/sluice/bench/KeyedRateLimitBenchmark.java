package dev.sluice.bench;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimiter;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.RateLimiterRegistry;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A keyed rate-limit decision where every call is allowed: Sluice against Bucket4j, Resilience4j,
 * Failsafe and Guava, each in the shape its users would build a per-key limiter.
 *
 * <ul>
 *   <li>Sluice: {@code RateLimiter} (GCRA, one {@code AtomicLong} per key in Caffeine), both the
 *       boolean {@code tryAcquirePermit} and the {@code RateLimitDecision} of {@code tryAcquire}.
 *   <li>Bucket4j: a lock-free {@code Bucket} per key in a Caffeine cache, {@code tryConsume(1)}.
 *   <li>Resilience4j: a {@code RateLimiter} per key from a {@code RateLimiterRegistry},
 *       {@code acquirePermission()} with a zero timeout.
 *   <li>Failsafe: a bursty {@code RateLimiter} per key in a Caffeine cache,
 *       {@code tryAcquirePermit()}.
 *   <li>Guava: a {@code RateLimiter} per key in a Caffeine cache, {@code tryAcquire()}.
 * </ul>
 *
 * <p>Every Caffeine cache, Sluice's included, is bounded to {@link KeyStream#KEY_COUNT} keys and
 * expires idle keys, so each library holds the same keys the same way; {@code failsafeSizeOnly}
 * drops the idle expiry to show what it costs. Run with {@code -t 1} and
 * {@code -t 2}, and {@code -prof gc} for B/op.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class KeyedRateLimitBenchmark {
  /** Calls allowed per {@link #PERIOD}: far beyond what any thread can make. */
  static final int LIMIT = Integer.MAX_VALUE;
  /** The limit's period, and the idle expiry of every per-key cache. */
  static final Duration PERIOD = Duration.ofSeconds(10);

  /** How keys are drawn: {@code hot} (one key), {@code uniform} or {@code skewed} (Zipf). */
  @Param({"hot", "uniform", "skewed"})
  public String keys;

  /** Sluice's limiter over its default in-memory store. */
  @State(Scope.Benchmark)
  public static class SluiceState {
    RateLimiter<String> limiter;

    /** Builds the limiter and touches every key once. */
    @Setup(Level.Trial)
    public void setUp() {
      limiter = RateLimiter.builder()
          .name("bench")
          .limit(LIMIT, PERIOD)
          .maxKeys(KeyStream.KEY_COUNT)
          .build();
      for (String key : KeyStream.allKeys()) {
        limiter.tryAcquirePermit(key);
      }
    }
  }

  /** Bucket4j: a lock-free local bucket per key in Caffeine. */
  @State(Scope.Benchmark)
  public static class Bucket4jState {
    Cache<String, Bucket> buckets;
    Function<String, Bucket> newBucket;

    /** Builds the cache and touches every key once. */
    @Setup(Level.Trial)
    public void setUp() {
      Bandwidth bandwidth = Bandwidth.builder().capacity(LIMIT).refillGreedy(LIMIT, PERIOD).build();
      buckets = peerCache();
      newBucket = key -> Bucket.builder().addLimit(bandwidth).build();
      for (String key : KeyStream.allKeys()) {
        buckets.get(key, newBucket).tryConsume(1);
      }
    }
  }

  /** Resilience4j: its registry is the per-key map. */
  @State(Scope.Benchmark)
  public static class Resilience4jState {
    RateLimiterRegistry registry;

    /** Builds the registry and creates every key's limiter. */
    @Setup(Level.Trial)
    public void setUp() {
      registry = RateLimiterRegistry.of(RateLimiterConfig.custom()
          .limitForPeriod(LIMIT)
          .limitRefreshPeriod(PERIOD)
          .timeoutDuration(Duration.ZERO)
          .build());
      for (String key : KeyStream.allKeys()) {
        registry.rateLimiter(key).acquirePermission();
      }
    }
  }

  /** Failsafe: a bursty limiter per key in Caffeine. */
  @State(Scope.Benchmark)
  public static class FailsafeState {
    Cache<String, dev.failsafe.RateLimiter<Object>> limiters;
    Function<String, dev.failsafe.RateLimiter<Object>> newLimiter;

    /** Builds the cache and touches every key once. */
    @Setup(Level.Trial)
    public void setUp() {
      limiters = peerCache();
      // Bursty, not smooth: a smooth limiter at this rate spaces permits 1 ns apart and refuses
      // the second of two calls in the same nanosecond, which two threads do.
      newLimiter = key -> dev.failsafe.RateLimiter.burstyBuilder(LIMIT, PERIOD).build();
      for (String key : KeyStream.allKeys()) {
        limiters.get(key, newLimiter).tryAcquirePermit();
      }
    }
  }

  /**
   * Failsafe in a Caffeine cache bounded by size only, without idle expiry: the cheapest way to
   * hold per-key limiters (Caffeine then never reads the clock), but idle keys stay until evicted
   * for space. Shown so the expiry's own cost is visible.
   */
  @State(Scope.Benchmark)
  public static class FailsafeSizeOnlyState {
    Cache<String, dev.failsafe.RateLimiter<Object>> limiters;
    Function<String, dev.failsafe.RateLimiter<Object>> newLimiter;

    /** Builds the cache and touches every key once. */
    @Setup(Level.Trial)
    public void setUp() {
      limiters = Caffeine.newBuilder().maximumSize(KeyStream.KEY_COUNT).build();
      newLimiter = key -> dev.failsafe.RateLimiter.burstyBuilder(LIMIT, PERIOD).build();
      for (String key : KeyStream.allKeys()) {
        limiters.get(key, newLimiter).tryAcquirePermit();
      }
    }
  }

  /** Guava: a limiter per key in Caffeine. */
  @State(Scope.Benchmark)
  public static class GuavaState {
    Cache<String, com.google.common.util.concurrent.RateLimiter> limiters;
    Function<String, com.google.common.util.concurrent.RateLimiter> newLimiter;

    /** Builds the cache and touches every key once. */
    @Setup(Level.Trial)
    public void setUp() {
      double perSecond = LIMIT / (double) PERIOD.toSeconds();
      limiters = peerCache();
      newLimiter = key -> com.google.common.util.concurrent.RateLimiter.create(perSecond);
      for (String key : KeyStream.allKeys()) {
        limiters.get(key, newLimiter).tryAcquire();
      }
    }
  }

  static <V> Cache<String, V> peerCache() {
    return Caffeine.newBuilder()
        .maximumSize(KeyStream.KEY_COUNT)
        .expireAfterAccess(PERIOD)
        .build();
  }

  /**
   * Sluice, boolean answer.
   *
   * @param s the limiter
   * @param c this thread
   * @return whether allowed
   */
  @Benchmark
  public boolean sluicePermit(SluiceState s, Caller c) {
    return c.count(s.limiter.tryAcquirePermit(c.next()));
  }

  /**
   * Sluice, full decision (what the servlet filter uses for headers).
   *
   * @param s the limiter
   * @param c this thread
   * @return the decision
   */
  @Benchmark
  public RateLimitDecision sluiceDecision(SluiceState s, Caller c) {
    RateLimitDecision decision = s.limiter.tryAcquire(c.next());
    c.count(decision.allowed());
    return decision;
  }

  /**
   * Bucket4j.
   *
   * @param s the buckets
   * @param c this thread
   * @return whether allowed
   */
  @Benchmark
  public boolean bucket4j(Bucket4jState s, Caller c) {
    return c.count(s.buckets.get(c.next(), s.newBucket).tryConsume(1));
  }

  /**
   * Resilience4j.
   *
   * @param s the registry
   * @param c this thread
   * @return whether allowed
   */
  @Benchmark
  public boolean resilience4j(Resilience4jState s, Caller c) {
    return c.count(s.registry.rateLimiter(c.next()).acquirePermission());
  }

  /**
   * Failsafe.
   *
   * @param s the limiters
   * @param c this thread
   * @return whether allowed
   */
  @Benchmark
  public boolean failsafe(FailsafeState s, Caller c) {
    return c.count(s.limiters.get(c.next(), s.newLimiter).tryAcquirePermit());
  }

  /**
   * Failsafe, cache without idle expiry.
   *
   * @param s the limiters
   * @param c this thread
   * @return whether allowed
   */
  @Benchmark
  public boolean failsafeSizeOnly(FailsafeSizeOnlyState s, Caller c) {
    return c.count(s.limiters.get(c.next(), s.newLimiter).tryAcquirePermit());
  }

  /**
   * Guava.
   *
   * @param s the limiters
   * @param c this thread
   * @return whether allowed
   */
  @Benchmark
  public boolean guava(GuavaState s, Caller c) {
    return c.count(s.limiters.get(c.next(), s.newLimiter).tryAcquire());
  }
}
