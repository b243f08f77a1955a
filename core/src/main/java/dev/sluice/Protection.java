package dev.sluice;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/**
 * Wraps a call in any subset of Sluice's primitives, in one stated order: the order the stages are
 * added to the builder, <b>outermost first</b>. A stage that refuses (rate limited, quota
 * exhausted, queue full, circuit open) stops the call there: no inner stage and no work runs, so
 * a refused request costs no quota, no queue slot and no downstream call.
 *
 * <p>The recommended order, and the one the builder's javadoc follows, is
 * <b>rate limit → quota → queue → outbound guard</b>: cheap in-memory refusals first; quota before
 * the queue so a user out of quota never takes a slot (the quota is refunded if anything inside
 * fails); the queue before the guard so only admitted work waits for a pacing turn. The guard must
 * be last, because whatever it wraps is retried; {@link Builder#build()} refuses a stage after it.
 * Every primitive also works alone, without a {@code Protection}.
 *
 * <pre>{@code
 * Protection chat = Protection.builder()
 *     .rateLimit(perUser)                    // RateLimiter<String>, 5/min per user
 *     .quota(quotaRepository, "chat")        // QuotaGate, 3/day on the free plan
 *     .stage(queueStage)                     // any Stage, e.g. a RequestQueue adapter
 *     .outbound(pubmed)                      // OutboundGuard: pacing, retry, breaker, timeout
 *     .build();
 *
 * Answer a = chat.call(CallContext.of(userId), () -> assistant.answer(question));
 * }</pre>
 *
 * <p><b>Thread safety.</b> Instances are immutable and thread-safe if their stages are.
 */
public interface Protection {

  /**
   * Runs {@code work} through every stage, synchronously.
   *
   * @param <T> the result type
   * @param context who the call is for
   * @param work the protected work
   * @return the work's result
   * @throws RateLimitExceededException if the rate limit refused
   * @throws QuotaExceededException if the quota is exhausted
   * @throws SluiceException if another stage refused
   * @throws Exception whatever the work throws
   */
  <T> T call(CallContext context, Callable<T> work) throws Exception;

  /**
   * Runs asynchronous work through every stage.
   *
   * @param <T> the result type
   * @param context who the call is for
   * @param work starts the protected work
   * @return the outcome, failed with the refusal or the work's exception
   */
  <T> CompletableFuture<T> callAsync(CallContext context,
      Supplier<? extends CompletionStage<T>> work);

  /**
   * The stages' names, outermost first.
   *
   * @return the names
   */
  List<String> stageNames();

  /**
   * Starts a builder.
   *
   * @return an empty builder (no stages: calls run unprotected)
   */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Builds {@link Protection}s; each call adds the next, inner, stage.
   *
   * <p>Not thread-safe.
   */
  final class Builder {
    private final List<Stage> stages = new ArrayList<>();

    Builder() {}

    /**
     * Adds a rate-limit stage keyed by {@link CallContext#key()}.
     *
     * @param limiter the limiter
     * @return this builder
     * @throws NullPointerException if {@code limiter} is null
     */
    public Builder rateLimit(RateLimiter<String> limiter) {
      return stage(Stage.rateLimit(limiter));
    }

    /**
     * Adds a quota stage consuming one unit per call for {@link CallContext#key()}.
     *
     * @param gate the quota store
     * @param quota the quota's name
     * @return this builder
     * @throws NullPointerException if an argument is null
     */
    public Builder quota(QuotaGate gate, String quota) {
      return stage(Stage.quota(gate, quota));
    }

    /**
     * Adds an outbound-guard stage; it must be the last stage.
     *
     * @param guard the guard
     * @return this builder
     * @throws NullPointerException if {@code guard} is null
     */
    public Builder outbound(OutboundGuard guard) {
      return stage(Stage.outbound(guard));
    }

    /**
     * Adds any stage, such as a request queue.
     *
     * @param stage the stage
     * @return this builder
     * @throws NullPointerException if {@code stage} is null
     */
    public Builder stage(Stage stage) {
      stages.add(Objects.requireNonNull(stage, "stage"));
      return this;
    }

    /**
     * Builds the composition.
     *
     * @return a new protection
     * @throws IllegalStateException if a stage follows an outbound guard (it would be retried)
     */
    public Protection build() {
      for (int i = 0; i < stages.size() - 1; i++) {
        if (stages.get(i) instanceof Stages.OutboundStage) {
          throw new IllegalStateException("stage '" + stages.get(i + 1).name()
              + "' is inside outbound guard '" + stages.get(i).name()
              + "' and would be retried with it: add the outbound guard last");
        }
      }
      return new StagedProtection(stages);
    }
  }
}
