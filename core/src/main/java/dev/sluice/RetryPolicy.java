package dev.sluice;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * How an {@link OutboundGuard} retries: how many attempts, exponential backoff with jitter, which
 * failures and results to retry, how to honour a server-told {@code Retry-After}, and the retry
 * budget. The retries themselves are run by Failsafe's {@code RetryPolicy}; this is Sluice's own
 * immutable configuration of it, so callers never program against Failsafe's API.
 *
 * <p><b>Delays.</b> The first retry waits {@code initialDelay}; each next one multiplies the
 * previous by {@code factor}, capped at {@code maxDelay}. Jitter {@code j} then multiplies each
 * delay by a random factor in {@code (1 - j, 1 + j]}, so clients that failed together do not retry
 * together.
 *
 * <p><b>Retry-After.</b> When {@link Builder#retryAfterOn(Function)} or
 * {@link Builder#retryAfterWhen(Function)} maps a failure to a server-told delay, that delay
 * replaces the backoff (it is not capped by {@code maxDelay}, and jitter only ever lengthens it). A
 * told delay longer than {@link Builder#maxRetryAfter(Duration)} is not waited for: the failure is
 * returned at once.
 *
 * <p><b>Budget.</b> Each call's first attempt deposits {@code budgetRatio} of a token (default 0.1)
 * into a bucket of at most {@code budgetMaxTokens} tokens (default 10, starting full); each retry
 * takes one token, and with none left the failure is returned without retrying. So while a
 * downstream fails, retries add at most about 10 % to its load (the Google SRE book's retry
 * budget) instead of multiplying an outage by the number of attempts.
 *
 * <pre>{@code
 * RetryPolicy retry = RetryPolicy.builder()
 *     .maxAttempts(4)
 *     .backoff(Duration.ofMillis(200), Duration.ofSeconds(5), 2.0)
 *     .jitter(0.25)
 *     .retryOn(IOException.class)
 *     .retryAfterOn(e -> e instanceof HttpStatusException h ? h.retryAfter() : null)
 *     .build();
 * }</pre>
 *
 * <p>Immutable and thread-safe; the predicates and functions given must be thread-safe too.
 */
public final class RetryPolicy {
  private final int maxAttempts;
  private final Duration initialDelay;
  private final Duration maxDelay;
  private final double factor;
  private final double jitter;
  private final List<Class<? extends Throwable>> retryOn;
  private final Predicate<Throwable> retryIf;
  private final Predicate<Object> retryOnResult;
  private final Function<Throwable, Duration> retryAfterOn;
  private final Function<Object, Duration> retryAfterWhen;
  private final Duration maxRetryAfter;
  private final double budgetRatio;
  private final int budgetMaxTokens;

  private RetryPolicy(Builder b) {
    this.maxAttempts = b.maxAttempts;
    this.initialDelay = b.initialDelay;
    this.maxDelay = b.maxDelay;
    this.factor = b.factor;
    this.jitter = b.jitter;
    this.retryOn = List.copyOf(b.retryOn);
    this.retryIf = b.retryIf;
    this.retryOnResult = b.retryOnResult;
    this.retryAfterOn = b.retryAfterOn;
    this.retryAfterWhen = b.retryAfterWhen;
    this.maxRetryAfter = b.maxRetryAfter;
    this.budgetRatio = b.budgetRatio;
    this.budgetMaxTokens = b.budgetMaxTokens;
  }

  /**
   * A policy that never retries.
   *
   * @return a policy with one attempt
   */
  public static RetryPolicy none() {
    return builder().maxAttempts(1).build();
  }

  /**
   * Starts a builder.
   *
   * @return a builder with defaults: 3 attempts, backoff from 100 ms doubling up to 10 s, jitter
   *     0.2, retry on every exception and no result, Retry-After up to 60 s, budget 0.1 per call
   *     capped at 10 tokens
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Attempts per call, the first one included.
   *
   * @return max attempts, &gt;= 1
   */
  public int maxAttempts() {
    return maxAttempts;
  }

  /**
   * The delay before the first retry.
   *
   * @return the initial delay
   */
  public Duration initialDelay() {
    return initialDelay;
  }

  /**
   * The cap on backoff delays.
   *
   * @return the max delay
   */
  public Duration maxDelay() {
    return maxDelay;
  }

  /**
   * The backoff multiplier.
   *
   * @return the factor, &gt;= 1
   */
  public double factor() {
    return factor;
  }

  /**
   * The jitter factor.
   *
   * @return jitter in [0, 1)
   */
  public double jitter() {
    return jitter;
  }

  /**
   * The longest server-told delay that is waited for.
   *
   * @return the max Retry-After
   */
  public Duration maxRetryAfter() {
    return maxRetryAfter;
  }

  /**
   * Tokens deposited per first attempt.
   *
   * @return the ratio in [0, 1]
   */
  public double budgetRatio() {
    return budgetRatio;
  }

  /**
   * The cap of the retry budget.
   *
   * @return max tokens, 0 when there is no budget
   */
  public int budgetMaxTokens() {
    return budgetMaxTokens;
  }

  /**
   * Whether a failure is retried (before the budget and attempt count are considered).
   *
   * @param failure the exception an attempt ended with
   * @return whether it is of a kind to retry
   */
  public boolean retries(Throwable failure) {
    if (failure == null || failure instanceof CircuitOpenException
        || failure instanceof PacingRejectedException) {
      return false;
    }
    if (retryOn.isEmpty() && retryIf == null) {
      return failure instanceof Exception;
    }
    for (Class<? extends Throwable> type : retryOn) {
      if (type.isInstance(failure)) {
        return true;
      }
    }
    return retryIf != null && retryIf.test(failure);
  }

  /**
   * Whether a successful result is retried.
   *
   * @param result the result an attempt returned
   * @return whether it is of a kind to retry
   */
  public boolean retriesResult(Object result) {
    return retryOnResult != null && retryOnResult.test(result);
  }

  /**
   * The server-told delay for an attempt's outcome, if the configured functions give one.
   *
   * @param result the attempt's result, or null
   * @param failure the attempt's exception, or null
   * @return the delay, or null to use the backoff
   */
  public Duration serverDelay(Object result, Throwable failure) {
    Duration told = null;
    if (failure != null && retryAfterOn != null) {
      told = retryAfterOn.apply(failure);
    } else if (failure == null && retryAfterWhen != null) {
      told = retryAfterWhen.apply(result);
    }
    return told == null || told.isNegative() ? null : told;
  }

  @Override
  public String toString() {
    return "RetryPolicy[maxAttempts=" + maxAttempts + ", backoff " + initialDelay + ".." + maxDelay
        + " x" + factor + ", jitter " + jitter + ", budget " + budgetRatio + "/" + budgetMaxTokens
        + "]";
  }

  /**
   * Builds {@link RetryPolicy}s. Setters validate at once; {@link #build()} checks the
   * combination and copies the configuration.
   *
   * <p>Not thread-safe.
   */
  public static final class Builder {
    private int maxAttempts = 3;
    private Duration initialDelay = Duration.ofMillis(100);
    private Duration maxDelay = Duration.ofSeconds(10);
    private double factor = 2.0;
    private double jitter = 0.2;
    private final List<Class<? extends Throwable>> retryOn = new ArrayList<>();
    private Predicate<Throwable> retryIf;
    private Predicate<Object> retryOnResult;
    private Function<Throwable, Duration> retryAfterOn;
    private Function<Object, Duration> retryAfterWhen;
    private Duration maxRetryAfter = Duration.ofSeconds(60);
    private double budgetRatio = 0.1;
    private int budgetMaxTokens = 10;

    private Builder() {}

    /**
     * Sets the attempts per call, the first one included.
     *
     * @param attempts attempts, &gt;= 1 (1 means no retry)
     * @return this builder
     * @throws IllegalArgumentException if {@code attempts} &lt; 1
     */
    public Builder maxAttempts(int attempts) {
      if (attempts < 1) {
        throw new IllegalArgumentException("maxAttempts must be >= 1 but was " + attempts);
      }
      this.maxAttempts = attempts;
      return this;
    }

    /**
     * Sets exponential backoff.
     *
     * @param initialDelay the delay before the first retry, &gt;= 1 ms
     * @param maxDelay the cap, &gt;= {@code initialDelay} (checked by {@link #build()})
     * @param factor the multiplier, &gt;= 1 (1 means a fixed delay)
     * @return this builder
     * @throws IllegalArgumentException if a delay is null or below 1 ms, or {@code factor} &lt; 1
     */
    public Builder backoff(Duration initialDelay, Duration maxDelay, double factor) {
      CircuitBreaker.Builder.requireAtLeastMillis("initialDelay", initialDelay);
      CircuitBreaker.Builder.requireAtLeastMillis("maxDelay", maxDelay);
      if (!(factor >= 1) || Double.isInfinite(factor)) {
        throw new IllegalArgumentException("factor must be >= 1 but was " + factor);
      }
      this.initialDelay = initialDelay;
      this.maxDelay = maxDelay;
      this.factor = factor;
      return this;
    }

    /**
     * Sets exponential backoff that doubles.
     *
     * @param initialDelay the delay before the first retry, &gt;= 1 ms
     * @param maxDelay the cap
     * @return this builder
     * @throws IllegalArgumentException if a delay is null or below 1 ms
     */
    public Builder backoff(Duration initialDelay, Duration maxDelay) {
      return backoff(initialDelay, maxDelay, 2.0);
    }

    /**
     * Sets a fixed delay between attempts.
     *
     * @param delay the delay, &gt;= 1 ms
     * @return this builder
     * @throws IllegalArgumentException if {@code delay} is null or below 1 ms
     */
    public Builder fixedDelay(Duration delay) {
      return backoff(delay, delay, 1.0);
    }

    /**
     * Sets the jitter factor: each delay is multiplied by a random factor in
     * {@code (1 - jitter, 1 + jitter]}.
     *
     * @param jitter the factor, in [0, 1)
     * @return this builder
     * @throws IllegalArgumentException if {@code jitter} is outside [0, 1)
     */
    public Builder jitter(double jitter) {
      if (!(jitter >= 0 && jitter < 1)) {
        throw new IllegalArgumentException("jitter must be in [0, 1) but was " + jitter);
      }
      this.jitter = jitter;
      return this;
    }

    /**
     * Retries failures of these types (and their subtypes). Once this or
     * {@link #retryIf(Predicate)} is given, other failures are not retried; by default every
     * exception is. {@link CircuitOpenException} and {@link PacingRejectedException} are never
     * retried.
     *
     * @param types exception types to retry
     * @return this builder
     * @throws NullPointerException if {@code types} or an element is null
     */
    @SafeVarargs
    public final Builder retryOn(Class<? extends Throwable>... types) {
      for (Class<? extends Throwable> type : Objects.requireNonNull(types, "types")) {
        retryOn.add(Objects.requireNonNull(type, "types element"));
      }
      return this;
    }

    /**
     * Retries failures the predicate accepts, in addition to {@link #retryOn(Class[])}.
     *
     * @param predicate true for failures to retry
     * @return this builder
     * @throws NullPointerException if {@code predicate} is null
     */
    public Builder retryIf(Predicate<Throwable> predicate) {
      this.retryIf = Objects.requireNonNull(predicate, "predicate");
      return this;
    }

    /**
     * Retries successful results the predicate accepts (for example an HTTP 503 response object).
     * When retries run out, the last such result is returned.
     *
     * @param predicate true for results to retry; it receives results of any call type
     * @return this builder
     * @throws NullPointerException if {@code predicate} is null
     */
    public Builder retryOnResult(Predicate<Object> predicate) {
      this.retryOnResult = Objects.requireNonNull(predicate, "predicate");
      return this;
    }

    /**
     * Maps a failure to the delay the server asked for (its {@code Retry-After}); null means
     * none, and the backoff applies.
     *
     * @param function the mapping
     * @return this builder
     * @throws NullPointerException if {@code function} is null
     */
    public Builder retryAfterOn(Function<Throwable, Duration> function) {
      this.retryAfterOn = Objects.requireNonNull(function, "function");
      return this;
    }

    /**
     * Maps a retried result (see {@link #retryOnResult(Predicate)}) to the delay the server asked
     * for; null means none.
     *
     * @param function the mapping
     * @return this builder
     * @throws NullPointerException if {@code function} is null
     */
    public Builder retryAfterWhen(Function<Object, Duration> function) {
      this.retryAfterWhen = Objects.requireNonNull(function, "function");
      return this;
    }

    /**
     * The longest server-told delay to wait for; a longer one returns the failure at once.
     *
     * @param max the limit, &gt; 0
     * @return this builder
     * @throws IllegalArgumentException if {@code max} is null, zero or negative
     */
    public Builder maxRetryAfter(Duration max) {
      this.maxRetryAfter = CircuitBreaker.Builder.requirePositive("maxRetryAfter", max);
      return this;
    }

    /**
     * Sets the retry budget.
     *
     * @param ratio tokens each call's first attempt deposits, in [0, 1]
     * @param maxTokens the bucket's cap and starting level, &gt;= 1
     * @return this builder
     * @throws IllegalArgumentException if an argument is out of range
     */
    public Builder budget(double ratio, int maxTokens) {
      if (!(ratio >= 0 && ratio <= 1)) {
        throw new IllegalArgumentException("budget ratio must be in [0, 1] but was " + ratio);
      }
      if (maxTokens < 1) {
        throw new IllegalArgumentException("budget maxTokens must be >= 1 but was " + maxTokens);
      }
      this.budgetRatio = ratio;
      this.budgetMaxTokens = maxTokens;
      return this;
    }

    /**
     * Removes the retry budget: every call may use all its attempts.
     *
     * @return this builder
     */
    public Builder noBudget() {
      this.budgetRatio = 0;
      this.budgetMaxTokens = 0;
      return this;
    }

    /**
     * Builds the policy.
     *
     * @return a new policy
     * @throws IllegalStateException if {@code maxDelay} is shorter than {@code initialDelay}
     */
    public RetryPolicy build() {
      if (maxDelay.compareTo(initialDelay) < 0) {
        throw new IllegalStateException("backoff maxDelay " + maxDelay
            + " must be >= initialDelay " + initialDelay);
      }
      return new RetryPolicy(this);
    }
  }
}
