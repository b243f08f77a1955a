package dev.sluice.servlet;

/**
 * Counts of what a {@link SluiceFilter} did, per rule or in total, since it started.
 *
 * <p>Immutable and thread-safe.
 *
 * @param admitted requests passed to the application
 * @param rateLimited requests answered 429 {@code rate_limited}
 * @param quotaExceeded requests answered 429 {@code quota_exceeded}
 * @param shed requests answered 503 {@code overloaded} by the queue (full, timed out, drained)
 * @param storeFailures decisions a shared store could not make (each followed the rule's
 *     fail-open or fail-closed choice)
 * @param shadowRefusals requests a shadow rule would have refused but let through
 * @param abandoned queued requests whose client went away before they were admitted
 * @param clientAborts exchanges the client broke off (end-of-stream or reset while its body
 *     arrived or its response was written); the client's doing, never counted as an error
 * @param bodyTimeouts requests answered 408 {@code body_timeout}: the body arrived too slowly
 * @param bodyTooLarge requests answered 413 {@code body_too_large}
 * @param failed requests whose handler threw (answered 500 JSON when nothing was sent yet)
 * @param readingBodies request bodies being read right now, a gauge: many of them for long is
 *     the mark of a slow-body attack
 */
public record FilterStats(
    long admitted,
    long rateLimited,
    long quotaExceeded,
    long shed,
    long storeFailures,
    long shadowRefusals,
    long abandoned,
    long clientAborts,
    long bodyTimeouts,
    long bodyTooLarge,
    long failed,
    long readingBodies) {}
