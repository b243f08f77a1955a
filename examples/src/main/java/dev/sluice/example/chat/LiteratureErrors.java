package dev.sluice.example.chat;

import dev.sluice.AttemptTimeoutException;
import dev.sluice.CircuitOpenException;
import dev.sluice.PacingRejectedException;

/**
 * What a client is told when the literature service cannot answer: always 503 with a {@code
 * Retry-After} (so the quota is refunded and load generators do not count a crash), with the
 * breaker's remaining open time when it is open. Stateless and thread-safe.
 */
final class LiteratureErrors implements ApiServlet.LiteratureErrors {
  @Override
  public long retryAfterSeconds(Throwable failure) {
    if (failure instanceof CircuitOpenException e) {
      return Math.max(1, (e.untilProbe().toMillis() + 999) / 1000);
    }
    if (failure instanceof PacingRejectedException e) {
      return Math.max(1, (e.waitTime().toMillis() + 999) / 1000);
    }
    return 5;
  }

  @Override
  public String reason(Throwable failure) {
    if (failure instanceof CircuitOpenException) {
      return "circuit_open";
    }
    if (failure instanceof PacingRejectedException) {
      return "paced";
    }
    if (failure instanceof AttemptTimeoutException) {
      return "timeout";
    }
    return "failed";
  }
}
