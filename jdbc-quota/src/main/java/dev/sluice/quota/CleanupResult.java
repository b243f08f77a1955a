package dev.sluice.quota;

/**
 * What {@code sluice.cleanup_old_sessions(retention)} deleted.
 *
 * <p>Immutable and thread-safe.
 *
 * @param ledgerRowsDeleted consumption ledger rows older than the retention, from ended windows
 * @param quotaRowsDeleted counters whose window ended more than the retention ago
 * @param rateLimitKeysDeleted rate-limit keys whose bucket was full again
 */
public record CleanupResult(
    long ledgerRowsDeleted, long quotaRowsDeleted, long rateLimitKeysDeleted) {}
