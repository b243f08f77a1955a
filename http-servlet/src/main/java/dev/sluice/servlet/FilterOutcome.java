package dev.sluice.servlet;

/**
 * How a request a {@link SluiceFilter} rule matched ended, as told to a {@link FilterListener}.
 *
 * <p>Every matched request ends with exactly one <em>final</em> outcome ({@link #isFinal()}).
 * Two outcomes are not final but happen on the way and are reported in addition, before the final
 * one: {@link #STORE_FAILURE_OPEN} (a store failed and the rule let the request go on) and
 * {@link #SHADOW_REFUSAL} (a shadow rule would have refused). A request may see several of them,
 * one per step.
 *
 * <p>How they relate to {@link FilterStats}: {@code rateLimited}, {@code quotaExceeded},
 * {@code bodyTooLarge}, {@code bodyTimeouts}, {@code abandoned} and {@code shadowRefusals} count
 * the outcome of the same name; {@code shed} counts {@link #QUEUE_REJECTED} plus
 * {@link #QUEUE_TIMEOUT}; {@code storeFailures} counts {@link #STORE_FAILURE_OPEN} plus
 * {@link #STORE_FAILURE_CLOSED} (and failed refunds, which are no outcome); {@code admitted}
 * counts requests handed to the handler, which end {@link #ADMITTED}, {@link #FAILED} or, when
 * the client leaves during the handler, {@link #CLIENT_ABORT}.
 *
 * <p>Immutable and thread-safe.
 */
public enum FilterOutcome {
  /** Final: the handler ran and returned (or its asynchronous work completed), whatever status. */
  ADMITTED(true),
  /** Final: a rate limit refused; answered 429 {@code rate_limited}. */
  RATE_LIMITED(true),
  /** Final: the quota was used up; answered 429 {@code quota_exceeded}. */
  QUOTA_EXCEEDED(true),
  /** Final: the queue refused at once (full), was drained or shut down; answered 503. */
  QUEUE_REJECTED(true),
  /** Final: the request waited its whole queue timeout; answered 503. */
  QUEUE_TIMEOUT(true),
  /** Final: the client left while its request waited in the queue; nothing was answered. */
  ABANDONED(true),
  /** Final: the body was larger than allowed, declared or as it arrived; answered 413. */
  BODY_TOO_LARGE(true),
  /** Final: the body arrived too slowly; answered 408. */
  BODY_TIMEOUT(true),
  /**
   * Final: the client broke the exchange off while its body arrived, while its request waited on
   * a remote rate-limit store, or while the handler read or wrote. The client's doing, not an
   * error.
   */
  CLIENT_ABORT(true),
  /**
   * Not final: a rate-limit or quota store failed (or a remote store timed out) and the rule
   * fails open (or is a shadow rule), so the request went on.
   */
  STORE_FAILURE_OPEN(false),
  /**
   * Final: a rate-limit or quota store failed (or a remote store did not answer before the
   * filter's {@link SluiceFilter.Builder#remoteStoreTimeout(java.time.Duration) remote store
   * timeout}) and the rule fails closed; answered 503 {@code unavailable}.
   */
  STORE_FAILURE_CLOSED(true),
  /** Not final: a shadow rule would have refused (a limit or the quota) but let it through. */
  SHADOW_REFUSAL(false),
  /**
   * Final: the handler threw (answered 500 JSON when nothing was sent yet), or its asynchronous
   * work failed or timed out.
   */
  FAILED(true);

  private final boolean terminal;

  FilterOutcome(boolean terminal) {
    this.terminal = terminal;
  }

  /**
   * Whether this outcome ends the request: exactly one final outcome is reported per matched
   * request.
   *
   * @return true for final outcomes, false for {@link #STORE_FAILURE_OPEN} and
   *     {@link #SHADOW_REFUSAL}
   */
  public boolean isFinal() {
    return terminal;
  }
}
