package dev.sluice;

import dev.sluice.internal.DistinctKeyWindow;
import java.time.Duration;
import java.util.Objects;

/**
 * Counts a rate limiter's decisions over a sliding window — requests, refusals, and how many
 * distinct clients (limiter keys) made them — for
 * {@link HealthContributors#rateLimiter(RateLimitCounter)}. It is a {@link RateLimiterListener}:
 * add it to the limiter ({@link RateLimiter.Builder#listener(RateLimiterListener)} or
 * {@link RateLimiter#addListener(RateLimiterListener)}), wrap the limiter with
 * {@link #wrap(RateLimiter)}, or pass it each key and decision with
 * {@link #record(Object, RateLimitDecision)}.
 *
 * <pre>{@code
 * RateLimitCounter chatCounts = RateLimitCounter.create("chat");
 * RateLimiter<String> chat = RateLimiter.builder().name("chat")
 *     .limit(5, Duration.ofMinutes(1)).listener(chatCounts).build();
 * }</pre>
 *
 * <p><b>Distinct clients.</b> One client hammering its limit is refused again and again, but it is
 * still one client; the health contributor scores the share of distinct clients refused, not the
 * share of requests. Each of the window's buckets keeps up to 192 clients' hash codes exactly and
 * a HyperLogLog sketch of 1024 registers, for the clients seen and for those refused, so memory
 * stays fixed (about 50 KB) however many keys arrive, and no key object is kept. Counts are exact
 * while no bucket of the window has seen more than 192 distinct clients, and estimates with a
 * standard error of about 3 % beyond. A key is known by its {@code hashCode}: keys with equal hash
 * codes count as one client.
 *
 * <p>Thread-safe. The window moves in 12 steps of {@code window / 12}.
 */
public final class RateLimitCounter implements RateLimiterListener<Object> {
  private static final int BUCKETS = 12;

  private final String name;
  private final Duration window;
  private final NanoClock clock;
  private final DistinctKeyWindow counts;

  /**
   * Requests and distinct clients in a counter's window.
   *
   * @param name the counter's name
   * @param requests requests decided
   * @param rejected requests refused
   * @param clients distinct keys that made a request (an estimate, see the class comment)
   * @param rejectedClients distinct keys refused at least once (an estimate), at most
   *     {@code clients}
   */
  public record Snapshot(String name, long requests, long rejected, long clients,
      long rejectedClients) {

    /**
     * The share of requests refused.
     *
     * @return {@code rejected / requests}, 0 without requests
     */
    public double rejectedShare() {
      return requests == 0 ? 0 : rejected / (double) requests;
    }

    /**
     * The share of distinct clients refused at least once.
     *
     * @return {@code rejectedClients / clients}, 0 without clients
     */
    public double rejectedClientShare() {
      return clients == 0 ? 0 : rejectedClients / (double) clients;
    }
  }

  private RateLimitCounter(String name, Duration window, NanoClock clock) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("name must be non-blank but was " + name);
    }
    this.name = name;
    this.window = CircuitBreaker.Builder.requireAtLeastMillis("window", window);
    this.clock = Objects.requireNonNull(clock, "clock");
    this.counts = new DistinctKeyWindow(window.toNanos(), BUCKETS, clock.nanoTime());
  }

  /**
   * A counter over the last minute, on the system clock.
   *
   * @param name the limiter's name, shown in health reports
   * @return a new counter
   * @throws IllegalArgumentException if {@code name} is null or blank
   */
  public static RateLimitCounter create(String name) {
    return create(name, Duration.ofMinutes(1), NanoClock.system());
  }

  /**
   * A counter over a given window.
   *
   * @param name the limiter's name
   * @param window the window, &gt;= 1 ms
   * @param clock the clock
   * @return a new counter
   * @throws IllegalArgumentException if {@code name} is blank or {@code window} below 1 ms
   * @throws NullPointerException if {@code clock} is null
   */
  public static RateLimitCounter create(String name, Duration window, NanoClock clock) {
    return new RateLimitCounter(name, window, clock);
  }

  /**
   * Counts one decision.
   *
   * @param key the key the limiter was asked about (the client)
   * @param allowed whether the limiter allowed the request
   * @throws NullPointerException if {@code key} is null
   */
  public void record(Object key, boolean allowed) {
    int hashCode = Objects.requireNonNull(key, "key").hashCode();
    long now = clock.nanoTime();
    synchronized (counts) {
      counts.record(now, hashCode, allowed);
    }
  }

  /**
   * Counts one decision.
   *
   * @param key the key the limiter was asked about (the client)
   * @param decision the limiter's decision
   * @throws NullPointerException if {@code key} or {@code decision} is null
   */
  public void record(Object key, RateLimitDecision decision) {
    record(key, Objects.requireNonNull(decision, "decision").allowed());
  }

  /**
   * Counts one decision, as a listener of the limiter; the same as
   * {@link #record(Object, RateLimitDecision)}.
   *
   * @param key the key the limiter was asked about (the client)
   * @param decision the limiter's decision
   * @throws NullPointerException if {@code key} or {@code decision} is null
   */
  @Override
  public void onDecision(Object key, RateLimitDecision decision) {
    record(key, decision);
  }

  /**
   * Wraps a limiter so every decision it makes is counted here. The wrapper behaves exactly like
   * the limiter otherwise; the limiter itself is not changed.
   *
   * @param <K> the key type
   * @param limiter the limiter
   * @return a counting view of it
   * @throws NullPointerException if {@code limiter} is null
   */
  public <K> RateLimiter<K> wrap(RateLimiter<K> limiter) {
    return new CountingRateLimiter<>(Objects.requireNonNull(limiter, "limiter"), this);
  }

  /**
   * Requests, refusals and distinct clients in the window.
   *
   * @return the figures, named after this counter
   */
  public Snapshot snapshot() {
    long now = clock.nanoTime();
    DistinctKeyWindow.Totals t;
    synchronized (counts) {
      t = counts.totals(now);
    }
    return new Snapshot(name, t.requests(), t.rejected(), t.keys(), t.rejectedKeys());
  }

  /**
   * Decisions in the window, as successes (allowed) and failures (refused).
   *
   * @return the counts, named after this counter
   */
  public ErrorStats stats() {
    Snapshot s = snapshot();
    return new ErrorStats(name, s.requests() - s.rejected(), s.rejected());
  }

  /**
   * The limiter's name.
   *
   * @return the name
   */
  public String name() {
    return name;
  }

  /**
   * The window.
   *
   * @return the window
   */
  public Duration window() {
    return window;
  }

  /** The bytes of counting state, fixed at creation; for tests of the memory bound. */
  long stateBytes() {
    synchronized (counts) {
      return counts.stateBytes();
    }
  }
}
