package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class QueueStageTest {
  private final ManualClock clock = new ManualClock();
  private final RequestQueue<String> queue = RequestQueue.builder().name("app")
      .maxConcurrent(1).maxQueued(5).priorities("chat", "export")
      .clock(clock).scheduler(new ManualScheduler(clock)).build();

  @Test
  void call_holdsOnePermitWhileTheCallRuns_andReleasesItWhenTheCallThrows() throws Exception {
    Protection p = Protection.builder().stage(Stage.queue(queue, "chat")).build();
    int active = p.call(CallContext.of("alice"), () -> queue.stats().active());
    assertThat(active).isEqualTo(1);
    assertThat(queue.stats().active()).isZero();
    assertThatThrownBy(() -> p.call(CallContext.of("alice"), () -> {
      throw new IllegalStateException("boom");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(queue.stats().active()).isZero();
    assertThat(queue.stats().admitted()).isEqualTo(2);
  }

  @Test
  void callAsync_waitsWithoutAThread_runsWhenAPermitFrees_releasesWhenTheCallCompletes()
      throws Exception {
    Protection p = Protection.builder().stage(Stage.queue(queue, "export")).build();
    RequestQueue.Permit held = queue.tryAcquire("bob", "chat").orElseThrow();
    CompletableFuture<String> inner = new CompletableFuture<>();
    CompletableFuture<String> result = p.callAsync(CallContext.of("alice"), () -> inner);
    assertThat(queue.stats().queued()).isEqualTo(1);
    held.close();
    assertThat(queue.stats().active()).isEqualTo(1);
    assertThat(result).isNotDone();
    inner.complete("answer");
    assertThat(result.get(5, TimeUnit.SECONDS)).isEqualTo("answer");
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void callAsync_cancelledWhileWaiting_leavesTheQueue() {
    Protection p = Protection.builder().stage(Stage.queue(queue, "chat")).build();
    RequestQueue.Permit held = queue.tryAcquire("bob", "chat").orElseThrow();
    CompletableFuture<String> result =
        p.callAsync(CallContext.of("alice"), () -> CompletableFuture.completedFuture("x"));
    result.cancel(false);
    assertThat(queue.stats().queued()).isZero();
    held.close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void queueStage_unknownPriority_failsNamingIt() {
    assertThatThrownBy(() -> Stage.queue(queue, "gold"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'gold'")
        .hasMessageContaining("[chat, export]");
  }

  @Test
  void requestQueueContributor_reportsFiguresAndRecommendsWhenNearlyFull() {
    HealthContributor health = HealthContributors.requestQueue(queue);
    assertThat(queue.maxConcurrent()).isEqualTo(1);
    assertThat(queue.maxQueued()).isEqualTo(5);
    assertThat(queue.timeout()).isEqualTo(Duration.ofSeconds(60));
    RequestQueue.Permit held = queue.tryAcquire("bob", "chat").orElseThrow();
    for (int i = 0; i < 4; i++) {
      queue.acquireAsync("u" + i, "chat");
    }
    ComponentHealth c = health.check();
    assertThat(c.name()).isEqualTo("queue:app");
    assertThat(c.figures()).containsEntry("queued", 4L).containsEntry("maxQueued", 5L)
        .containsEntry("active", 1L).containsEntry("maxConcurrent", 1L);
    assertThat(c.recommendations()).singleElement().asString()
        .contains("queue depth 4 of 5");
    queue.drain();
    held.close();
  }
}
