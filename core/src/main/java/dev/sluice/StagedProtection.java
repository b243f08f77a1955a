package dev.sluice;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** The {@link Protection}: each stage gets the rest of the chain as its {@code next} step. */
final class StagedProtection implements Protection {
  private final Stage[] stages;
  private final List<String> names;

  StagedProtection(List<Stage> stages) {
    this.stages = stages.toArray(new Stage[0]);
    this.names = stages.stream().map(Stage::name).toList();
  }

  @Override
  public <T> T call(CallContext context, Callable<T> work) throws Exception {
    Objects.requireNonNull(context, "context");
    Objects.requireNonNull(work, "work");
    return callFrom(0, context, work);
  }

  private <T> T callFrom(int i, CallContext context, Callable<T> work) throws Exception {
    if (i == stages.length) {
      return work.call();
    }
    return stages[i].call(context, () -> callFrom(i + 1, context, work));
  }

  @Override
  public <T> CompletableFuture<T> callAsync(CallContext context,
      Supplier<? extends CompletionStage<T>> work) {
    Objects.requireNonNull(context, "context");
    Objects.requireNonNull(work, "work");
    return asyncFrom(0, context, work);
  }

  private <T> CompletableFuture<T> asyncFrom(int i, CallContext context,
      Supplier<? extends CompletionStage<T>> work) {
    try {
      if (i == stages.length) {
        CompletionStage<T> stage = work.get();
        if (stage == null) {
          return CompletableFuture.completedFuture(null);
        }
        if (stage instanceof CompletableFuture<T> future) {
          return Stages.relay(future, failure -> { });
        }
        CompletableFuture<T> result = new CompletableFuture<>();
        stage.whenComplete((value, error) -> {
          if (error == null) {
            result.complete(value);
          } else {
            result.completeExceptionally(error instanceof CompletionException
                && error.getCause() != null ? error.getCause() : error);
          }
        });
        return result;
      }
      CompletableFuture<T> result =
          stages[i].callAsync(context, () -> asyncFrom(i + 1, context, work));
      return result != null ? result : CompletableFuture.failedFuture(
          new IllegalStateException("stage '" + stages[i].name() + "' returned no future"));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  @Override
  public List<String> stageNames() {
    return names;
  }

  @Override
  public String toString() {
    return "Protection" + names;
  }
}
