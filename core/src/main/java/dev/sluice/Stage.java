package dev.sluice;

import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One layer of a {@link Protection}: it receives the call's {@link CallContext} and the next step
 * (the inner stages and the work), and decides whether and how to run it. It may refuse (throw or
 * fail the future with a {@link SluiceException}) without running {@code next}, wait before
 * running it, or run it and act on its outcome. Sluice ships rate-limit, quota, queue and
 * outbound stages (the factories below); implement this interface for anything else. Here, a
 * queue keyed by tenant rather than by {@link CallContext#key()} (which {@link #queue} uses):
 *
 * <pre>{@code
 * final class TenantQueueStage implements Stage {
 *   private final RequestQueue<String> queue;
 *
 *   TenantQueueStage(RequestQueue<String> queue) { this.queue = queue; }
 *
 *   public String name() { return "queue:tenant"; }
 *
 *   public <T> T call(CallContext ctx, Callable<T> next) throws Exception {
 *     try (RequestQueue.Permit p = queue.acquire(tenant(ctx), "chat")) {
 *       return next.call();
 *     }
 *   }
 *
 *   public <T> CompletableFuture<T> callAsync(CallContext ctx,
 *       Supplier<CompletableFuture<T>> next) {
 *     return queue.acquireAsync(tenant(ctx), "chat").thenCompose(p -> {
 *       try {
 *         return next.get().whenComplete((r, e) -> p.close());
 *       } catch (RuntimeException e) {
 *         p.close();
 *         throw e;
 *       }
 *     });
 *   }
 *
 *   private static String tenant(CallContext ctx) {
 *     return ctx.attribute("tenant").map(String::valueOf).orElse(ctx.key());
 *   }
 * }
 * }</pre>
 *
 * <p>Implementations must be thread-safe: one stage serves every call.
 */
public interface Stage {

  /**
   * The stage's name, as listed by {@link Protection#stageNames()}.
   *
   * @return the name
   */
  String name();

  /**
   * Runs the rest of the call synchronously, on the calling thread.
   *
   * @param <T> the result type
   * @param context who the call is for
   * @param next the inner stages and the work; call it at most once unless retrying on purpose
   * @return the call's result
   * @throws SluiceException if the stage refuses
   * @throws Exception whatever {@code next} throws
   */
  <T> T call(CallContext context, Callable<T> next) throws Exception;

  /**
   * Runs the rest of the call asynchronously; must not block.
   *
   * @param <T> the result type
   * @param context who the call is for
   * @param next starts the inner stages and the work
   * @return the call's outcome, failed with a {@link SluiceException} if the stage refuses
   */
  <T> CompletableFuture<T> callAsync(CallContext context, Supplier<CompletableFuture<T>> next);

  /**
   * A rate-limit stage keyed by {@link CallContext#key()}: refuses with
   * {@link RateLimitExceededException}.
   *
   * @param limiter the limiter
   * @return the stage
   * @throws NullPointerException if {@code limiter} is null
   */
  static Stage rateLimit(RateLimiter<String> limiter) {
    return rateLimit(limiter, CallContext::key);
  }

  /**
   * A rate-limit stage with its own key, such as a route or a client IP attribute.
   *
   * @param <K> the limiter's key type
   * @param limiter the limiter
   * @param key derives the limiter's key from the call
   * @return the stage
   * @throws NullPointerException if an argument is null
   */
  static <K> Stage rateLimit(RateLimiter<K> limiter, Function<CallContext, K> key) {
    return new Stages.RateLimitStage<>(Objects.requireNonNull(limiter, "limiter"),
        Objects.requireNonNull(key, "key"));
  }

  /**
   * A quota stage: consumes one unit of {@code quota} for {@link CallContext#key()} before the
   * call (refusing with {@link QuotaExceededException}), and refunds it, by
   * {@link CallContext#requestId()}, if the rest of the call fails.
   *
   * @param gate the quota store
   * @param quota the quota's name, such as {@code "chat"}
   * @return the stage
   * @throws NullPointerException if an argument is null
   */
  static Stage quota(QuotaGate gate, String quota) {
    return quota(gate, quota, 1);
  }

  /**
   * A quota stage consuming {@code amount} units per call.
   *
   * @param gate the quota store
   * @param quota the quota's name
   * @param amount units per call, &gt;= 1
   * @return the stage
   * @throws NullPointerException if {@code gate} or {@code quota} is null
   * @throws IllegalArgumentException if {@code amount} &lt; 1
   */
  static Stage quota(QuotaGate gate, String quota, int amount) {
    if (amount < 1) {
      throw new IllegalArgumentException("amount must be >= 1 but was " + amount);
    }
    return new Stages.QuotaStage(Objects.requireNonNull(gate, "gate"),
        Objects.requireNonNull(quota, "quota"), amount);
  }

  /**
   * A stage that holds a {@link RequestQueue} permit, keyed by {@link CallContext#key()}, while
   * the inner stages and the call run. The blocking form waits with the queue's timeout; the
   * async form holds no thread while it waits. The permit is released exactly once, when the call
   * ends however it ends.
   *
   * @param queue the queue
   * @param priority the priority class to wait in
   * @return the stage
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the queue does not declare {@code priority}
   */
  static Stage queue(RequestQueue<String> queue, String priority) {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(priority, "priority");
    if (!queue.priorities().contains(priority)) {
      throw new IllegalArgumentException("priority '" + priority + "' is not one of queue '"
          + queue.name() + "' classes " + queue.priorities());
    }
    return new Stages.QueueStage(queue, priority);
  }

  /**
   * An outbound stage: runs the rest of the call through the guard (pacing, retry, breaker,
   * timeout). Anything inside it is retried with it, so it belongs last.
   *
   * @param guard the guard
   * @return the stage
   * @throws NullPointerException if {@code guard} is null
   */
  static Stage outbound(OutboundGuard guard) {
    return new Stages.OutboundStage(Objects.requireNonNull(guard, "guard"));
  }
}
