package dev.sluice.internal;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A token bucket that caps retries to a share of first attempts (the Google SRE book's retry
 * budget): each first attempt deposits {@code ratio} of a token, each retry withdraws a whole one,
 * and the bucket holds at most {@code maxTokens}. It starts full, so a quiet service can still
 * retry its first few failures. Kept in thousandths of a token; lock-free and thread-safe.
 */
public final class RetryBudget {
  private static final long ONE = 1000;
  private final long deposit;
  private final long capacity;
  private final AtomicLong milliTokens;

  /**
   * Creates a full budget.
   *
   * @param ratio tokens deposited per first attempt, in [0, 1]
   * @param maxTokens the cap, &gt;= 1
   */
  public RetryBudget(double ratio, int maxTokens) {
    this.deposit = Math.round(ratio * ONE);
    this.capacity = maxTokens * ONE;
    this.milliTokens = new AtomicLong(capacity);
  }

  /** Credits one first attempt. */
  public void deposit() {
    milliTokens.accumulateAndGet(deposit, (current, add) -> Math.min(capacity, current + add));
  }

  /**
   * Takes one token for a retry if one is there.
   *
   * @return whether the retry may go ahead
   */
  public boolean tryWithdraw() {
    while (true) {
      long current = milliTokens.get();
      if (current < ONE) {
        return false;
      }
      if (milliTokens.compareAndSet(current, current - ONE)) {
        return true;
      }
    }
  }

  /**
   * The tokens left.
   *
   * @return tokens, with fractions
   */
  public double tokens() {
    return milliTokens.get() / (double) ONE;
  }
}
