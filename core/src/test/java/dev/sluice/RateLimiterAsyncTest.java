package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.contract.RateLimitStoreContract.ReferenceGcra;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.junit.jupiter.api.Test;

class RateLimiterAsyncTest {

  /**
   * A naturally asynchronous store whose steps finish only when the test says so: the reference
   * GCRA runs when a step is released, or the step fails.
   */
  private static final class HeldStore implements AsyncRateLimitStore<String> {
    private final ReferenceGcra reference;
    private final Queue<Runnable> held = new ArrayDeque<>();
    private final Queue<CompletableFuture<Outcome>> pending = new ArrayDeque<>();

    HeldStore(NanoClock clock) {
      this.reference = new ReferenceGcra(clock);
    }

    @Override
    public synchronized CompletionStage<Outcome> acquireAsync(
        String key, long increment, long tolerance) {
      CompletableFuture<Outcome> step = new CompletableFuture<>();
      pending.add(step);
      held.add(() -> step.complete(reference.acquire(key, increment, tolerance)));
      return step;
    }

    synchronized void releaseOne() {
      pending.remove();
      held.remove().run();
    }

    synchronized void failOne() {
      held.remove();
      pending.remove().completeExceptionally(
          new RateLimitStoreException("held store failed", null));
    }
  }

  private final ManualClock clock = new ManualClock();
  private final RateLimiter.Builder builder =
      RateLimiter.builder().name("async").limit(2, Duration.ofMinutes(1)).clock(clock);

  @Test
  void tryAcquireAsync_inMemory_isCompleteOnReturnAndDecidesLikeTryAcquire() throws Exception {
    RateLimiter<String> async = builder.build();
    RateLimiter<String> sync = builder.build();

    for (int i = 0; i < 4; i++) {
      CompletableFuture<RateLimitDecision> stage = async.tryAcquireAsync("k").toCompletableFuture();
      assertThat(stage).isDone();
      assertThat(stage.get()).isEqualTo(sync.tryAcquire("k"));
    }
    assertThat(async.isLocal()).isTrue();
  }

  @Test
  void tryAcquireAsync_onAnAsynchronousStore_completesWhenTheStoreAnswers() throws Exception {
    HeldStore store = new HeldStore(clock);
    RateLimiter<String> limiter = builder.build(store);
    RateLimiter<String> reference = builder.build(new ReferenceGcra(clock));

    CompletableFuture<RateLimitDecision> first = limiter.tryAcquireAsync("k").toCompletableFuture();
    CompletableFuture<RateLimitDecision> second =
        limiter.tryAcquireAsync("k", 2).toCompletableFuture();
    assertThat(first).isNotDone();
    store.releaseOne();
    store.releaseOne();

    assertThat(first.get(5, SECONDS)).isEqualTo(reference.tryAcquire("k"));
    assertThat(second.get(5, SECONDS)).isEqualTo(reference.tryAcquire("k", 2));
    assertThat(limiter.isLocal()).isFalse();
  }

  @Test
  void tryAcquireAsync_storeFails_completesWithTheStoreExceptionItself() throws Exception {
    HeldStore store = new HeldStore(clock);
    RateLimiter<String> limiter = RateLimitCounter.create("c").wrap(builder.build(store));

    CompletionStage<RateLimitDecision> stage = limiter.tryAcquireAsync("k");
    Throwable[] seen = new Throwable[1];
    CompletableFuture<Throwable> observed =
        stage.handle((d, failure) -> seen[0] = failure).toCompletableFuture();
    store.failOne();
    observed.get(5, SECONDS);

    assertThat(seen[0]).isInstanceOf(RateLimitStoreException.class).hasMessage("held store failed");
    assertThat(limiter.isLocal()).isFalse();
  }

  @Test
  void tryAcquire_onAnAsynchronousStore_waitsForTheStepAndThrowsItsFailure() {
    RateLimiter<String> limiter = builder.build(new AsyncRateLimitStore<String>() {
      @Override
      public CompletionStage<Outcome> acquireAsync(String key, long increment, long tolerance) {
        return CompletableFuture.failedFuture(new RateLimitStoreException("down", null));
      }
    });

    assertThatThrownBy(() -> limiter.tryAcquire("k"))
        .isInstanceOf(RateLimitStoreException.class).hasMessage("down");
  }

  @Test
  void tryAcquireAsync_badArguments_throwAtOnce() {
    RateLimiter<String> limiter = builder.build(new HeldStore(clock));

    assertThatThrownBy(() -> limiter.tryAcquireAsync(null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> limiter.tryAcquireAsync("k", 3))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cost");
  }

  @Test
  void counting_forwardsTheAsynchronousFormAndCountsItsDecisions() throws Exception {
    RateLimitCounter counter = RateLimitCounter.create("c");
    RateLimiter<String> limiter = counter.wrap(builder.build());

    for (int i = 0; i < 3; i++) {
      limiter.tryAcquireAsync("k").toCompletableFuture().get(5, SECONDS);
    }

    assertThat(counter.snapshot().requests()).isEqualTo(3);
    assertThat(counter.snapshot().rejected()).isEqualTo(1);
    assertThat(limiter.isLocal()).isTrue();
  }
}
