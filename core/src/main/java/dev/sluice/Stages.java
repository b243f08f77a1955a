package dev.sluice;

import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.Supplier;

/** The stages Sluice ships for {@link Protection}. */
final class Stages {
  private Stages() {}

  static final class RateLimitStage<K> implements Stage {
    private final RateLimiter<K> limiter;
    private final Function<CallContext, K> key;

    RateLimitStage(RateLimiter<K> limiter, Function<CallContext, K> key) {
      this.limiter = limiter;
      this.key = key;
    }

    @Override
    public String name() {
      return "rateLimit:" + limiter.name();
    }

    @Override
    public <T> T call(CallContext context, Callable<T> next) throws Exception {
      limiter.acquireOrThrow(key.apply(context));
      return next.call();
    }

    @Override
    public <T> CompletableFuture<T> callAsync(CallContext context,
        Supplier<CompletableFuture<T>> next) {
      try {
        limiter.acquireOrThrow(key.apply(context));
      } catch (RuntimeException refused) {
        return CompletableFuture.failedFuture(refused);
      }
      return next.get();
    }
  }

  static final class QuotaStage implements Stage {
    private final QuotaGate gate;
    private final String quota;
    private final int amount;

    QuotaStage(QuotaGate gate, String quota, int amount) {
      this.gate = gate;
      this.quota = quota;
      this.amount = amount;
    }

    @Override
    public String name() {
      return "quota:" + quota;
    }

    private void consume(CallContext context) {
      QuotaDecision decision = gate.consume(context.key(), quota, amount, context.requestId());
      if (!decision.allowed()) {
        throw new QuotaExceededException(decision);
      }
    }

    private void refund(CallContext context, Throwable failure) {
      try {
        gate.refund(context.key(), quota, context.requestId());
      } catch (RuntimeException e) {
        failure.addSuppressed(e);
      }
    }

    @Override
    public <T> T call(CallContext context, Callable<T> next) throws Exception {
      consume(context);
      try {
        return next.call();
      } catch (Throwable t) {
        refund(context, t);
        throw t;
      }
    }

    @Override
    public <T> CompletableFuture<T> callAsync(CallContext context,
        Supplier<CompletableFuture<T>> next) {
      try {
        consume(context);
      } catch (RuntimeException refused) {
        return CompletableFuture.failedFuture(refused);
      }
      CompletableFuture<T> inner;
      try {
        inner = next.get();
      } catch (RuntimeException | Error t) {
        refund(context, t);
        return CompletableFuture.failedFuture(t);
      }
      return relay(inner, failure -> refund(context, failure));
    }
  }

  static final class OutboundStage implements Stage {
    private final OutboundGuard guard;

    OutboundStage(OutboundGuard guard) {
      this.guard = guard;
    }

    @Override
    public String name() {
      return "outbound:" + guard.name();
    }

    @Override
    public <T> T call(CallContext context, Callable<T> next) throws Exception {
      return guard.call(next);
    }

    @Override
    public <T> CompletableFuture<T> callAsync(CallContext context,
        Supplier<CompletableFuture<T>> next) {
      return guard.callAsync(next);
    }
  }

  static final class QueueStage implements Stage {
    private final RequestQueue<String> queue;
    private final String priority;

    QueueStage(RequestQueue<String> queue, String priority) {
      this.queue = queue;
      this.priority = priority;
    }

    @Override
    public String name() {
      return "queue:" + queue.name() + "/" + priority;
    }

    @Override
    public <T> T call(CallContext context, Callable<T> next) throws Exception {
      RequestQueue.Permit permit = queue.acquire(context.key(), priority);
      try {
        return next.call();
      } finally {
        permit.close();
      }
    }

    @Override
    public <T> CompletableFuture<T> callAsync(CallContext context,
        Supplier<CompletableFuture<T>> next) {
      CompletableFuture<RequestQueue.Permit> permit = queue.acquireAsync(context.key(), priority);
      CompletableFuture<T> result = permit.thenCompose(p -> {
        CompletableFuture<T> inner;
        try {
          inner = next.get();
        } catch (RuntimeException e) {
          p.close();
          throw e;
        }
        return inner.whenComplete((value, error) -> p.close());
      });
      result.whenComplete((value, error) -> {
        if (error instanceof CancellationException) {
          permit.cancel(false);
        }
      });
      return result;
    }
  }

  /**
   * Returns a future with {@code inner}'s outcome that runs {@code onFailure} before failing, and
   * passes its own cancellation back to {@code inner}.
   */
  static <T> CompletableFuture<T> relay(CompletableFuture<T> inner,
      java.util.function.Consumer<Throwable> onFailure) {
    CompletableFuture<T> outer = new CompletableFuture<>();
    inner.whenComplete((value, error) -> {
      if (error == null) {
        outer.complete(value);
        return;
      }
      Throwable cause = error instanceof CompletionException && error.getCause() != null
          ? error.getCause() : error;
      onFailure.accept(cause);
      outer.completeExceptionally(cause);
    });
    outer.whenComplete((value, error) -> {
      if (error instanceof CancellationException) {
        inner.cancel(true);
      }
    });
    return outer;
  }
}
