package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.sluice.QueueRejectedException.Reason;
import dev.sluice.RequestQueue.Permit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RequestQueueTest {
  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final ExecutorService threads = Executors.newCachedThreadPool();

  @AfterEach
  void stopThreads() throws InterruptedException {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(5, SECONDS)).isTrue();
  }

  private RequestQueue.Builder builder() {
    return RequestQueue.builder().name("test").clock(clock).scheduler(scheduler);
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

  /** Waits (bounded) for a state another thread is about to reach; time itself never moves. */
  private static void awaitQueued(RequestQueue<?> queue, int queued) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (queue.stats().queued() != queued) {
      assertThat(System.nanoTime() - deadline).as("waiting for %d queued", queued).isNegative();
      Thread.onSpinWait();
    }
  }

  // ------------------------------------------------------------------ builder

  @Test
  void builder_rejectsBadArguments_namingThem() {
    RequestQueue.Builder b = RequestQueue.builder();
    assertThatThrownBy(() -> b.maxConcurrent(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxConcurrent");
    assertThatThrownBy(() -> b.maxConcurrentPerKey(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxConcurrentPerKey");
    assertThatThrownBy(() -> b.maxQueued(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxQueued");
    assertThatThrownBy(() -> b.maxQueuedPerKey(-1)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxQueuedPerKey");
    assertThatThrownBy(() -> b.timeout(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("timeout");
    assertThatThrownBy(() -> b.retryAfter(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("retryAfter");
    assertThatThrownBy(() -> b.priorities()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("priorities");
    assertThatThrownBy(() -> b.priorities("a", "a")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'a'");
    assertThatThrownBy(() -> b.name(" ")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("name");
  }

  @Test
  void build_checksTheCombination() {
    assertThatThrownBy(() -> RequestQueue.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("maxConcurrent");
    assertThatThrownBy(() -> RequestQueue.builder().maxConcurrent(2).maxConcurrentPerKey(3).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxConcurrentPerKey");
    assertThatThrownBy(() -> RequestQueue.builder().maxConcurrent(2).maxQueued(1)
        .maxQueuedPerKey(2).build())
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxQueuedPerKey");
  }

  @Test
  void acquire_unknownPriority_throwsNamingIt() {
    RequestQueue<String> queue = builder().maxConcurrent(1).priorities("chat", "export").build();
    assertThatThrownBy(() -> queue.tryAcquire("u", "research"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'research'");
    assertThatThrownBy(() -> queue.acquireAsync("u", "default"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'default'");
    assertThat(queue.priorities()).containsExactly("chat", "export");
  }

  // ------------------------------------------------------------------ basic permits

  @Test
  void tryAcquire_underCaps_admitsUntilTheGlobalCap() {
    RequestQueue<String> queue = builder().maxConcurrent(2).build();
    Optional<Permit> a = queue.tryAcquire("a", "default");
    Optional<Permit> b = queue.tryAcquire("b", "default");
    Optional<Permit> c = queue.tryAcquire("c", "default");
    assertThat(a).isPresent();
    assertThat(b).isPresent();
    assertThat(c).isEmpty();
    assertThatThrownBy(() -> queue.tryAcquireOrThrow("c", "default"))
        .isInstanceOfSatisfying(QueueRejectedException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.QUEUE_FULL));
    a.get().close();
    assertThat(queue.tryAcquire("c", "default")).isPresent();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(3);
    assertThat(stats.rejected(Reason.QUEUE_FULL)).isEqualTo(2);
  }

  @Test
  void permit_closedTwice_releasesOnlyOnce() {
    RequestQueue<String> queue = builder().maxConcurrent(2).build();
    Permit a = queue.tryAcquireOrThrow("a", "default");
    Permit b = queue.tryAcquireOrThrow("b", "default");
    a.close();
    a.close();
    assertThat(queue.stats().active()).isEqualTo(1);
    assertThat(queue.tryAcquire("c", "default")).isPresent();
    assertThat(queue.tryAcquire("d", "default")).isEmpty();
    b.close();
  }

  @Test
  void tryAcquire_whenKeyAtCap_refusesThatKeyOnly() {
    RequestQueue<String> queue = builder().maxConcurrent(5).maxConcurrentPerKey(2).build();
    queue.tryAcquireOrThrow("u", "default");
    queue.tryAcquireOrThrow("u", "default");
    assertThat(queue.tryAcquire("u", "default")).isEmpty();
    assertThat(queue.tryAcquire("v", "default")).isPresent();
    assertThat(queue.stats().activeByKey()).containsEntry("u", 2).containsEntry("v", 1);
  }

  @Test
  void call_whenTaskThrows_releasesThePermit() {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    assertThatThrownBy(() -> queue.call("u", "default", () -> {
      throw new IllegalStateException("boom");
    })).isInstanceOf(IllegalStateException.class).hasMessage("boom");
    assertThat(queue.stats().active()).isZero();
    assertThat(queue.tryAcquire("u", "default")).isPresent();
  }

  @Test
  void call_returnsTheTaskResult() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    assertThat(queue.call("u", "default", () -> 42)).isEqualTo(42);
    assertThat(queue.stats().active()).isZero();
  }

  // ------------------------------------------------------------------ admission order

  @Test
  void release_admitsHighestPriorityFirst_thenOldest() throws Exception {
    RequestQueue<String> queue =
        builder().maxConcurrent(1).priorities("chat", "research", "export").build();
    Permit holder = queue.tryAcquireOrThrow("h", "chat");
    CompletableFuture<Permit> export = queue.acquireAsync("e", "export");
    CompletableFuture<Permit> research1 = queue.acquireAsync("r1", "research");
    CompletableFuture<Permit> research2 = queue.acquireAsync("r2", "research");
    CompletableFuture<Permit> chat = queue.acquireAsync("c", "chat");
    assertThat(queue.stats().queuedByPriority())
        .containsExactly(Map.entry("chat", 1), Map.entry("research", 2), Map.entry("export", 1));

    holder.close();
    assertThat(chat).isDone();
    assertThat(research1).isNotDone();
    granted(chat).close();
    assertThat(research1).isDone();
    assertThat(research2).isNotDone();
    granted(research1).close();
    assertThat(research2).isDone();
    assertThat(export).isNotDone();
    granted(research2).close();
    granted(export).close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void acquire_whenKeyAtCap_admitsOtherKeyFirst() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(2).maxConcurrentPerKey(1)
        .priorities("chat", "export").build();
    Permit capped = queue.tryAcquireOrThrow("busy", "chat");
    Permit other = queue.tryAcquireOrThrow("x", "chat");
    // Older and higher priority, but its key is at its cap.
    CompletableFuture<Permit> busyWaiter = queue.acquireAsync("busy", "chat");
    CompletableFuture<Permit> freeWaiter = queue.acquireAsync("free", "export");

    other.close();
    assertThat(freeWaiter).isDone();
    assertThat(busyWaiter).isNotDone();
    assertThat(queue.stats().activeByKey()).containsEntry("busy", 1).containsEntry("free", 1);

    granted(freeWaiter).close();
    assertThat(busyWaiter).isNotDone(); // the global slot is free, but "busy" is still capped
    assertThat(queue.stats().active()).isEqualTo(1);
    capped.close();
    granted(busyWaiter).close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void release_keyWith100Waiters_doesNotStarveAnotherKeysSingleWaiter() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(2).build();
    Permit h1 = queue.tryAcquireOrThrow("h", "default");
    Permit h2 = queue.tryAcquireOrThrow("h", "default");
    List<CompletableFuture<Permit>> hog = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      hog.add(queue.acquireAsync("hog", "default"));
    }
    CompletableFuture<Permit> single = queue.acquireAsync("single", "default");

    h1.close();
    assertThat(hog.get(0)).isDone(); // the hog's turn came first: it queued first
    assertThat(single).isNotDone();
    h2.close();
    assertThat(single).as("keys take turns within a priority").isDone();
    assertThat(hog.get(1)).isNotDone();

    // The hog's own waiters then go oldest first.
    granted(single).close();
    assertThat(hog.get(1)).isDone();
    for (int i = 0; i < 100; i++) {
      granted(hog.get(i)).close();
      if (i + 2 < 100) {
        assertThat(hog.get(i + 2)).isDone();
        assertThat(hog.subList(i + 3, 100)).allMatch(f -> !f.isDone());
      }
    }
    assertThat(queue.stats().active()).isZero();
    assertThat(queue.stats().queued()).isZero();
  }

  @Test
  void release_roundRobinAcrossThreeKeys_alternatesTurns() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    List<String> order = new ArrayList<>();
    List<CompletableFuture<Permit>> all = new ArrayList<>();
    for (String key : List.of("a", "a", "a", "b", "b", "c")) {
      CompletableFuture<Permit> f = queue.acquireAsync(key, "default");
      f.thenAccept(p -> order.add(key));
      all.add(f);
    }
    holder.close();
    for (int i = 0; i < all.size(); i++) {
      for (CompletableFuture<Permit> f : all) {
        if (f.isDone() && !f.isCompletedExceptionally()) {
          Permit p = f.get(5, SECONDS);
          p.close(); // idempotent: closing earlier ones again is harmless
        }
      }
    }
    assertThat(order).containsExactly("a", "b", "c", "a", "b", "a");
  }

  // ------------------------------------------------------------------ bounds and timeouts

  @Test
  void acquireAsync_whenQueueFull_rejectsAtOnceWithFigures() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).maxQueued(2).maxQueuedPerKey(1)
        .retryAfter(Duration.ofSeconds(3)).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> a = queue.acquireAsync("a", "default");
    QueueRejectedException perKey = rejection(queue.acquireAsync("a", "default"));
    assertThat(perKey.reason()).isEqualTo(Reason.QUEUE_FULL);
    assertThat(perKey.queued()).isEqualTo(1);
    CompletableFuture<Permit> b = queue.acquireAsync("b", "default");
    QueueRejectedException global = rejection(queue.acquireAsync("c", "default"));
    assertThat(global.reason()).isEqualTo(Reason.QUEUE_FULL);
    assertThat(global.queued()).isEqualTo(2);
    assertThat(global.waited()).isZero();
    assertThat(global.retryAfter()).isEqualTo(Duration.ofSeconds(3));
    assertThat(global.retryAfterSeconds()).isEqualTo(3);
    assertThat(global.getMessage()).contains("test", "queue full", "queued 2");
    assertThat(global.getStackTrace()).isEmpty();
    assertThatThrownBy(() -> queue.acquire("c", "default"))
        .isInstanceOfSatisfying(QueueRejectedException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.QUEUE_FULL));
    holder.close();
    granted(a).close();
    granted(b).close();
  }

  @Test
  void acquireAsync_notGrantedByDeadline_timesOutWithFigures() {
    RequestQueue<String> queue = builder().maxConcurrent(1).timeout(Duration.ofSeconds(60)).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
    CompletableFuture<Permit> shorter = queue.acquireAsync("b", "default", Duration.ofSeconds(10));

    scheduler.advance(Duration.ofSeconds(10));
    QueueRejectedException e = rejection(shorter);
    assertThat(e.reason()).isEqualTo(Reason.TIMED_OUT);
    assertThat(e.waited()).isEqualTo(Duration.ofSeconds(10));
    assertThat(e.queued()).isEqualTo(2);
    assertThat(waiter).isNotDone();
    assertThat(queue.stats().longestWait()).isEqualTo(Duration.ofSeconds(10));

    scheduler.advance(Duration.ofSeconds(50));
    assertThat(rejection(waiter).waited()).isEqualTo(Duration.ofSeconds(60));
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.timedOut()).isEqualTo(2);
    assertThat(stats.queued()).isZero();
    assertThat(stats.longestWait()).isZero();
    holder.close();
  }

  @Test
  void acquireAsync_grantedBeforeDeadline_cancelsItsTimeout() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
    assertThat(scheduler.pending()).isEqualTo(1);
    holder.close();
    assertThat(scheduler.pending()).isZero();
    scheduler.advance(Duration.ofMinutes(5));
    Permit p = granted(waiter);
    assertThat(queue.stats().active()).isEqualTo(1);
    p.close();
  }

  @Test
  void acquire_blocking_isTimedOutByTheFakeClock() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    Future<Permit> blocked = threads.submit(() -> queue.acquire("a", "default",
        Duration.ofSeconds(30)));
    awaitQueued(queue, 1);
    scheduler.advance(Duration.ofSeconds(30));
    ExecutionException e = catchThrowableOfType(ExecutionException.class,
        () -> blocked.get(5, SECONDS));
    assertThat(e.getCause()).isInstanceOfSatisfying(QueueRejectedException.class,
        r -> assertThat(r.reason()).isEqualTo(Reason.TIMED_OUT));
    holder.close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void acquire_blocking_isGrantedWhenAPermitFrees() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    Future<Permit> blocked = threads.submit(() -> queue.acquire("a", "default"));
    awaitQueued(queue, 1);
    holder.close();
    Permit p = blocked.get(5, SECONDS);
    assertThat(queue.stats().active()).isEqualTo(1);
    assertThat(queue.stats().admitted()).isEqualTo(2);
    p.close();
  }

  // ------------------------------------------------------------------ no leak

  @Test
  void timedOutWaiter_neverSwallowsALaterRelease_failsafe393() throws Exception {
    // failsafe-lib/failsafe#393: a waiter that timed out stayed in the queue, the next release
    // was handed to it, and nobody ever released that permit: capacity shrank for good.
    RequestQueue<String> queue = builder().maxConcurrent(8).build();
    List<Permit> holders = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      holders.add(queue.tryAcquireOrThrow("h" + i, "default"));
    }
    List<CompletableFuture<Permit>> waiters = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      waiters.add(queue.acquireAsync("w" + i, "default", Duration.ofMillis(100)));
    }
    scheduler.advance(Duration.ofMillis(100));
    for (CompletableFuture<Permit> w : waiters) {
      assertThat(rejection(w).reason()).isEqualTo(Reason.TIMED_OUT);
    }
    for (Permit h : holders) {
      h.close();
    }

    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.queued()).isZero();
    for (int i = 0; i < 8; i++) {
      assertThat(queue.tryAcquire("after" + i, "default")).as("permit %d", i).isPresent();
    }
    assertThat(queue.stats().active()).isEqualTo(8);
  }

  @Test
  void release_whenGrantedWaitersFutureWasAlreadyCompleted_passesPermitToNextWaiter()
      throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> dead = queue.acquireAsync("a", "default");
    CompletableFuture<Permit> next = queue.acquireAsync("b", "default");
    // completeAsync completes the future without the queue hearing of it, so the waiter is still
    // queued when the permit is handed over: the instant-of-cancel race, made deterministic.
    dead.completeAsync(() -> null, Runnable::run);
    assertThat(queue.stats().queued()).isEqualTo(2);

    holder.close();
    assertThat(next).as("the permit the dead waiter could not take goes on").isDone();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isEqualTo(1);
    assertThat(stats.queued()).isZero();
    assertThat(stats.cancelled()).isEqualTo(1);
    assertThat(stats.admitted()).isEqualTo(2);
    granted(next).close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void cancel_whileWaiting_withdrawsTheAttempt() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> cancelled = queue.acquireAsync("a", "default");
    CompletableFuture<Permit> timedOutByCaller = queue.acquireAsync("b", "default");
    CompletableFuture<Permit> next = queue.acquireAsync("c", "default");
    assertThat(cancelled.cancel(false)).isTrue();
    timedOutByCaller.completeExceptionally(new java.util.concurrent.TimeoutException());
    assertThat(cancelled).isCancelled();
    assertThat(queue.stats().queued()).isEqualTo(1);
    assertThat(queue.stats().cancelled()).isEqualTo(2);
    assertThat(scheduler.pending()).isEqualTo(1);

    holder.close();
    granted(next).close();
    assertThatThrownBy(() -> cancelled.get(5, SECONDS)).isInstanceOf(CancellationException.class);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void cancel_afterGrant_returnsFalseAndThePermitIsTheCallers() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
    holder.close();
    assertThat(waiter.cancel(false)).isFalse();
    assertThat(queue.stats().active()).isEqualTo(1);
    granted(waiter).close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void obtrude_isRefused() {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
    assertThatThrownBy(() -> waiter.obtrudeValue(null))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> waiter.obtrudeException(new RuntimeException()))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void acquire_interruptedWhileWaiting_throwsAndLeavesNoPermitOrWaiter() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit holder = queue.tryAcquireOrThrow("h", "default");
    Thread[] waiting = new Thread[1];
    Future<Object> blocked = threads.submit(() -> {
      waiting[0] = Thread.currentThread();
      try {
        return queue.acquire("a", "default");
      } catch (InterruptedException e) {
        return e;
      }
    });
    awaitQueued(queue, 1);
    waiting[0].interrupt();
    assertThat(blocked.get(5, SECONDS)).isInstanceOf(InterruptedException.class);
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.queued()).isZero();
    assertThat(stats.cancelled()).isEqualTo(1);
    holder.close();
    assertThat(queue.stats().active()).isZero();
    assertThat(queue.tryAcquire("x", "default")).isPresent();
  }

  // ------------------------------------------------------------------ runtime control

  @Test
  void drain_failsEveryWaiter_andKeepsRunningPermits() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).priorities("chat", "export").build();
    Permit running = queue.tryAcquireOrThrow("h", "chat");
    CompletableFuture<Permit> a = queue.acquireAsync("a", "chat");
    CompletableFuture<Permit> b = queue.acquireAsync("b", "export");
    scheduler.advance(Duration.ofSeconds(2));

    assertThat(queue.drain()).isEqualTo(2);
    QueueRejectedException e = rejection(a);
    assertThat(e.reason()).isEqualTo(Reason.DRAINED);
    assertThat(e.queued()).isEqualTo(2);
    assertThat(e.waited()).isEqualTo(Duration.ofSeconds(2));
    assertThat(rejection(b).reason()).isEqualTo(Reason.DRAINED);
    assertThat(scheduler.pending()).isZero();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isEqualTo(1);
    assertThat(stats.queued()).isZero();
    assertThat(stats.rejected(Reason.DRAINED)).isEqualTo(2);

    // Still open: a new waiter gets the running permit when it is released.
    CompletableFuture<Permit> c = queue.acquireAsync("c", "export");
    running.close();
    granted(c).close();
    assertThat(queue.drain()).isZero();
  }

  @Test
  void close_failsWaitersAndLaterAttemptsWithShutDown() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(1).build();
    Permit running = queue.tryAcquireOrThrow("h", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("a", "default");
    queue.close();
    queue.close();
    assertThat(queue.isClosed()).isTrue();
    assertThat(rejection(waiter).reason()).isEqualTo(Reason.SHUT_DOWN);
    assertThat(rejection(queue.acquireAsync("b", "default")).reason()).isEqualTo(Reason.SHUT_DOWN);
    assertThat(queue.tryAcquire("b", "default")).isEmpty();
    assertThatThrownBy(() -> queue.acquire("b", "default"))
        .isInstanceOfSatisfying(QueueRejectedException.class,
            e -> assertThat(e.reason()).isEqualTo(Reason.SHUT_DOWN));
    running.close();
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.rejected(Reason.SHUT_DOWN)).isEqualTo(4);
    assertThat(stats.closed()).isTrue();
  }

  @Test
  void bypass_admitsEveryoneIgnoringCaps_andCapsReturnWhenOff() throws Exception {
    RequestQueue<String> queue = builder().maxConcurrent(2).maxConcurrentPerKey(1).build();
    Permit first = queue.tryAcquireOrThrow("u", "default");
    CompletableFuture<Permit> waiter = queue.acquireAsync("u", "default");

    queue.bypass(true);
    assertThat(queue.isBypassed()).isTrue();
    Permit w = granted(waiter);
    List<Permit> extra = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      extra.add(queue.tryAcquireOrThrow("u", "default"));
    }
    assertThat(queue.stats().active()).isEqualTo(7);
    assertThat(queue.stats().bypassed()).isTrue();

    queue.bypass(false);
    CompletableFuture<Permit> later = queue.acquireAsync("v", "default");
    for (Permit p : extra) {
      p.close();
    }
    w.close();
    assertThat(later).as("still 1 active, below the global cap of 2").isDone();
    assertThat(queue.tryAcquire("u", "default")).as("back at the global cap of 2").isEmpty();
    first.close();
    granted(later).close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void stats_reportsFiguresPerKeyAndPriority() {
    RequestQueue<String> queue = builder().maxConcurrent(3).maxConcurrentPerKey(2)
        .priorities("chat", "research", "export").build();
    queue.tryAcquireOrThrow("u", "chat");
    queue.tryAcquireOrThrow("u", "export");
    queue.tryAcquireOrThrow("x", "chat");
    queue.acquireAsync("v", "research");
    clock.advance(Duration.ofSeconds(3));
    queue.acquireAsync("w", "research");
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isEqualTo(3);
    assertThat(stats.activeByKey()).containsOnly(Map.entry("u", 2), Map.entry("x", 1));
    assertThat(stats.queued()).isEqualTo(2);
    assertThat(stats.queuedByPriority()).containsExactly(
        Map.entry("chat", 0), Map.entry("research", 2), Map.entry("export", 0));
    assertThat(stats.longestWait()).isEqualTo(Duration.ofSeconds(3));
    assertThat(stats.admitted()).isEqualTo(3);
    assertThat(stats.rejectedByReason()).containsOnlyKeys(Reason.values());
    assertThat(stats.completed()).isEqualTo(3);
    assertThatThrownBy(() -> stats.activeByKey().put("x", 1))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void stats_withoutPerKeyCap_keepsNoPerKeyCounts_butEveryOtherFigure() throws Exception {
    // A per-key cap equal to the global cap can never refuse anything the global cap would not,
    // so such a queue does not count per key (and pays nothing for it).
    RequestQueue<String> queue = builder().maxConcurrent(2).maxConcurrentPerKey(2)
        .priorities("chat", "research", "export").build();
    Permit u1 = queue.tryAcquireOrThrow("u", "chat");
    queue.tryAcquireOrThrow("u", "export");
    CompletableFuture<Permit> v = queue.acquireAsync("v", "research");
    clock.advance(Duration.ofSeconds(3));
    queue.acquireAsync("w", "research");
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isEqualTo(2);
    assertThat(stats.activeByKey()).isEmpty();
    assertThat(stats.queued()).isEqualTo(2);
    assertThat(stats.queuedByPriority()).containsExactly(
        Map.entry("chat", 0), Map.entry("research", 2), Map.entry("export", 0));
    assertThat(stats.longestWait()).isEqualTo(Duration.ofSeconds(3));
    assertThat(stats.admitted()).isEqualTo(2);
    u1.close();
    u1.close(); // harmless
    assertThat(granted(v).priority()).isEqualTo("research");
    assertThat(queue.stats().active()).isEqualTo(2);
    assertThat(queue.stats().queued()).isEqualTo(1);
    assertThat(queue.stats().admitted()).isEqualTo(3);
  }
}
