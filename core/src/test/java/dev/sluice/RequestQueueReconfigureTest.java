package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sluice.QueueRejectedException.Reason;
import dev.sluice.RequestQueue.Permit;
import dev.sluice.RequestQueue.Settings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/** {@link RequestQueue#reconfigure}: caps, the waiter bound and the timeout change live. */
class RequestQueueReconfigureTest {
  private static final Duration MINUTE = Duration.ofMinutes(1);

  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);

  private RequestQueue.Builder builder() {
    return RequestQueue.builder().name("q").clock(clock).scheduler(scheduler).timeout(MINUTE);
  }

  private static Permit granted(CompletableFuture<Permit> f) throws Exception {
    assertThat(f).isDone();
    return f.get(5, SECONDS);
  }

  private static QueueRejectedException rejection(CompletableFuture<Permit> f) {
    assertThat(f).isCompletedExceptionally();
    ExecutionException e = catchThrowableOfType(ExecutionException.class,
        () -> f.get(5, SECONDS));
    assertThat(e.getCause()).isInstanceOf(QueueRejectedException.class);
    return (QueueRejectedException) e.getCause();
  }

  @Test
  void settings_reportTheBuiltValues_andReconfigureReturnsTheOldOnes() {
    RequestQueue<String> queue = builder().maxConcurrent(20).maxConcurrentPerKey(2)
        .maxQueued(200).build();
    assertThat(queue.settings()).isEqualTo(new Settings(20, 2, 200, MINUTE));

    Settings old = queue.reconfigure(new Settings(10, 3, 50, Duration.ofSeconds(5)));

    assertThat(old).isEqualTo(new Settings(20, 2, 200, MINUTE));
    assertThat(queue.settings()).isEqualTo(new Settings(10, 3, 50, Duration.ofSeconds(5)));
    assertThat(queue.maxConcurrent()).isEqualTo(10);
    assertThat(queue.maxConcurrentPerKey()).isEqualTo(3);
    assertThat(queue.maxQueued()).isEqualTo(50);
    assertThat(queue.timeout()).isEqualTo(Duration.ofSeconds(5));
    assertThat(queue.stats().limit()).isEqualTo(10);
  }

  @Test
  void settings_nameTheBadField() {
    assertThatThrownBy(() -> new Settings(0, 1, 0, MINUTE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("maxConcurrent ");
    assertThatThrownBy(() -> new Settings(1, 0, 0, MINUTE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("maxConcurrentPerKey ");
    assertThatThrownBy(() -> new Settings(1, 2, 0, MINUTE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxConcurrentPerKey (2) must not exceed maxConcurrent (1)");
    assertThatThrownBy(() -> new Settings(1, 1, -1, MINUTE))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("maxQueued ");
    assertThatThrownBy(() -> new Settings(1, 1, 0, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("timeout ");
    assertThatThrownBy(() -> new Settings(1, 1, 0, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("timeout ");
  }

  @Test
  void raisingTheGlobalCap_admitsWaitersAtOnce_inPriorityThenFairnessOrder() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).priorities("chat", "export").build();
    Permit running = queue.tryAcquireOrThrow("a", "chat");
    CompletableFuture<Permit> export1 = queue.acquireAsync("b", "export");
    CompletableFuture<Permit> chat1 = queue.acquireAsync("c", "chat");
    CompletableFuture<Permit> chat2 = queue.acquireAsync("c", "chat");
    CompletableFuture<Permit> chat3 = queue.acquireAsync("d", "chat");

    queue.reconfigure(new Settings(3, 3, 1_000, MINUTE));

    // Two permits freed: chat first, keys taking turns (c then d); export and c's second wait.
    Permit c1 = granted(chat1);
    Permit d1 = granted(chat3);
    assertThat(chat2).isNotDone();
    assertThat(export1).isNotDone();
    assertThat(queue.stats().active()).isEqualTo(3);

    c1.close();
    Permit c2 = granted(chat2);
    assertThat(export1).isNotDone();
    running.close();
    Permit b1 = granted(export1);
    for (Permit p : List.of(c2, d1, b1)) {
      p.close();
    }
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void loweringTheGlobalCap_neverPreempts_andAdmitsNothingUntilUnderTheNewCap() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(3).build();
    List<Permit> held = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      held.add(queue.tryAcquireOrThrow("k" + i, "default"));
    }
    CompletableFuture<Permit> waiter = queue.acquireAsync("w", "default");

    queue.reconfigure(new Settings(1, 1, 1_000, MINUTE));

    assertThat(queue.stats().active()).isEqualTo(3); // nothing revoked
    held.remove(0).close();
    assertThat(waiter).isNotDone(); // 2 held, cap 1
    assertThat(queue.tryAcquire("x", "default")).isEmpty();
    held.remove(0).close();
    assertThat(waiter).isNotDone(); // 1 held, cap 1
    held.remove(0).close();
    Permit w = granted(waiter);
    assertThat(queue.stats().active()).isEqualTo(1);
    assertThat(queue.tryAcquire("x", "default")).isEmpty();
    w.close();
    Optional<Permit> again = queue.tryAcquire("x", "default");
    assertThat(again).isPresent();
    again.get().close();
  }

  @Test
  void loweringTheGlobalCap_whileNobodyWaits_refusesTheFastPathAtOnce() {
    RequestQueue<String> queue = builder().maxConcurrent(4).build();
    Permit a = queue.tryAcquireOrThrow("a", "default");
    Permit b = queue.tryAcquireOrThrow("b", "default");

    queue.reconfigure(new Settings(2, 2, 1_000, MINUTE));

    assertThat(queue.tryAcquire("c", "default")).isEmpty();
    a.close();
    Permit c = queue.tryAcquireOrThrow("c", "default");
    assertThat(queue.tryAcquire("d", "default")).isEmpty();
    b.close();
    c.close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void raisingThePerKeyCap_admitsThatKeysWaiters_andLoweringItHoldsThemBack() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(4).maxConcurrentPerKey(1).build();
    Permit a1 = queue.tryAcquireOrThrow("a", "default");
    CompletableFuture<Permit> a2 = queue.acquireAsync("a", "default");
    CompletableFuture<Permit> a3 = queue.acquireAsync("a", "default");
    assertThat(a2).isNotDone();

    queue.reconfigure(new Settings(4, 2, 1_000, MINUTE));
    Permit second = granted(a2);
    assertThat(a3).isNotDone();
    assertThat(queue.stats().activeByKey()).isEqualTo(Map.of("a", 2));

    queue.reconfigure(new Settings(4, 1, 1_000, MINUTE));
    a1.close();
    assertThat(a3).isNotDone(); // a still holds 1 = the new cap
    second.close();
    Permit third = granted(a3);
    third.close();
    assertThat(queue.stats().active()).isZero();
    assertThat(queue.stats().activeByKey()).isEmpty();
  }

  @Test
  void aPerKeyCapSetLive_onAQueueWithoutOne_countsFromTheChange() {
    RequestQueue<String> queue = builder().maxConcurrent(4).build();
    Permit before = queue.tryAcquireOrThrow("a", "default"); // not counted per key

    queue.reconfigure(new Settings(4, 1, 1_000, MINUTE));

    Permit after = queue.tryAcquireOrThrow("a", "default");
    assertThat(queue.tryAcquire("a", "default")).isEmpty(); // a at its new cap of 1
    Permit other = queue.tryAcquireOrThrow("b", "default");
    assertThat(queue.stats().activeByKey()).isEqualTo(Map.of("a", 1, "b", 1));
    assertThat(queue.stats().active()).isEqualTo(3);
    before.close();
    after.close();
    other.close();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
    assertThat(stats.admitted()).isEqualTo(3);
  }

  @Test
  void removingThePerKeyCap_letsOneKeyUseEveryPermit_andOldPermitsStillReleaseTheirKey()
      throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(3).maxConcurrentPerKey(1).build();
    Permit a1 = queue.tryAcquireOrThrow("a", "default");
    CompletableFuture<Permit> a2 = queue.acquireAsync("a", "default");

    queue.reconfigure(new Settings(3, 3, 1_000, MINUTE));

    Permit second = granted(a2);
    Permit third = queue.tryAcquireOrThrow("a", "default");
    assertThat(queue.tryAcquire("a", "default")).isEmpty(); // global cap
    a1.close();
    second.close();
    third.close();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
    // And back: the per-key cap holds again for new permits.
    queue.reconfigure(new Settings(3, 1, 1_000, MINUTE));
    Permit x = queue.tryAcquireOrThrow("a", "default");
    assertThat(queue.tryAcquire("a", "default")).isEmpty();
    x.close();
  }

  @Test
  void loweringMaxQueued_evictsNobody_butRefusesNewWaiters() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).maxQueued(3).build();
    Permit running = queue.tryAcquireOrThrow("a", "default");
    List<CompletableFuture<Permit>> waiting = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      waiting.add(queue.acquireAsync("w" + i, "default"));
    }

    queue.reconfigure(new Settings(1, 1, 1, MINUTE));

    assertThat(queue.stats().queued()).isEqualTo(3);
    assertThat(rejection(queue.acquireAsync("late", "default")).reason())
        .isEqualTo(Reason.QUEUE_FULL);
    running.close();
    Permit p = granted(waiting.get(0)); // the oldest, as before the change
    p.close();
    Permit second = granted(waiting.get(1));
    // One waiter left, bound 1: still full; after it goes, one may wait again.
    assertThat(queue.stats().queued()).isEqualTo(1);
    assertThat(rejection(queue.acquireAsync("late", "default")).reason())
        .isEqualTo(Reason.QUEUE_FULL);
    second.close();
    Permit last = granted(waiting.get(2));
    CompletableFuture<Permit> next = queue.acquireAsync("next", "default");
    assertThat(next).isNotDone();
    last.close();
    granted(next).close();
  }

  @Test
  void aNewTimeout_appliesToWaitersQueuedAfterTheChange() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).timeout(Duration.ofSeconds(10))
        .build();
    Permit running = queue.tryAcquireOrThrow("a", "default");
    CompletableFuture<Permit> early = queue.acquireAsync("e", "default");

    queue.reconfigure(new Settings(1, 1, 1_000, Duration.ofSeconds(1)));
    CompletableFuture<Permit> late = queue.acquireAsync("l", "default");

    scheduler.advance(Duration.ofSeconds(1));
    assertThat(rejection(late).reason()).isEqualTo(Reason.TIMED_OUT);
    assertThat(early).isNotDone();
    scheduler.advance(Duration.ofSeconds(9));
    assertThat(rejection(early).reason()).isEqualTo(Reason.TIMED_OUT);
    running.close();
  }

  @Test
  void adaptiveQueue_refusesToChangeItsCap_butChangesTheRest() {
    RequestQueue<String> queue = builder()
        .adaptiveLimit(AdaptiveLimit.gradient().min(2).initial(5).max(50).build()).build();
    Settings s = queue.settings();
    assertThat(s.maxConcurrent()).isEqualTo(50);

    assertThatThrownBy(() -> queue.reconfigure(new Settings(10, 10, 100, MINUTE)))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("maxConcurrent")
        .hasMessageContaining("adaptive");
    assertThat(queue.settings()).isEqualTo(s);

    queue.reconfigure(new Settings(50, 3, 7, Duration.ofSeconds(2)));
    assertThat(queue.settings()).isEqualTo(new Settings(50, 3, 7, Duration.ofSeconds(2)));
    Permit a1 = queue.tryAcquireOrThrow("a", "default");
    Permit a2 = queue.tryAcquireOrThrow("a", "default");
    Permit a3 = queue.tryAcquireOrThrow("a", "default");
    assertThat(queue.tryAcquire("a", "default")).isEmpty(); // per-key cap 3
    a1.close();
    a2.close();
    a3.close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void reconfigure_isRecordedInStats_withoutMiscountingAdmissions() {
    RequestQueue<String> queue = builder().maxConcurrent(2).build();
    Permit a = queue.tryAcquireOrThrow("a", "default");
    queue.reconfigure(new Settings(3, 3, 10, MINUTE));
    queue.reconfigure(new Settings(2, 2, 10, MINUTE));
    Permit b = queue.tryAcquireOrThrow("b", "default");
    a.close();
    b.close();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(2);
    assertThat(stats.completed()).isEqualTo(2);
    assertThat(stats.active()).isZero();
  }
}
