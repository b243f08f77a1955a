package dev.sluice;

import dev.sluice.internal.GcraRateLimiter;
import dev.sluice.internal.InMemoryRateLimitStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * A keyed rate limiter (per client IP, user, route) using the generic cell rate algorithm (GCRA):
 * one theoretical arrival time per key, so every store — in memory, PostgreSQL, Redis — agrees
 * exactly.
 *
 * <p>{@code limit(n, period)} allows {@code n} calls per {@code period} in steady state, spaced by
 * the emission interval {@code period / n} (rounded up to a whole nanosecond, so the limit is never
 * exceeded), with up to {@code burst} calls at once from a full bucket (default {@code n}). A call
 * of cost {@code c} counts as {@code c} calls.
 *
 * <pre>{@code
 * RateLimiter<String> perIp = RateLimiter.builder()
 *     .name("chat")
 *     .limit(5, Duration.ofMinutes(1))   // 5 per minute, burst 5
 *     .maxKeys(100_000)
 *     .build();
 *
 * RateLimitDecision d = perIp.tryAcquire(clientIp);
 * if (!d.allowed()) {
 *   response.setHeader("Retry-After", Long.toString(d.retryAfterSeconds()));
 *   response.setStatus(429);
 * }
 * }</pre>
 *
 * <p><b>Memory.</b> The default in-memory store holds at most {@link Builder#maxKeys(long)} keys
 * (default {@value Builder#DEFAULT_MAX_KEYS}) in a Caffeine cache, and drops a key once it has been
 * idle long enough for its bucket to be full. A key evicted for space while it still owes time is
 * remembered in a fixed table of "ghosts" (one slot per key of {@code maxKeys}, rounded up to a
 * power of two; where two evicted keys share a slot, the one owing more time stays), and resumes
 * from where it was when it comes back. A key whose ghost was displaced starts again with a full
 * bucket — never more — so under a flood of more distinct keys than {@code maxKeys} the limiter can
 * admit at most one extra burst per displaced key, and never blames one key for another's use.
 * Size {@code maxKeys} above the number of keys active within one refill time.
 *
 * <p><b>Time.</b> Time comes from an injected monotonic {@link NanoClock}, never the wall clock,
 * read once per decision (a new key's state starts at that same reading, so its first call, even
 * one costing the whole burst, is allowed). A clock that steps backwards only makes keys wait
 * longer; it never grants extra calls.
 *
 * <p><b>Shared stores.</b> {@link Builder#build(RateLimitStore)} puts the state in a store that
 * several instances share (PostgreSQL, Redis). Such a store is {@linkplain #isLocal() not local}:
 * each decision is a round trip, and {@link #tryAcquireAsync(Object, int)} gives it without
 * blocking the calling thread. On the in-memory store the synchronous forms are the fast path;
 * the asynchronous one only wraps them.
 *
 * <pre>{@code
 * if (limiter.isLocal()) {
 *   respond(limiter.tryAcquire(key));
 * } else {
 *   limiter.tryAcquireAsync(key, 1).whenComplete((decision, failure) -> ...);
 * }
 * }</pre>
 *
 * <p><b>Thread safety.</b> Instances are thread-safe and lock-free on the in-memory store.
 *
 * @param <K> the key type; keys must implement {@code equals} and {@code hashCode}
 */
public interface RateLimiter<K> {

  /**
   * Asks for one call.
   *
   * @param key the key to charge
   * @return the decision, never null
   * @throws NullPointerException if {@code key} is null
   * @throws RateLimitStoreException if a shared store cannot answer
   */
  RateLimitDecision tryAcquire(K key);

  /**
   * Asks for a call that counts as {@code cost} calls.
   *
   * @param key the key to charge
   * @param cost how many calls this one counts as, 1 to {@link #burst()}
   * @return the decision, never null
   * @throws NullPointerException if {@code key} is null
   * @throws IllegalArgumentException if {@code cost} is below 1 or above the burst
   * @throws RateLimitStoreException if a shared store cannot answer
   */
  RateLimitDecision tryAcquire(K key, int cost);

  /**
   * Asks for one call and answers only yes or no; on the in-memory store this allocates nothing.
   * Use {@link #tryAcquire(Object)} when the response needs the figures.
   *
   * @param key the key to charge
   * @return whether the call may proceed
   * @throws NullPointerException if {@code key} is null
   * @throws RateLimitStoreException if a shared store cannot answer
   */
  boolean tryAcquirePermit(K key);

  /**
   * Asks for one call without blocking the calling thread on a shared store.
   *
   * @param key the key to charge
   * @return a stage completing with the decision; see {@link #tryAcquireAsync(Object, int)}
   * @throws NullPointerException if {@code key} is null
   */
  default CompletionStage<RateLimitDecision> tryAcquireAsync(K key) {
    return tryAcquireAsync(key, 1);
  }

  /**
   * Asks for a call that counts as {@code cost} calls, without blocking the calling thread on a
   * shared store. When the store cannot answer, the stage completes exceptionally with the
   * {@link RateLimitStoreException} itself (not wrapped), and the caller chooses to fail open or
   * closed. On a {@linkplain #isLocal() local} limiter the stage is already complete on return.
   *
   * <p>The default calls {@link #tryAcquire(Object, int)} and returns its answer as a completed
   * stage.
   *
   * @param key the key to charge
   * @param cost how many calls this one counts as, 1 to {@link #burst()}
   * @return a stage completing with the decision
   * @throws NullPointerException if {@code key} is null
   * @throws IllegalArgumentException if {@code cost} is below 1 or above the burst
   */
  default CompletionStage<RateLimitDecision> tryAcquireAsync(K key, int cost) {
    Objects.requireNonNull(key, "key");
    if (cost < 1 || cost > burst()) {
      throw new IllegalArgumentException(
          "cost must be in [1, burst=" + burst() + "] but was " + cost);
    }
    try {
      return CompletableFuture.completedFuture(tryAcquire(key, cost));
    } catch (RateLimitStoreException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * Whether decisions are made in this process, without waiting on a network. When false (a
   * shared store), callers that must not block a thread use {@link #tryAcquireAsync(Object, int)};
   * when true, the synchronous forms are the fast path. The default is {@code true}.
   *
   * @return true if {@link #tryAcquire(Object)} never waits on a remote store
   */
  default boolean isLocal() {
    return true;
  }

  /**
   * Asks for one call and throws when refused.
   *
   * @param key the key to charge
   * @return the allowing decision
   * @throws RateLimitExceededException if the limit refuses, carrying the decision
   * @throws NullPointerException if {@code key} is null
   * @throws RateLimitStoreException if a shared store cannot answer
   */
  default RateLimitDecision acquireOrThrow(K key) {
    RateLimitDecision decision = tryAcquire(key);
    if (!decision.allowed()) {
      throw new RateLimitExceededException(decision);
    }
    return decision;
  }

  /**
   * Adds a listener, told of every later decision and store failure of this limiter, after those
   * already added. See {@link RateLimiterListener} for threading and order. Every limiter Sluice
   * builds supports it.
   *
   * <p>The default throws, for implementations outside Sluice written before listeners existed.
   *
   * @param listener the listener
   * @throws NullPointerException if {@code listener} is null
   * @throws UnsupportedOperationException if this implementation has no listeners (never for
   *     Sluice's own)
   */
  default void addListener(RateLimiterListener<? super K> listener) {
    Objects.requireNonNull(listener, "listener");
    throw new UnsupportedOperationException(getClass().getName() + " does not support listeners");
  }

  /**
   * The policy name given to the builder.
   *
   * @return the name used in headers, logs and health
   */
  String name();

  /**
   * Calls allowed per {@link #period()} in steady state.
   *
   * @return the configured limit
   */
  int limit();

  /**
   * The period of the limit.
   *
   * @return the configured period
   */
  Duration period();

  /**
   * Calls allowed at once from a full bucket.
   *
   * @return the burst
   */
  int burst();

  /**
   * The spacing between calls in steady state: {@code period / limit}, rounded up to a whole
   * nanosecond.
   *
   * @return the emission interval
   */
  Duration emissionInterval();

  /**
   * The policy in force now: limit, period and burst.
   *
   * <p>The default builds it from {@link #limit()}, {@link #period()} and {@link #burst()}.
   *
   * @return the current settings, never null
   */
  default Settings settings() {
    return new Settings(limit(), period(), burst());
  }

  /**
   * Changes limit, period and burst while the limiter runs. Keys keep their state: each key's
   * theoretical arrival time (TAT) stays the absolute time it was, so what a key owes is carried
   * over <em>as time</em>, and from the change on every decision uses the new emission interval
   * {@code T' = period' / limit'} and tolerance {@code τ' = burst' × T'}. The change never hands
   * out a burst nobody earned:
   * <ul>
   *   <li><b>Conformance.</b> From the change on, what a key is granted conforms to the new
   *       policy: in any span of length {@code d} after the change a key gets at most
   *       {@code burst' + d / T'} calls — never more than the new policy grants a client that
   *       starts with a full bucket at the change. Each allowed call is checked against a
   *       tolerance of at most {@code τ'} on the key's carried-over TAT.
   *   <li><b>No step up.</b> Right after the change a key has at most
   *       {@code min(burst', u / T')} calls left, where {@code u = τ − owed} is the unspent part of
   *       its old tolerance (a key with {@code k} calls left under the old policy has
   *       {@code u = k × T}, plus any part of a call it has saved towards the next): the time it
   *       has saved is worth calls at the new rate, and no more. A key that was empty (it owed the
   *       whole old tolerance, as a key that keeps calling as fast as it is allowed does) stays
   *       empty and refills at the new rate.
   *   <li><b>A larger tolerance grows in with time.</b> When {@code τ'} is larger than the
   *       tolerance in force, the tolerance used rises from the old one to {@code τ'} at one second
   *       per second (it is {@code min(τ', τ + elapsed)}), so the extra room is earned by waiting,
   *       as a key earns its refill, and never appears as a step. A key that kept calling as fast
   *       as it was allowed therefore gets calls at up to twice the new rate while the tolerance
   *       grows, and never more than {@code burst'} at once.
   *   <li><b>A smaller tolerance applies at once.</b> A key that owes more than the new tolerance
   *       waits until it owes less; that wait is never longer than the key would have taken to
   *       refill completely under the old policy. (So raising the rate while shrinking the burst
   *       window can make a key that had just spent its burst wait that long once.)
   * </ul>
   * What one time per key cannot tell is how the key's past calls would have been priced under
   * the new policy: when the rate is lowered, a key that spent part of its burst just before the
   * change keeps its unspent time, which buys fewer calls at the new rate but can still be more
   * than a client that had been running under the new policy all along would have left (never
   * more than a new client gets, by the conformance rule above).
   *
   * <p>Because the state is one absolute time per key, the rule is the same for every store: the
   * in-memory store and shared stores (PostgreSQL, Redis) receive the new increment and
   * tolerance with each step, and nothing stored is rewritten. A limiter over a shared store
   * changes only this instance's policy: reconfigure every instance that shares the store.
   *
   * <p>The change is logged at INFO as {@code "rate-limiter '<name>' reconfigured: <old> ->
   * <new>"}. Decisions racing the change use either the old or the new policy.
   *
   * <p>The default throws {@link UnsupportedOperationException}.
   *
   * @param settings the new settings
   * @return the settings in force before the change
   * @throws NullPointerException if {@code settings} is null
   * @throws IllegalArgumentException if burst times the new emission interval is too long
   * @throws UnsupportedOperationException if this limiter cannot change at run time
   */
  default Settings reconfigure(Settings settings) {
    throw new UnsupportedOperationException("rate limiter '" + name() + "' cannot be reconfigured");
  }

  /**
   * A rate limiter's live policy: {@code limit} calls per {@code period}, up to {@code burst} at
   * once. Immutable and thread-safe.
   *
   * @param limit calls allowed per period in steady state, &gt; 0
   * @param period the period, &gt; 0
   * @param burst calls allowed at once from a full bucket, &gt;= 1
   */
  record Settings(int limit, Duration period, int burst) {
    /**
     * Validates the settings.
     *
     * @param limit calls per period, &gt; 0
     * @param period the period, &gt; 0 and countable in nanoseconds
     * @param burst calls at once, &gt;= 1
     * @throws IllegalArgumentException naming the field that is out of range
     */
    public Settings {
      if (limit <= 0) {
        throw new IllegalArgumentException("limit must be > 0 but was " + limit);
      }
      if (period == null || period.isZero() || period.isNegative()) {
        throw new IllegalArgumentException("period must be > 0 but was " + period);
      }
      try {
        period.toNanos();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("period is too long: " + period, e);
      }
      if (burst < 1) {
        throw new IllegalArgumentException("burst must be >= 1 but was " + burst);
      }
    }

    /**
     * The same settings with another limit.
     *
     * @param limit calls per period, &gt; 0
     * @return the new settings
     * @throws IllegalArgumentException if {@code limit} is out of range
     */
    public Settings withLimit(int limit) {
      return new Settings(limit, period, burst);
    }

    /**
     * The same settings with another period.
     *
     * @param period the period, &gt; 0
     * @return the new settings
     * @throws IllegalArgumentException if {@code period} is out of range
     */
    public Settings withPeriod(Duration period) {
      return new Settings(limit, period, burst);
    }

    /**
     * The same settings with another burst.
     *
     * @param burst calls at once, &gt;= 1
     * @return the new settings
     * @throws IllegalArgumentException if {@code burst} is out of range
     */
    public Settings withBurst(int burst) {
      return new Settings(limit, period, burst);
    }

    @Override
    public String toString() {
      return "{limit=" + limit + ", period=" + period + ", burst=" + burst + "}";
    }
  }

  /**
   * Starts a builder.
   *
   * @return a new builder with defaults: name {@code "default"}, burst equal to the limit,
   *     {@value Builder#DEFAULT_MAX_KEYS} keys, the system clock
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Builds {@link RateLimiter}s. Each setter validates its argument at once; {@link #build()}
   * checks the combination and copies the configuration, so a builder can be reused.
   *
   * <p>Not thread-safe.
   */
  final class Builder {
    /** The default bound on keys held by the in-memory store. */
    public static final long DEFAULT_MAX_KEYS = 100_000;

    private String name = "default";
    private int limit;
    private Duration period;
    private int burst;
    private long maxKeys = DEFAULT_MAX_KEYS;
    private NanoClock clock = NanoClock.system();
    private final List<RateLimiterListener<Object>> listeners = new ArrayList<>();

    Builder() {}

    /**
     * Adds a listener to every limiter this builder builds, as
     * {@link RateLimiter#addListener(RateLimiterListener)} would. A listener typed for one key type
     * is added to a built limiter with that method instead.
     *
     * @param listener the listener, such as a {@link RateLimitCounter}
     * @return this builder
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder listener(RateLimiterListener<Object> listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Names the policy, as shown in {@code RateLimit-Policy} headers and health reports.
     *
     * @param name a non-blank name
     * @return this builder
     * @throws IllegalArgumentException if {@code name} is null or blank
     */
    public Builder name(String name) {
      if (name == null || name.isBlank()) {
        throw new IllegalArgumentException("name must be non-blank but was " + quote(name));
      }
      this.name = name;
      return this;
    }

    /**
     * Allows {@code calls} per {@code period}.
     *
     * @param calls calls per period, &gt; 0
     * @param period the period, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code calls} &lt;= 0 or {@code period} is null, zero,
     *     negative or too long to count in nanoseconds
     */
    public Builder limit(int calls, Duration period) {
      if (calls <= 0) {
        throw new IllegalArgumentException("limit calls must be > 0 but was " + calls);
      }
      if (period == null || period.isZero() || period.isNegative()) {
        throw new IllegalArgumentException("limit period must be > 0 but was " + period);
      }
      try {
        period.toNanos();
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException("limit period is too long: " + period, e);
      }
      this.limit = calls;
      this.period = period;
      return this;
    }

    /**
     * Sets how many calls a full bucket allows at once. Defaults to the limit.
     *
     * @param burst calls at once, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code burst} &lt; 1
     */
    public Builder burst(int burst) {
      if (burst < 1) {
        throw new IllegalArgumentException("burst must be >= 1 but was " + burst);
      }
      this.burst = burst;
      return this;
    }

    /**
     * Bounds the keys the in-memory store holds. Ignored when a store is given to
     * {@link #build(RateLimitStore)}.
     *
     * @param maxKeys the bound, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if {@code maxKeys} &lt; 1 or above 2^30
     */
    public Builder maxKeys(long maxKeys) {
      if (maxKeys < 1 || maxKeys > (1L << 30)) {
        throw new IllegalArgumentException("maxKeys must be in [1, 2^30] but was " + maxKeys);
      }
      this.maxKeys = maxKeys;
      return this;
    }

    /**
     * Sets the clock of the in-memory store (tests pass a fake one). With a store given to
     * {@link #build(RateLimitStore)}, which has its own clock, it only times how a larger
     * tolerance grows in after {@link RateLimiter#reconfigure(Settings)}.
     *
     * @param clock a monotonic clock
     * @return this builder
     * @throws NullPointerException if {@code clock} is null
     */
    public Builder clock(NanoClock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Builds a limiter over the in-memory store.
     *
     * @param <K> the key type
     * @return a new limiter
     * @throws IllegalStateException if {@link #limit(int, Duration)} was not called
     * @throws IllegalArgumentException if burst times the emission interval overflows
     */
    public <K> RateLimiter<K> build() {
      long[] timing = timing();
      return withListeners(new GcraRateLimiter<>(
          name, limit, period, burst(), timing[0], timing[1],
          new InMemoryRateLimitStore<K>(clock, maxKeys, timing[1]), clock));
    }

    /**
     * Builds a limiter over a given store, such as a shared PostgreSQL or Redis store.
     *
     * @param <K> the key type
     * @param store the store
     * @return a new limiter
     * @throws NullPointerException if {@code store} is null
     * @throws IllegalStateException if {@link #limit(int, Duration)} was not called
     * @throws IllegalArgumentException if burst times the emission interval overflows
     */
    public <K> RateLimiter<K> build(RateLimitStore<K> store) {
      Objects.requireNonNull(store, "store");
      long[] timing = timing();
      return withListeners(new GcraRateLimiter<>(name, limit, period, burst(), timing[0],
          timing[1], store, clock));
    }

    private <K> RateLimiter<K> withListeners(RateLimiter<K> limiter) {
      for (RateLimiterListener<Object> listener : listeners) {
        limiter.addListener(listener);
      }
      return limiter;
    }

    private int burst() {
      return burst == 0 ? limit : burst;
    }

    /** Returns {emission interval, tolerance} in nanoseconds. */
    private long[] timing() {
      if (period == null) {
        throw new IllegalStateException("limit(calls, period) must be set before build()");
      }
      long periodNanos = period.toNanos();
      long interval = periodNanos / limit + (periodNanos % limit == 0 ? 0 : 1);
      long tolerance;
      try {
        tolerance = Math.multiplyExact(interval, (long) burst());
        // Leave headroom so now + tolerance + increment can never overflow a long.
        Math.multiplyExact(tolerance, 4L);
      } catch (ArithmeticException e) {
        throw new IllegalArgumentException(
            "burst " + burst() + " times the emission interval " + interval + " ns is too long", e);
      }
      return new long[] {interval, tolerance};
    }

    private static String quote(String s) {
      return s == null ? "null" : "'" + s + "'";
    }
  }
}
