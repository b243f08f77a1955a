package dev.sluice.bench;

import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimiter;
import dev.sluice.redis.RedisRateLimitStore;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.github.bucket4j.redis.lettuce.cas.LettuceBasedProxyManager;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * One rate-limit decision against one Redis server (issue 15), every call allowed, synchronous:
 *
 * <ul>
 *   <li>{@code sluice}: {@code RateLimiter.tryAcquire(key)} over {@link RedisRateLimitStore} (one
 *       {@code EVALSHA} of the GCRA script per decision, the server's clock);
 *   <li>{@code bucket4j}: Bucket4j's Lettuce proxy manager
 *       ({@code Bucket4jLettuce.casBasedBuilder}: {@code GET} of the bucket's state, then an
 *       {@code EVAL} compare-and-swap script, retried when another client won the swap),
 *       {@code builder().build(key, config).tryConsume(1)};
 *   <li>{@code incr}: a bare {@code INCR} of the key through Lettuce's synchronous API on a
 *       connection like the store's: one round trip doing the least a counter can, the physical
 *       limit of any decision.
 * </ul>
 *
 * <p>Each implementation has its own {@code RedisClient} and one connection shared by all JMH
 * threads (Lettuce connections are thread-safe and pipelined; one per application is how both
 * libraries document their use). {@code keys=hot}: every thread uses one key; {@code 100k}: each
 * thread draws uniformly from {@link KeyStream#KEY_COUNT} keys (pre-drawn, see
 * {@link KeyStream}). Thread counts come from JMH ({@code -t 1}, {@code -t 8}, {@code -t 32}).
 *
 * <p><b>Same limit for both limiters:</b> {@value #LIMIT} calls per minute, burst the same. Its
 * refill (16.7 M calls/s) outruns any Redis, so no key is ever refused and both limiters take
 * their allowed path, which writes the key, on every call; a refusal throws and fails the run.
 * Both bound a call at 1 s (Sluice's {@code commandTimeout}, default 100 ms; Bucket4j's
 * {@code requestTimeout}, default none), and both give their keys an expiry: Sluice the time
 * until the bucket is full again, Bucket4j {@code basedOnTimeForRefillingBucketUpToMax(10 s)} as
 * its documentation shows. {@code incr}'s keys are created in set-up with a 10 minute expiry.
 *
 * <p>Every trial (one JMH fork of one benchmark and parameter set) writes under fresh key names,
 * so no trial sees another's state. Redis: see {@link BenchRedis}.
 */
@State(Scope.Benchmark)
@BenchmarkMode({Mode.Throughput, Mode.SampleTime})
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RedisStoreBenchmark {
  /** Calls allowed per {@link #PERIOD} (and the burst), for Sluice and Bucket4j alike. */
  static final int LIMIT = 1_000_000_000;
  /** The limit's period. */
  static final Duration PERIOD = Duration.ofMinutes(1);
  /**
   * The bound on one call, for Sluice and Bucket4j alike: far above a normal round trip, so a
   * stall of a loaded machine does not fail the run (the bound's value costs nothing per call).
   */
  static final Duration TIMEOUT = Duration.ofSeconds(1);

  /** {@code hot} (one key) or {@code 100k} (uniform over {@link KeyStream#KEY_COUNT} keys). */
  @Param({"hot", "100k"})
  public String keys;

  /** A fresh name per trial, so that no trial sees keys an earlier one wrote. */
  final String run = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);

  static RedisClient client() {
    return RedisClient.create(BenchRedis.uri());
  }

  /** Sluice: a limiter over {@link RedisRateLimitStore} on its own connection. */
  @State(Scope.Benchmark)
  public static class SluiceState {
    RedisClient client;
    StatefulRedisConnection<String, String> connection;
    RateLimiter<String> limiter;

    /**
     * Connects and builds the limiter.
     *
     * @param bench the benchmark, for the trial's name
     */
    @Setup(Level.Trial)
    public void setUp(RedisStoreBenchmark bench) {
      client = client();
      connection = client.connect();
      limiter = RateLimiter.builder()
          .name("bench")
          .limit(LIMIT, PERIOD)
          .build(RedisRateLimitStore.<String>builder(connection, "bench-" + bench.run)
              .commandTimeout(TIMEOUT)
              .build());
    }

    /** Closes the connection and the client. */
    @TearDown(Level.Trial)
    public void tearDown() {
      connection.close();
      client.shutdown();
    }
  }

  /** Bucket4j: its Lettuce compare-and-swap proxy manager on its own connection. */
  @State(Scope.Benchmark)
  public static class Bucket4jState {
    RedisClient client;
    StatefulRedisConnection<String, byte[]> connection;
    LettuceBasedProxyManager<String> buckets;
    Supplier<BucketConfiguration> config;
    String prefix;

    /**
     * Connects and builds the proxy manager.
     *
     * @param bench the benchmark, for the trial's name
     */
    @Setup(Level.Trial)
    public void setUp(RedisStoreBenchmark bench) {
      client = client();
      connection = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
      buckets = Bucket4jLettuce.casBasedBuilder(connection)
          .expirationAfterWrite(
              ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(
                  Duration.ofSeconds(10)))
          .requestTimeout(TIMEOUT)
          .build();
      BucketConfiguration configuration = BucketConfiguration.builder()
          .addLimit(Bandwidth.builder().capacity(LIMIT).refillGreedy(LIMIT, PERIOD).build())
          .build();
      config = () -> configuration;
      prefix = "bench:b4j:" + bench.run + ":";
    }

    /** Closes the connection and the client. */
    @TearDown(Level.Trial)
    public void tearDown() {
      connection.close();
      client.shutdown();
    }
  }

  /** The baseline: Lettuce's synchronous {@code INCR} on a string connection like the store's. */
  @State(Scope.Benchmark)
  public static class IncrState {
    RedisClient client;
    StatefulRedisConnection<String, String> connection;
    RedisCommands<String, String> commands;
    String prefix;

    /**
     * Connects and creates every key the trial will count, each expiring in 10 minutes (INCR
     * keeps a key's expiry).
     *
     * @param bench the benchmark, for the trial's name and keys
     */
    @Setup(Level.Trial)
    public void setUp(RedisStoreBenchmark bench) {
      client = client();
      connection = client.connect();
      commands = connection.sync();
      prefix = "bench:incr:" + bench.run + ":";
      String[] all = bench.keys.equals("hot")
          ? new String[] {KeyStream.allKeys()[0]} : KeyStream.allKeys();
      RedisAsyncCommands<String, String> async = connection.async();
      List<RedisFuture<String>> pending = new ArrayList<>();
      for (String key : all) {
        pending.add(async.set(prefix + key, "0", SetArgs.Builder.ex(600)));
        if (pending.size() == 1_000) {
          await(pending);
        }
      }
      await(pending);
    }

    private static void await(List<RedisFuture<String>> pending) {
      for (RedisFuture<String> f : pending) {
        try {
          if (!"OK".equals(f.get(10, TimeUnit.SECONDS))) {
            throw new IllegalStateException("SET did not answer OK");
          }
        } catch (Exception e) {
          throw new IllegalStateException("creating the INCR keys failed: " + e, e);
        }
      }
      pending.clear();
    }

    /** Closes the connection and the client. */
    @TearDown(Level.Trial)
    public void tearDown() {
      connection.close();
      client.shutdown();
    }
  }

  /** One client thread: its own pre-drawn key sequence. */
  @State(Scope.Thread)
  public static class Client {
    KeyStream stream;

    /**
     * Draws this thread's keys.
     *
     * @param bench the benchmark, for the key distribution
     * @param thread this thread's index
     */
    @Setup(Level.Trial)
    public void setUp(RedisStoreBenchmark bench, ThreadParams thread) {
      String distribution = switch (bench.keys) {
        case "hot" -> "hot";
        case "100k" -> "uniform";
        default -> throw new IllegalArgumentException("keys must be hot or 100k: " + bench.keys);
      };
      stream = new KeyStream(distribution, 0x5EED_0000L + 7919L * thread.getThreadIndex());
    }
  }

  /**
   * Sluice: one decision, {@code RateLimiter.tryAcquire} over the Redis store.
   *
   * @param s the limiter
   * @param c this thread
   * @return the decision
   */
  @Benchmark
  public RateLimitDecision sluice(SluiceState s, Client c) {
    RateLimitDecision decision = s.limiter.tryAcquire(c.stream.next());
    if (!decision.allowed()) {
      throw new IllegalStateException("Sluice refused a call the benchmark allows: " + decision);
    }
    return decision;
  }

  /**
   * Bucket4j: one decision, {@code tryConsume(1)} on the key's proxy.
   *
   * @param s the proxy manager
   * @param c this thread
   * @return true
   */
  @Benchmark
  public boolean bucket4j(Bucket4jState s, Client c) {
    if (!s.buckets.builder().build(s.prefix + c.stream.next(), s.config).tryConsume(1)) {
      throw new IllegalStateException("Bucket4j refused a call the benchmark allows");
    }
    return true;
  }

  /**
   * The baseline: one {@code INCR} round trip.
   *
   * @param s the connection
   * @param c this thread
   * @return the counter
   */
  @Benchmark
  public long incr(IncrState s, Client c) {
    return s.commands.incr(s.prefix + c.stream.next());
  }
}
