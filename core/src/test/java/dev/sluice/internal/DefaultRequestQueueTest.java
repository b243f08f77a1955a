package dev.sluice.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RequestQueue;
import dev.sluice.RequestQueue.Permit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DefaultRequestQueueTest {

  @Test
  void idleKeys_areSwept_soMemoryStaysWithinTwiceTheLiveKeys() {
    DefaultRequestQueue<Integer> queue =
        (DefaultRequestQueue<Integer>) RequestQueue.builder().maxConcurrent(10).<Integer>build();
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
    DefaultRequestQueue<String> queue =
        (DefaultRequestQueue<String>) RequestQueue.builder().maxConcurrent(1).<String>build();
    for (int i = 0; i < 1_000; i++) {
      queue.tryAcquireOrThrow("hot", "default").close();
    }
    assertThat(queue.keyCount()).isEqualTo(1);
  }
}
