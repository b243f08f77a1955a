package dev.sluice.quota;

import java.time.Instant;
import java.util.Objects;

/**
 * A subject's standing for one quota, as {@link AtomicQuotaRepository#status} reports it without
 * consuming anything.
 *
 * <p>Immutable and thread-safe.
 *
 * @param subject the subject
 * @param plan the subject's plan ({@code "free"} for a subject that has no account yet)
 * @param quota the quota's name
 * @param used units used in the current window
 * @param limit units allowed per window (the per-subject override if any, else the plan's)
 * @param remaining units left in the current window
 * @param resetsAt when the current window ends
 */
public record QuotaStatus(
    String subject, String plan, String quota, long used, long limit, long remaining,
    Instant resetsAt) {

  /**
   * Validates the fields.
   *
   * @param subject the subject
   * @param plan the subject's plan ({@code "free"} for a subject that has no account yet)
   * @param quota the quota's name
   * @param used units used in the current window
   * @param limit units allowed per window (the per-subject override if any, else the plan's)
   * @param remaining units left in the current window
   * @param resetsAt when the current window ends
   * @throws NullPointerException if a reference is null
   */
  public QuotaStatus {
    Objects.requireNonNull(subject, "subject");
    Objects.requireNonNull(plan, "plan");
    Objects.requireNonNull(quota, "quota");
    Objects.requireNonNull(resetsAt, "resetsAt");
  }
}
