package dev.sluice.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RequestQueue;
import dev.sluice.RequestQueue.Permit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

class DefaultRequestQueueTest {

  @Test
  void idleKeys_areSwept_soMemoryStaysWithinTwiceTheLiveKeys() {
    DefaultRequestQueue<Integer> queue = (DefaultRequestQueue<Integer>) RequestQueue.builder()
        .maxConcurrent(10).maxConcurrentPerKey(5).<Integer>build();
    List<Permit> live = new ArrayList<>();
    for (int k = 0; k < 10; k++) {
      live.add(queue.tryAcquireOrThrow(-k - 1, "default"));
    }
    for (int k = 0; k < 100_000; k++) {
      live.remove(0).close();
      live.add(queue.tryAcquireOrThrow(k, "default"));
      assertThat(queue.keyCount()).isLessThanOrEqualTo(2 * 1024);
    }
    assertThat(queue.stats().activeByKey()).hasSize(10);
    live.forEach(Permit::close);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void hotKey_reusesItsEntry() {
    DefaultRequestQueue<String> queue = (DefaultRequestQueue<String>) RequestQueue.builder()
        .maxConcurrent(2).maxConcurrentPerKey(1).<String>build();
    for (int i = 0; i < 1_000; i++) {
      queue.tryAcquireOrThrow("hot", "default").close();
    }
    assertThat(queue.keyCount()).isEqualTo(1);
  }

  @Test
  void withoutPerKeyCap_admissionsKeepNoKeyState() {
    DefaultRequestQueue<Integer> queue = (DefaultRequestQueue<Integer>) RequestQueue.builder()
        .maxConcurrent(4).maxConcurrentPerKey(4).<Integer>build();
    List<Permit> live = new ArrayList<>();
    for (int k = 0; k < 10_000; k++) {
      if (live.size() == 4) {
        live.remove(0).close();
      }
      live.add(queue.tryAcquireOrThrow(k, "default"));
    }
    assertThat(queue.keyCount()).isZero();
    assertThat(queue.stats().active()).isEqualTo(4);
    assertThat(queue.stats().admitted()).isEqualTo(10_000);
    live.forEach(Permit::close);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void withoutPerKeyCap_aKeyIsKeptOnlyWhileItHasWaiters() {
    DefaultRequestQueue<String> queue = (DefaultRequestQueue<String>) RequestQueue.builder()
        .maxConcurrent(1).<String>build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("w", "default");
    assertThat(queue.keyCount()).isEqualTo(1); // "w", for its place in the turn order
    holder.close();
    assertThat(waiter).isCompleted();
    waiter.join().close();
    for (int k = 0; k < 2_000; k++) {
      Permit p = queue.tryAcquireOrThrow("h", "default");
      queue.acquireAsync("k" + k, "default").cancel(false);
      p.close();
    }
    assertThat(queue.keyCount()).isLessThanOrEqualTo(2 * 1024);
    assertThat(queue.stats().active()).isZero();
  }
}
