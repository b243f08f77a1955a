package dev.sluice.quota;

/**
 * One consume of a batch ({@link AtomicQuotaRepository#consumeAll}): {@code amount} units of
 * {@code quota} for {@code subject}, with an optional idempotency key.
 *
 * <p>Immutable and thread-safe.
 *
 * @param subject who is charged, such as a user id; non-blank, at most 1024 bytes in UTF-8
 * @param quota the quota's name, such as {@code "chat"}; non-blank, at most 128 bytes
 * @param amount units to consume, &gt;= 1
 * @param requestId an idempotency key, or null for none; never blank, at most 512 bytes
 */
public record QuotaRequest(String subject, String quota, int amount, String requestId) {
  /**
   * Validates the request.
   *
   * @param subject who is charged; non-blank
   * @param quota the quota's name; non-blank
   * @param amount units to consume, &gt;= 1
   * @param requestId an idempotency key, or null for none; never blank
   * @throws IllegalArgumentException if {@code subject} or {@code quota} is blank or too long,
   *     {@code amount} &lt; 1, or {@code requestId} is blank or too long
   */
  public QuotaRequest {
    Keys.requireSubject(subject);
    Keys.requireQuota(quota);
    if (amount < 1) {
      throw new IllegalArgumentException("amount must be >= 1 but was " + amount);
    }
    Keys.requireRequestId(requestId);
  }

  /**
   * One unit without a request id.
   *
   * @param subject who is charged
   * @param quota the quota's name
   * @return the request
   * @throws IllegalArgumentException if {@code subject} or {@code quota} is blank
   */
  public static QuotaRequest of(String subject, String quota) {
    return new QuotaRequest(subject, quota, 1, null);
  }
}
