package dev.sluice.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.QueueRejectedException;
import dev.sluice.RequestQueue;
import dev.sluice.RequestQueue.Permit;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * The fast path's races, replayed step by step: the states a concurrent fast attempt or release
 * leaves between its two atomic steps are set up by hand, so each race is tested every run.
 */
class DefaultRequestQueueFastPathTest {

  /** The state behind a permit, as a fast attempt holds it. */
  @SuppressWarnings("unchecked")
  private static <K> DefaultRequestQueue.KeyState<K> keyStateOf(Permit permit) {
    return ((DefaultRequestQueue.KeyedPermit<K>) permit).ks;
  }

  @Test
  void keyReservationGivenBack_afterItsKeysWaiterQueued_refilesTheKeySoTheWaiterIsGranted() {
    // A fast attempt raised "a" to its cap of 1, then lost the last global permit to "c". A
    // waiter of "a" arriving in between sees "a" full and queues outside the turn order. When
    // the attempt gives "a" back under the lock, "a" must rejoin the turn order, so the next
    // release grants the waiter.
    DefaultRequestQueue<String> queue = (DefaultRequestQueue<String>) RequestQueue.builder()
        .maxConcurrent(2).maxConcurrentPerKey(1).<String>build();
    Permit b = queue.tryAcquireOrThrow("b", "default");
    Permit a = queue.tryAcquireOrThrow("a", "default");
    DefaultRequestQueue.KeyState<String> ks = keyStateOf(a);
    a.close();
    DefaultRequestQueue.KeyState.ACTIVE.getAndAdd(ks, 1); // the fast attempt's reservation
    Permit c = queue.tryAcquireOrThrow("c", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
    assertThat(waiter).isNotDone();

    Object outcome = queue.admitOrEnqueue("a", 0, false, ks); // the attempt, under the lock
    assertThat(outcome).isInstanceOf(QueueRejectedException.class);
    assertThat(waiter).isNotDone();
    c.close();
    assertThat(waiter).isCompleted();
    waiter.join().close();
    b.close();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.admitted()).isEqualTo(4);
    assertThat(stats.rejected()).isEqualTo(1);
  }

  @Test
  void keyReservation_whenAPermitIsFreeUnderTheLock_isAdmittedWithIt() {
    DefaultRequestQueue<String> queue = (DefaultRequestQueue<String>) RequestQueue.builder()
        .maxConcurrent(2).maxConcurrentPerKey(1).<String>build();
    Permit a = queue.tryAcquireOrThrow("a", "default");
    DefaultRequestQueue.KeyState<String> ks = keyStateOf(a);
    a.close();
    DefaultRequestQueue.KeyState.ACTIVE.getAndAdd(ks, 1); // the fast attempt's reservation
    assertThat(queue.admitOrEnqueue("a", 0, false, ks)).isSameAs(ks);
    assertThat(queue.stats().activeByKey()).containsEntry("a", 1);
    assertThat(queue.stats().active()).isEqualTo(1);
    assertThat(queue.tryAcquire("a", "default")).isEmpty(); // "a" is at its cap
  }

  @Test
  void sweptKeyState_cannotBeRaisedAgain_soAStaleFastAttemptFallsBackToTheLiveState() {
    // A fast attempt may have looked up a key state just before a sweep dropped it. The sweep
    // marks it dead, so that attempt's CAS fails and it retries under the lock on the live state
    // (two states for one key would each admit up to the per-key cap).
    DefaultRequestQueue<Integer> queue = (DefaultRequestQueue<Integer>) RequestQueue.builder()
        .maxConcurrent(10).maxConcurrentPerKey(1).<Integer>build();
    Permit hot = queue.tryAcquireOrThrow(-1, "default");
    DefaultRequestQueue.KeyState<Integer> stale = keyStateOf(hot);
    hot.close();
    for (int k = 0; k < 3_000; k++) {
      queue.tryAcquireOrThrow(k, "default").close();
    }
    assertThat(queue.keyCount()).isLessThan(3_000);
    assertThat(stale.active).isEqualTo(DefaultRequestQueue.DEAD);
    Permit live = queue.tryAcquireOrThrow(-1, "default");
    assertThat(keyStateOf(live)).isNotSameAs(stale);
    assertThat(queue.tryAcquire(-1, "default")).isEmpty();
    live.close();
  }

  @Test
  void fastRelease_keyCountLoweredAfterAWaiterOfTheKeyQueued_grantsTheWaiter() {
    // A fast release gives the global permit back, then the key's. A waiter of the same key
    // arriving between the two sees the key at its cap and queues outside the turn order; the
    // release's second step must notice the waiter and grant it.
    DefaultRequestQueue<String> queue = (DefaultRequestQueue<String>) RequestQueue.builder()
        .maxConcurrent(2).maxConcurrentPerKey(1).<String>build();
    Permit a = queue.tryAcquireOrThrow("a", "default");
    DefaultRequestQueue.KeyState<String> ks = keyStateOf(a);
    assertThat(((DefaultRequestQueue.QueuePermit<?>) a).markReleased()).isTrue(); // close()'s first
    assertThat(queue.releaseGlobalFast()).isTrue();
    CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
    assertThat(waiter).isNotDone();
    queue.releaseKeyAfterFastRelease(ks);
    assertThat(waiter).isCompleted();
    a.close(); // already released: harmless
    waiter.join().close();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.admitted()).isEqualTo(2);
    assertThat(queue.tryAcquire("a", "default")).isPresent();
  }
}
