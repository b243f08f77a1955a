package dev.sluice;

import java.time.Duration;
import java.util.Objects;

/**
 * A {@link RequestQueue} refused or gave up on an attempt. The {@link #reason()} tells which, and
 * the figures say how busy the queue was, how long this attempt waited and when to try again —
 * what a 503 response with {@code Retry-After} needs.
 *
 * <p>The exception carries no stack trace: it is an expected outcome under load, often created on
 * the timeout thread rather than the caller's, and its figures say everything useful. Filling a
 * stack trace for every shed request would make shedding load expensive exactly when it matters.
 *
 * <p>Immutable and thread-safe.
 */
public class QueueRejectedException extends SluiceException {
  private static final long serialVersionUID = 1L;

  /** Why an attempt did not get a permit. */
  public enum Reason {
    /**
     * Refused at once: no permit was free and the attempt could not wait, because the global or
     * the key's wait queue was full, or because the form never waits ({@code tryAcquire}).
     */
    QUEUE_FULL,
    /** Waited for its whole timeout without a permit being free for it. */
    TIMED_OUT,
    /** Was waiting when an operator called {@link RequestQueue#drain()}; the queue stays open. */
    DRAINED,
    /** The queue was closed ({@link RequestQueue#close()}) before or while it waited. */
    SHUT_DOWN
  }

  /** Why the attempt did not get a permit. */
  private final Reason reason;
  /** The refusing queue's name. */
  private final String queueName;
  /** Attempts waiting when this one was refused. */
  private final int queued;
  /** How long this attempt waited. */
  private final long waitedNanos;
  /** The suggested delay before retrying. */
  private final long retryAfterNanos;

  /**
   * Creates the exception.
   *
   * @param reason why the attempt did not get a permit
   * @param queueName the queue's name
   * @param queued how many attempts were waiting in the queue at that moment
   * @param waitedNanos how long this attempt waited, in nanoseconds (0 when refused at once)
   * @param retryAfterNanos a suggested delay before retrying, in nanoseconds
   * @throws NullPointerException if {@code reason} or {@code queueName} is null
   * @throws IllegalArgumentException if a figure is negative
   */
  public QueueRejectedException(Reason reason, String queueName, int queued, long waitedNanos,
      long retryAfterNanos) {
    super(null);
    this.reason = Objects.requireNonNull(reason, "reason");
    this.queueName = Objects.requireNonNull(queueName, "queueName");
    if (queued < 0) {
      throw new IllegalArgumentException("queued must be >= 0 but was " + queued);
    }
    if (waitedNanos < 0) {
      throw new IllegalArgumentException("waitedNanos must be >= 0 but was " + waitedNanos);
    }
    if (retryAfterNanos < 0) {
      throw new IllegalArgumentException("retryAfterNanos must be >= 0 but was " + retryAfterNanos);
    }
    this.queued = queued;
    this.waitedNanos = waitedNanos;
    this.retryAfterNanos = retryAfterNanos;
  }

  /**
   * Describes the rejection. Built on demand, so shedding load costs no string building.
   *
   * @return the reason and figures in words
   */
  @Override
  public String getMessage() {
    String what;
    switch (reason) {
      case QUEUE_FULL:
        what = "queue full";
        break;
      case TIMED_OUT:
        what = "timed out waiting for a permit";
        break;
      case DRAINED:
        what = "drained by an operator";
        break;
      default:
        what = "shut down";
        break;
    }
    return "request queue '" + queueName + "': " + what + " (queued " + queued + ", waited "
        + waitedNanos / 1_000_000 + " ms, retry after " + retryAfterNanos / 1_000_000 + " ms)";
  }

  /** No stack trace; see the class comment. */
  @Override
  public synchronized Throwable fillInStackTrace() {
    return this;
  }

  /**
   * Why the attempt did not get a permit.
   *
   * @return the reason, never null
   */
  public Reason reason() {
    return reason;
  }

  /**
   * The name of the refusing queue.
   *
   * @return the queue name given to its builder
   */
  public String queueName() {
    return queueName;
  }

  /**
   * How many attempts were waiting in the queue when this one was refused or given up.
   *
   * @return the queued count, &gt;= 0
   */
  public int queued() {
    return queued;
  }

  /**
   * How long this attempt waited before it was refused.
   *
   * @return zero when refused at once, otherwise the wait
   */
  public Duration waited() {
    return Duration.ofNanos(waitedNanos);
  }

  /**
   * A suggested delay before retrying (the queue's configured {@code retryAfter}).
   *
   * @return the suggested delay
   */
  public Duration retryAfter() {
    return Duration.ofNanos(retryAfterNanos);
  }

  /**
   * {@link #retryAfter()} in whole seconds, rounded up, as HTTP's {@code Retry-After} wants it.
   *
   * @return the delay in seconds
   */
  public long retryAfterSeconds() {
    return retryAfterNanos / 1_000_000_000L + (retryAfterNanos % 1_000_000_000L == 0 ? 0 : 1);
  }
}
