package dev.sluice.redis;

import dev.sluice.AsyncRateLimitStore;
import dev.sluice.NanoClock;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.StoreStats;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link RateLimitStore} in Redis, so several application instances share one limit and decide
 * exactly as the in-memory store would. Each decision is one round trip: {@code EVALSHA} of a Lua
 * script that performs the GCRA step of {@link RateLimitStore} on the key alone (Redis runs a
 * script atomically), falling back to {@code EVAL} once when the server answers {@code NOSCRIPT}
 * (after a restart or {@code SCRIPT FLUSH}).
 *
 * <pre>{@code
 * RedisClient client = RedisClient.create("redis://cache:6379");
 * StatefulRedisConnection<String, String> connection = client.connect();   // share it
 * RateLimiter<String> perIp = RateLimiter.builder()
 *     .name("chat")
 *     .limit(5, Duration.ofMinutes(1))
 *     .build(RedisRateLimitStore.create(connection, "chat"));
 *
 * perIp.tryAcquireAsync(clientIp).whenComplete((decision, failure) -> ...);
 * }</pre>
 *
 * <p><b>Time.</b> The Redis server's clock ({@code TIME}: nanoseconds since the Unix epoch with
 * microsecond resolution), read once per decision inside the script, so every instance uses the
 * same clock and a skewed application host changes nothing. The server's clock is a wall clock:
 * if it steps back, keys only wait longer; if it steps forward, buckets refill early by that much.
 * {@link Builder#clock(NanoClock)} is for tests only.
 *
 * <p><b>Keys and memory.</b> A key is stored at {@code <prefix><namespace>:{<key text>}}
 * ({@code sluice:rl:chat:{203.0.113.9}} by default) as its TAT in nanoseconds, a decimal string.
 * The braces are a hash tag: on Redis Cluster the slot comes from the key text, so the script's
 * one key is routed like any other command (use a {@link StatefulRedisClusterConnection}). Each
 * allowed step sets the key's TTL to the time until its bucket is full again (rounded up to a
 * millisecond), so Redis drops idle keys by itself: memory is bounded by the keys active within
 * one refill time, with no cleanup job. Refused steps write nothing.
 *
 * <p><b>Failures.</b> Every step is bounded by the command timeout (default
 * {@value Builder#DEFAULT_COMMAND_TIMEOUT_MILLIS} ms). A timeout, a closed or lost connection,
 * or an error reply completes the step exceptionally with {@link RateLimitStoreException}; the
 * caller (the rule's fail-open or fail-closed choice) decides. Failures are logged at most once
 * per {@link Builder#failureLogInterval(Duration) interval}, with a count of those not logged,
 * and the first success after a failure is logged too. A step that timed out is cancelled, so
 * Lettuce drops it if it was not sent yet; one already sent may still run on the server and
 * charge its key (as with any network store, a timeout leaves the decision unknown, never
 * doubled). The store holds no connection state of its own:
 * when Lettuce reconnects (its default), steps succeed again without a restart. For a fast answer
 * while Redis is down rather than one timeout per step, build the client with
 * {@code ClientOptions.disconnectedBehavior(REJECT_COMMANDS)}.
 *
 * <p><b>Durability.</b> Whatever the Redis deployment gives: a restart without persistence forgets
 * every key, which gives each one a full bucket once.
 *
 * <p>Thread-safe: an instance holds only immutable configuration and the (thread-safe) Lettuce
 * connection it was given, which it never closes.
 *
 * @param <K> the key type
 */
public final class RedisRateLimitStore<K> implements AsyncRateLimitStore<K> {
  private static final Logger LOG = LoggerFactory.getLogger(RedisRateLimitStore.class);
  static final String SCRIPT = loadScript();
  private static final long BILLION = 1_000_000_000L;

  private final RedisClusterAsyncCommands<String, String> commands;
  private final String digest;
  private final String namespace;
  private final String keyStart;
  private final Function<? super K, String> keyText;
  private final long timeoutNanos;
  private final NanoClock clock;
  private final FailureLog failures;
  private final LongAdder calls = new LongAdder();

  private RedisRateLimitStore(Builder<K> b) {
    this.commands = b.commands;
    this.digest = b.commands.digest(SCRIPT);
    this.namespace = b.namespace;
    this.keyStart = b.prefix + b.namespace + ":{";
    this.keyText = b.keyText;
    this.timeoutNanos = b.timeout.toNanos();
    this.clock = b.clock;
    this.failures = new FailureLog("Redis rate-limit store '" + b.namespace + "'",
        b.logClock, b.logInterval.toNanos(), b.logSink);
  }

  /**
   * Creates a store on the server's clock with the defaults: keys by {@code String.valueOf}, the
   * prefix {@value Builder#DEFAULT_PREFIX}, a {@value Builder#DEFAULT_COMMAND_TIMEOUT_MILLIS} ms
   * timeout.
   *
   * @param <K> the key type
   * @param connection a connection with the default (UTF-8 string) codec; not closed by the store
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new store
   * @throws NullPointerException if {@code connection} is null
   * @throws IllegalArgumentException if {@code namespace} is blank or contains a brace
   */
  public static <K> RedisRateLimitStore<K> create(
      StatefulRedisConnection<String, String> connection, String namespace) {
    return RedisRateLimitStore.<K>builder(connection, namespace).build();
  }

  /**
   * Starts a builder over a connection to one Redis server (or a primary).
   *
   * @param <K> the key type
   * @param connection a connection with the default (UTF-8 string) codec; not closed by the store
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new builder
   * @throws NullPointerException if {@code connection} is null
   * @throws IllegalArgumentException if {@code namespace} is blank or contains a brace
   */
  public static <K> Builder<K> builder(
      StatefulRedisConnection<String, String> connection, String namespace) {
    return new Builder<>(Objects.requireNonNull(connection, "connection").async(), namespace);
  }

  /**
   * Starts a builder over a connection to a Redis Cluster: each step goes to the node owning its
   * key's slot.
   *
   * @param <K> the key type
   * @param connection a cluster connection with the default (UTF-8 string) codec; not closed by
   *     the store
   * @param namespace the namespace of this limiter's keys, such as its name
   * @return a new builder
   * @throws NullPointerException if {@code connection} is null
   * @throws IllegalArgumentException if {@code namespace} is blank or contains a brace
   */
  public static <K> Builder<K> builder(
      StatefulRedisClusterConnection<String, String> connection, String namespace) {
    return new Builder<>(Objects.requireNonNull(connection, "connection").async(), namespace);
  }

  /**
   * Applies one GCRA step for a key atomically in Redis, in one round trip.
   *
   * @param key the key, never null
   * @param incrementNanos the cost of the call, &gt; 0
   * @param toleranceNanos the burst tolerance, &gt; 0
   * @return a stage completing with the outcome, times in nanoseconds on the server's clock, or
   *     exceptionally with {@link RateLimitStoreException} within the command timeout
   * @throws NullPointerException if {@code key} is null, or the key-to-text function returns null
   */
  @Override
  public CompletionStage<Outcome> acquireAsync(K key, long incrementNanos, long toleranceNanos) {
    String redisKey = redisKey(key);
    calls.increment();
    String[] args;
    if (clock == null) {
      args = new String[] {
          high(incrementNanos), low(incrementNanos), high(toleranceNanos), low(toleranceNanos)};
    } else {
      long now = clock.nanoTime();
      args = new String[] {
          high(incrementNanos), low(incrementNanos), high(toleranceNanos), low(toleranceNanos),
          high(now), low(now)};
    }
    return new Step(redisKey, args).start();
  }

  /**
   * The Redis key a limiter key is stored under.
   *
   * @param key the limiter's key
   * @return {@code <prefix><namespace>:{<key text>}}
   * @throws NullPointerException if {@code key} is null, or the key-to-text function returns null
   */
  public String redisKey(K key) {
    String text = Objects.requireNonNull(
        keyText.apply(Objects.requireNonNull(key, "key")), "key text");
    return keyStart + text + "}";
  }

  /**
   * This store's calls and failures since it was built, named {@code "redis:<namespace>"}; see
   * {@link dev.sluice.HealthContributors#rateLimitStore(dev.sluice.RateLimitStore)}.
   *
   * @return the counts, always present
   */
  @Override
  public Optional<StoreStats> stats() {
    return Optional.of(new StoreStats("redis:" + namespace, calls.sum(), failures.failures(),
        failures.consecutiveFailures()));
  }

  /**
   * The namespace of this store's keys.
   *
   * @return the namespace
   */
  public String namespace() {
    return namespace;
  }

  @Override
  public String toString() {
    return "RedisRateLimitStore[" + namespace + "]";
  }

  // Times travel as (high, low) = high * 1e9 + low, 0 <= low < 1e9: see the script.
  private static String high(long nanos) {
    return Long.toString(Math.floorDiv(nanos, BILLION));
  }

  private static String low(long nanos) {
    return Long.toString(Math.floorMod(nanos, BILLION));
  }

  private static long join(Object high, Object low) {
    return (Long) high * BILLION + (Long) low;
  }

  private static String loadScript() {
    try (InputStream in = RedisRateLimitStore.class.getResourceAsStream("gcra_step.lua")) {
      if (in == null) {
        throw new IllegalStateException("gcra_step.lua is missing from sluice-redis");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read gcra_step.lua from sluice-redis", e);
    }
  }

  /**
   * One decision in flight: EVALSHA, then EVAL once on NOSCRIPT, all under one deadline. One
   * object per step serves as the callback of each command, instead of a lambda per stage, and
   * is itself the flag that the step is settled: whoever sets it (reply, failure or deadline)
   * records the result in the failure log first and only then completes the caller's stage, so a
   * caller that saw a failure finds it already counted.
   */
  private final class Step extends AtomicBoolean
      implements BiConsumer<List<Object>, Throwable> {
    private static final long serialVersionUID = 1L;
    private final String[] keys;
    private final String[] args;
    /** What the caller sees; completed once, by the reply, a failure or the deadline. */
    private final transient CompletableFuture<Outcome> result = new CompletableFuture<>();
    private transient volatile RedisFuture<List<Object>> pending;
    private boolean loaded;

    Step(String redisKey, String[] args) {
      this.keys = new String[] {redisKey};
      this.args = args;
    }

    CompletionStage<Outcome> start() {
      CompletableFuture<Outcome> deadline =
          result.copy().orTimeout(timeoutNanos, TimeUnit.NANOSECONDS);
      deadline.whenComplete((outcome, failure) -> {
        if (failure != null && unwrap(failure) instanceof TimeoutException) {
          timedOut();
        }
      });
      send(false);
      return result;
    }

    private void send(boolean eval) {
      RedisFuture<List<Object>> command;
      try {
        command = eval
            ? commands.eval(SCRIPT, ScriptOutputType.MULTI, keys, args)
            : commands.evalsha(digest, ScriptOutputType.MULTI, keys, args);
      } catch (RuntimeException e) {
        // Lettuce throws rather than fails the future when its client was shut down.
        fail("could not send the step: " + e, e);
        return;
      }
      pending = command;
      if (get()) {
        command.cancel(false); // the deadline passed while we were sending
      }
      command.whenComplete(this);
    }

    @Override
    public void accept(List<Object> reply, Throwable failure) {
      if (get()) {
        return;
      }
      if (failure == null) {
        try {
          Outcome outcome = new Outcome((Long) reply.get(0) == 1L,
              join(reply.get(1), reply.get(2)), join(reply.get(3), reply.get(4)));
          if (compareAndSet(false, true)) {
            failures.succeeded();
            result.complete(outcome);
          }
        } catch (RuntimeException e) {
          fail("answered an unexpected reply " + reply, e);
        }
        return;
      }
      Throwable cause = unwrap(failure);
      if (cause instanceof RedisNoScriptException && !loaded) {
        loaded = true;
        // EVAL runs the script and caches it, so the next steps' EVALSHA find it again.
        send(true);
        return;
      }
      fail("failed: " + cause, cause);
    }

    private void timedOut() {
      // Failed first: cancelling completes the command, and its callback must find the step done.
      fail("did not answer within " + Duration.ofNanos(timeoutNanos).toMillis() + " ms", null);
      RedisFuture<List<Object>> command = pending;
      if (command != null) {
        command.cancel(false); // Lettuce then drops it instead of sending it after a reconnect
      }
    }

    private void fail(String what, Throwable cause) {
      String message = "Redis rate-limit store '" + namespace + "' " + what + " (key " + keys[0]
          + ")";
      if (compareAndSet(false, true)) {
        failures.failed(message);
        result.completeExceptionally(new RateLimitStoreException(message, cause));
      }
    }
  }

  private static Throwable unwrap(Throwable failure) {
    return failure instanceof CompletionException && failure.getCause() != null
        ? failure.getCause() : failure;
  }

  /**
   * Builds {@link RedisRateLimitStore} instances.
   *
   * <p>Not thread-safe.
   *
   * @param <K> the key type
   */
  public static final class Builder<K> {
    /** The default prefix of every Redis key the store writes. */
    public static final String DEFAULT_PREFIX = "sluice:rl:";
    /** The default bound on one step, in milliseconds. */
    public static final long DEFAULT_COMMAND_TIMEOUT_MILLIS = 100;
    /** The default interval between two logged failures, in seconds. */
    public static final long DEFAULT_FAILURE_LOG_INTERVAL_SECONDS = 10;

    private final RedisClusterAsyncCommands<String, String> commands;
    private final String namespace;
    private String prefix = DEFAULT_PREFIX;
    private Function<? super K, String> keyText = String::valueOf;
    private Duration timeout = Duration.ofMillis(DEFAULT_COMMAND_TIMEOUT_MILLIS);
    private Duration logInterval = Duration.ofSeconds(DEFAULT_FAILURE_LOG_INTERVAL_SECONDS);
    private NanoClock clock;
    private NanoClock logClock = NanoClock.system();
    private Consumer<String> logSink = LOG::warn;

    Builder(RedisClusterAsyncCommands<String, String> commands, String namespace) {
      this.commands = commands;
      this.namespace = requireKeyPart(namespace, "namespace");
    }

    /**
     * Sets the prefix of every Redis key this store writes.
     *
     * @param prefix a non-empty prefix without braces, such as {@code "myapp:rl:"}
     * @return this builder
     * @throws IllegalArgumentException if {@code prefix} is null, blank or contains a brace
     */
    public Builder<K> prefix(String prefix) {
      this.prefix = requireKeyPart(prefix, "prefix");
      return this;
    }

    /**
     * Sets how a key becomes the text in its Redis key. Distinct keys must give distinct texts.
     * Defaults to {@code String.valueOf}.
     *
     * @param keyText the function
     * @return this builder
     * @throws NullPointerException if {@code keyText} is null
     */
    public Builder<K> keyText(Function<? super K, String> keyText) {
      this.keyText = Objects.requireNonNull(keyText, "keyText");
      return this;
    }

    /**
     * Bounds each step, from the call to the reply. Defaults to
     * {@value #DEFAULT_COMMAND_TIMEOUT_MILLIS} ms.
     *
     * @param timeout the bound, from 1 ms to 1 minute
     * @return this builder
     * @throws IllegalArgumentException if {@code timeout} is null or outside that range
     */
    public Builder<K> commandTimeout(Duration timeout) {
      if (timeout == null || timeout.compareTo(Duration.ofMillis(1)) < 0
          || timeout.compareTo(Duration.ofMinutes(1)) > 0) {
        throw new IllegalArgumentException(
            "commandTimeout must be between 1 ms and 1 minute but was " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /**
     * Sets how often a failing store logs: at most one warning per interval, counting the
     * failures it did not log. Defaults to {@value #DEFAULT_FAILURE_LOG_INTERVAL_SECONDS} s.
     *
     * @param interval the interval, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code interval} is null, zero or negative
     */
    public Builder<K> failureLogInterval(Duration interval) {
      if (interval == null || interval.isZero() || interval.isNegative()) {
        throw new IllegalArgumentException("failureLogInterval must be > 0 but was " + interval);
      }
      this.logInterval = interval;
      return this;
    }

    /**
     * Supplies the time from the application instead of the Redis server's clock, for tests
     * only: a caller choosing the time can refill any bucket. Read once per step and sent to the
     * script as an argument; keys written this way live at least an hour.
     *
     * @param clock the clock, or null for the server's (the default)
     * @return this builder
     */
    public Builder<K> clock(NanoClock clock) {
      this.clock = clock;
      return this;
    }

    /** Where failure log lines go and on which clock their interval runs (tests). */
    Builder<K> failureLog(NanoClock logClock, Consumer<String> logSink) {
      this.logClock = Objects.requireNonNull(logClock, "logClock");
      this.logSink = Objects.requireNonNull(logSink, "logSink");
      return this;
    }

    /**
     * Builds the store. Nothing is sent to Redis until the first step.
     *
     * @return a new store
     */
    public RedisRateLimitStore<K> build() {
      return new RedisRateLimitStore<>(this);
    }

    private static String requireKeyPart(String value, String what) {
      if (value == null || value.isBlank()) {
        throw new IllegalArgumentException(what + " must be non-blank but was "
            + (value == null ? "null" : "'" + value + "'"));
      }
      if (value.indexOf('{') >= 0 || value.indexOf('}') >= 0) {
        throw new IllegalArgumentException(what + " must not contain '{' or '}' (they mark the"
            + " Redis Cluster hash tag) but was '" + value + "'");
      }
      return value;
    }
  }
}
