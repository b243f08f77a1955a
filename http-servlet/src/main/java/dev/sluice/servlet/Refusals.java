package dev.sluice.servlet;

import dev.sluice.QueueRejectedException;
import dev.sluice.QuotaDecision;
import dev.sluice.RateLimitDecision;
import dev.sluice.servlet.internal.ErrorResponses;
import dev.sluice.servlet.internal.Json;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * The filter's answers other than the handler's: one method per refusal, each a JSON body a front
 * end can show, {@code Cache-Control: no-store}, and never an exception's text. Stateless.
 */
final class Refusals {
  private Refusals() {}

  static void rateLimited(HttpServletResponse response, RateLimitDecision d) throws IOException {
    response.setHeader(RateLimitHeaders.POLICY, RateLimitHeaders.policy(List.of(d)));
    response.setHeader(RateLimitHeaders.STATE, RateLimitHeaders.state(List.of(d)));
    long seconds = d.retryAfterSeconds();
    ErrorResponses.write(response, 429, seconds, ErrorResponses.body("rate_limited",
        "Too many requests: try again in " + seconds + " s.",
        "retryAfterSeconds", seconds, "policy", Json.quote(d.policy())));
  }

  static void quotaExceeded(HttpServletResponse response, QuotaDecision q, Instant now)
      throws IOException {
    long seconds = Math.max(1, Duration.between(now, q.resetsAt()).plusMillis(999).toSeconds());
    ErrorResponses.write(response, 429, seconds, ErrorResponses.body("quota_exceeded",
        "Quota '" + q.quota() + "' used up: " + q.used() + " of " + q.limit()
            + ". It resets at " + q.resetsAt() + ".",
        "quota", Json.quote(q.quota()), "limit", q.limit(), "used", q.used(),
        "remaining", q.remaining(), "resetsAt", Json.quote(q.resetsAt().toString()),
        "retryAfterSeconds", seconds));
  }

  /** 503 for a queue refusal (full, timed out, drained) or any other failure to get a permit. */
  static void overloaded(HttpServletResponse response, Throwable cause) throws IOException {
    long seconds = 1;
    String reason = "unavailable";
    if (cause instanceof QueueRejectedException q) {
      seconds = Math.max(1, q.retryAfterSeconds());
      reason = q.reason().name().toLowerCase(Locale.ROOT);
    }
    ErrorResponses.write(response, 503, seconds, ErrorResponses.body("overloaded",
        "The service is busy. Please wait " + seconds + " s and try again.",
        "reason", Json.quote(reason), "retryAfterSeconds", seconds));
  }

  /** 503 for a rate-limit or quota store that failed under a fail-closed rule. */
  static void unavailable(HttpServletResponse response) throws IOException {
    ErrorResponses.write(response, 503, 1, ErrorResponses.body("unavailable",
        "The service cannot check its limits right now. Please retry shortly.",
        "retryAfterSeconds", 1));
  }

  /** 413; the rest of the body stays unread, so the connection closes after the answer. */
  static void bodyTooLarge(HttpServletResponse response, int limit) throws IOException {
    response.setHeader("Connection", "close");
    ErrorResponses.write(response, 413, -1, ErrorResponses.body("body_too_large",
        "The request body is larger than " + limit + " bytes.", "limit", limit));
  }

  /** 408; the client was too slow, so the connection closes after the answer. */
  static void bodyTimeout(HttpServletResponse response, long seconds) throws IOException {
    response.setHeader("Connection", "close");
    ErrorResponses.write(response, 408, -1, ErrorResponses.body("body_timeout",
        "The request body did not arrive within " + seconds + " s. Send it faster, or smaller.",
        "timeoutSeconds", seconds));
  }

  /** 500 when a handler threw before sending anything; the cause goes to the log only. */
  static void internalError(HttpServletResponse response) throws IOException {
    ErrorResponses.write(response, 500, -1, ErrorResponses.body("internal_error",
        "The server failed to answer this request. Please try again later."));
  }
}
