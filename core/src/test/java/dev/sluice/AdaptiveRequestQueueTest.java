package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.QueueRejectedException.Reason;
import dev.sluice.RequestQueue.Permit;
import dev.sluice.internal.DefaultRequestQueue;
import dev.sluice.internal.LimitAlgorithm;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The queue's mechanics under an adaptive limit, driven by a scripted algorithm. */
class AdaptiveRequestQueueTest {
  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);

  /** Returns the limit the test sets, and records every sample it is given. */
  private static final class ScriptedLimit implements LimitAlgorithm {
    int next;
    final List<long[]> samples = new ArrayList<>();

    ScriptedLimit(int initial) {
      this.next = initial;
    }

    @Override
    public int initialLimit() {
      return next;
    }

    @Override
    public int onSample(long startNanos, long rttNanos, int inflight, long nowNanos) {
      samples.add(new long[] {rttNanos, inflight});
      return next;
    }
  }

  /** Moves the limit over 1..6 with every sample; called under the queue's lock. */
  private static final class WanderingLimit implements LimitAlgorithm {
    long samples;

    @Override
    public int initialLimit() {
      return 3;
    }

    @Override
    public int onSample(long startNanos, long rttNanos, int inflight, long nowNanos) {
      samples++;
      return (int) (1 + (samples * 7) % 6);
    }
  }

  private DefaultRequestQueue<String> queue(ScriptedLimit limit, int ceiling, int perKey,
      double[] shares, AdaptiveLimit.Listener listener) {
    return new DefaultRequestQueue<>("adaptive", ceiling, perKey, 100, 100,
        Duration.ofSeconds(5).toNanos(), Duration.ofSeconds(1).toNanos(),
        List.of("chat", "export"), clock, scheduler, limit, shares, listener);
  }

  private DefaultRequestQueue<String> queue(ScriptedLimit limit, int ceiling) {
    return queue(limit, ceiling, ceiling, new double[] {1.0, 1.0}, null);
  }

  @Test
  void limitFalls_runningPermitsKeepRunning_andAdmissionResumesBelowTheNewLimit() {
    ScriptedLimit limit = new ScriptedLimit(4);
    DefaultRequestQueue<String> queue = queue(limit, 10);
    List<Permit> held = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      held.add(queue.tryAcquireOrThrow("u" + i, "chat"));
    }
    assertThat(queue.tryAcquire("x", "chat")).isEmpty();

    limit.next = 2;
    held.remove(0).close();
    assertThat(queue.stats().limit()).isEqualTo(2);
    assertThat(queue.maxConcurrent()).isEqualTo(2);
    assertThat(queue.stats().active()).isEqualTo(3);
    assertThat(queue.tryAcquire("x", "chat")).isEmpty();
    held.remove(0).close();
    assertThat(queue.tryAcquire("x", "chat")).isEmpty();
    held.remove(0).close();
    Optional<Permit> admitted = queue.tryAcquire("x", "chat");
    assertThat(admitted).isPresent();
    assertThat(queue.stats().active()).isEqualTo(2);
    admitted.get().close();
    held.forEach(Permit::close);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void limitRises_grantsWaitersUpToTheNewLimit() throws Exception {
    ScriptedLimit limit = new ScriptedLimit(1);
    DefaultRequestQueue<String> queue = queue(limit, 10);
    Permit first = queue.tryAcquireOrThrow("a", "chat");
    CompletableFuture<Permit> b = queue.acquireAsync("b", "chat");
    CompletableFuture<Permit> c = queue.acquireAsync("c", "chat");
    CompletableFuture<Permit> d = queue.acquireAsync("d", "chat");
    assertThat(queue.stats().queued()).isEqualTo(3);

    limit.next = 2;
    first.close();
    assertThat(b).isCompleted();
    assertThat(c).isCompleted();
    assertThat(d).isNotDone();
    assertThat(queue.stats().active()).isEqualTo(2);
    b.get(5, SECONDS).close();
    c.get(5, SECONDS).close();
    d.get(5, SECONDS).close();
    assertThat(queue.stats().active()).isZero();
    assertThat(queue.stats().admitted()).isEqualTo(4);
  }

  @Test
  void freedPermit_goesToTheHighestClass_soTheLowestIsShedByItsTimeout() throws Exception {
    ScriptedLimit limit = new ScriptedLimit(1);
    DefaultRequestQueue<String> queue = queue(limit, 10);
    Permit running = queue.tryAcquireOrThrow("a", "export");
    CompletableFuture<Permit> export = queue.acquireAsync("b", "export", Duration.ofSeconds(1));
    CompletableFuture<Permit> chat = queue.acquireAsync("c", "chat", Duration.ofSeconds(3));

    running.close();
    assertThat(chat).isCompleted();
    scheduler.advance(Duration.ofSeconds(1));
    assertThat(export).isCompletedExceptionally();
    assertThatThrownBy(() -> export.get(5, SECONDS)).isInstanceOf(ExecutionException.class)
        .cause().isInstanceOf(QueueRejectedException.class)
        .extracting(e -> ((QueueRejectedException) e).reason()).isEqualTo(Reason.TIMED_OUT);
    chat.get(5, SECONDS).close();
    assertThat(queue.stats().timedOut()).isEqualTo(1);
  }

  @Test
  void shares_capLowerClassesAtTheirShareOfTheLimit_theHighestUsesAll() {
    ScriptedLimit limit = new ScriptedLimit(4);
    DefaultRequestQueue<String> queue = queue(limit, 10, 10, new double[] {1.0, 0.5}, null);
    Permit e1 = queue.tryAcquireOrThrow("a", "export");
    Permit e2 = queue.tryAcquireOrThrow("b", "export");
    assertThat(queue.tryAcquire("c", "export")).isEmpty();
    Permit c1 = queue.tryAcquireOrThrow("d", "chat");
    Permit c2 = queue.tryAcquireOrThrow("e", "chat");
    assertThat(queue.tryAcquire("f", "chat")).isEmpty();

    // The limit falls to 2: export's share is now 1 permit, chat's 2.
    limit.next = 2;
    c2.close();
    assertThat(queue.tryAcquire("g", "chat")).isEmpty();
    c1.close();
    e2.close();
    assertThat(queue.stats().active()).isEqualTo(1);
    assertThat(queue.tryAcquire("h", "export")).isEmpty();
    Permit c3 = queue.tryAcquireOrThrow("i", "chat");
    assertThat(queue.stats().active()).isEqualTo(2);
    c3.close();
    e1.close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void shares_whenExportWaits_itIsGrantedOnlyBelowItsShare() {
    ScriptedLimit limit = new ScriptedLimit(4);
    DefaultRequestQueue<String> queue = queue(limit, 10, 10, new double[] {1.0, 0.5}, null);
    Permit c1 = queue.tryAcquireOrThrow("a", "chat");
    Permit c2 = queue.tryAcquireOrThrow("b", "chat");
    Permit c3 = queue.tryAcquireOrThrow("c", "chat");
    CompletableFuture<Permit> export = queue.acquireAsync("d", "export");
    assertThat(export).isNotDone();
    c1.close();
    assertThat(export).isNotDone(); // 2 held, export's share is 2
    c2.close();
    assertThat(export).isCompleted();
    c3.close();
    export.join().close();
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void perKeyCap_stillHolds() {
    ScriptedLimit limit = new ScriptedLimit(4);
    DefaultRequestQueue<String> queue = queue(limit, 10, 1, new double[] {1.0, 1.0}, null);
    Permit a = queue.tryAcquireOrThrow("a", "chat");
    assertThat(queue.tryAcquire("a", "chat")).isEmpty();
    CompletableFuture<Permit> a2 = queue.acquireAsync("a", "chat");
    Permit b = queue.tryAcquireOrThrow("b", "chat");
    assertThat(a2).isNotDone();
    a.close();
    assertThat(a2).isCompleted();
    assertThat(queue.stats().activeByKey()).containsEntry("a", 1).containsEntry("b", 1);
    a2.join().close();
    b.close();
  }

  @Test
  void bypass_admitsPastTheLimit_andTheSamplesStillCount() {
    ScriptedLimit limit = new ScriptedLimit(1);
    DefaultRequestQueue<String> queue = queue(limit, 10);
    Permit a = queue.tryAcquireOrThrow("a", "chat");
    CompletableFuture<Permit> waiting = queue.acquireAsync("b", "export");
    queue.bypass(true);
    assertThat(waiting).isCompleted();
    Permit c = queue.tryAcquireOrThrow("c", "export");
    assertThat(queue.stats().active()).isEqualTo(3);
    a.close();
    waiting.join().close();
    c.close();
    assertThat(limit.samples).hasSize(3);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void close_feedsHoldTimeOnTheQueuesClock_andInflightAtAdmission_once() {
    ScriptedLimit limit = new ScriptedLimit(5);
    DefaultRequestQueue<String> queue = queue(limit, 10);
    Permit a = queue.tryAcquireOrThrow("a", "chat");
    Permit b = queue.tryAcquireOrThrow("b", "chat");
    clock.advance(Duration.ofMillis(250));
    b.close();
    b.close();
    clock.advance(Duration.ofMillis(50));
    a.close();
    assertThat(limit.samples).hasSize(2);
    assertThat(limit.samples.get(0)).containsExactly(250_000_000L, 2);
    assertThat(limit.samples.get(1)).containsExactly(300_000_000L, 1);
  }

  @Test
  void permitNeverDelivered_givesNoSample() {
    ScriptedLimit limit = new ScriptedLimit(1);
    DefaultRequestQueue<String> queue = queue(limit, 10);
    Permit a = queue.tryAcquireOrThrow("a", "chat");
    CompletableFuture<Permit> cancelled = queue.acquireAsync("b", "chat");
    CompletableFuture<Permit> next = queue.acquireAsync("c", "chat");
    cancelled.cancel(false);
    a.close();
    assertThat(next).isCompleted();
    next.join().close();
    assertThat(limit.samples).hasSize(2);
    assertThat(queue.stats().cancelled()).isEqualTo(1);
  }

  @Test
  void listener_isToldOfEachChange_withTheQueuesName() {
    ScriptedLimit limit = new ScriptedLimit(3);
    List<String> changes = new ArrayList<>();
    DefaultRequestQueue<String> queue = queue(limit, 10, 10, new double[] {1.0, 1.0},
        (name, from, to) -> changes.add(name + ":" + from + "->" + to));
    queue.tryAcquireOrThrow("a", "chat").close();
    limit.next = 5;
    queue.tryAcquireOrThrow("a", "chat").close();
    queue.tryAcquireOrThrow("a", "chat").close();
    limit.next = 20;
    queue.tryAcquireOrThrow("a", "chat").close();
    assertThat(changes).containsExactly("adaptive:3->5", "adaptive:5->10");
  }

  @Test
  void concurrentAttempts_whileTheLimitMoves_neverPassTheCeiling_andCountExactly()
      throws Exception {
    WanderingLimit wandering = new WanderingLimit();
    DefaultRequestQueue<Integer> queue = new DefaultRequestQueue<>("adaptive", 6, 2, 1_000, 1_000,
        Duration.ofSeconds(5).toNanos(), 0, List.of("chat", "export"), NanoClock.system(),
        TaskScheduler.timer(), wandering, new double[] {1.0, 0.5}, null);
    int threads = 4;
    int perThread = 5_000;
    CyclicBarrier start = new CyclicBarrier(threads);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        done.add(pool.submit(() -> {
          start.await(5, SECONDS);
          for (int i = 0; i < perThread; i++) {
            String cls = i % 3 == 0 ? "export" : "chat";
            Permit p;
            if (i % 2 == 0) {
              Optional<Permit> tried = queue.tryAcquire((id * 7 + i) % 5, cls);
              if (tried.isEmpty()) {
                continue;
              }
              p = tried.get();
            } else {
              p = queue.acquire((id * 7 + i) % 5, cls, Duration.ofSeconds(5));
            }
            int now = running.incrementAndGet();
            maxRunning.accumulateAndGet(now, Math::max);
            running.decrementAndGet();
            p.close();
            p.close();
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(60, SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    RequestQueue.Stats<Integer> stats = queue.stats();
    assertThat(maxRunning.get()).isLessThanOrEqualTo(6);
    assertThat(stats.active()).isZero();
    assertThat(stats.activeByKey()).isEmpty();
    assertThat(stats.queued()).isZero();
    assertThat(stats.completed()).isEqualTo((long) threads * perThread);
    assertThat(stats.timedOut()).isZero();
    assertThat(wandering.samples).isEqualTo(stats.admitted());
    queue.close();
  }

  @Test
  void builder_adaptiveLimit_startsAtInitial_andReportsItInStatsHealthAndToString() {
    RequestQueue<String> queue = RequestQueue.builder().name("chat")
        .priorities("chat", "export")
        .adaptiveLimit(AdaptiveLimit.gradient().min(2).initial(7).max(50).build())
        .maxConcurrentPerKey(3)
        .clock(clock).scheduler(scheduler)
        .build();
    assertThat(queue.isAdaptive()).isTrue();
    assertThat(queue.maxConcurrent()).isEqualTo(7);
    assertThat(queue.stats().limit()).isEqualTo(7);
    assertThat(queue.maxConcurrentPerKey()).isEqualTo(3);
    assertThat(queue.toString()).contains("adaptive limit 7 of at most 50");
    ComponentHealth health = HealthContributors.requestQueue(queue).check();
    assertThat(health.figures()).containsEntry("maxConcurrent", 7L)
        .containsEntry("adaptiveLimit", true);
    List<Permit> held = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      held.add(queue.tryAcquireOrThrow("u" + i, "chat"));
    }
    assertThat(queue.tryAcquire("x", "chat")).isEmpty();
    held.forEach(Permit::close);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void builder_fixedQueue_reportsMaxConcurrentAsLimit() {
    RequestQueue<String> queue = RequestQueue.builder().maxConcurrent(9).build();
    assertThat(queue.isAdaptive()).isFalse();
    assertThat(queue.stats().limit()).isEqualTo(9);
    assertThat(HealthContributors.requestQueue(queue).check().figures())
        .doesNotContainKey("adaptiveLimit");
  }

  @Test
  void builder_rejectsBadAdaptiveConfiguration_namingWhatIsWrong() {
    AdaptiveLimit adaptive = AdaptiveLimit.gradient().max(10).build();
    assertThatThrownBy(() -> RequestQueue.builder().maxConcurrent(5).adaptiveLimit(adaptive)
        .build()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("either maxConcurrent (5) or adaptiveLimit");
    assertThatThrownBy(() -> RequestQueue.builder().adaptiveLimit(adaptive)
        .maxConcurrentPerKey(11).build()).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("maxConcurrentPerKey (11) must not exceed adaptiveLimit max (10)");
    assertThatThrownBy(() -> RequestQueue.builder().priorities("a", "b", "c")
        .adaptiveLimit(AdaptiveLimit.gradient().shares(1.0, 0.5).build()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("2 shares but the queue declares 3 priority classes");
    assertThatThrownBy(() -> RequestQueue.builder().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("maxConcurrent or adaptiveLimit");
    assertThatThrownBy(() -> RequestQueue.builder().adaptiveLimit(null))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("adaptiveLimit");
  }

  @Test
  void adaptiveLimitBuilder_validatesEachSetting() {
    assertThatThrownBy(() -> AdaptiveLimit.gradient().min(0))
        .hasMessage("min must be >= 1 but was 0");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().max(0))
        .hasMessage("max must be >= 1 but was 0");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().initial(0))
        .hasMessage("initial must be >= 1 but was 0");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().tolerance(0))
        .hasMessage("tolerance must be in (0, 10] but was 0.0");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().rttWindow(Duration.ZERO))
        .hasMessage("rttWindow must be > 0 but was PT0S");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().shares(0.9, 0.5))
        .hasMessageContaining("must start with 1.0");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().shares(1.0, 0.5, 0.6))
        .hasMessageContaining("share 2 was 0.6 after 0.5");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().shares(1.0, 0.0))
        .hasMessageContaining("share 1 was 0.0");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().min(5).max(4).build())
        .hasMessage("min (5) must not exceed max (4)");
    assertThatThrownBy(() -> AdaptiveLimit.gradient().min(5).max(10).initial(11).build())
        .hasMessage("initial (11) must be within min (5) and max (10)");
    AdaptiveLimit defaults = AdaptiveLimit.gradient().min(30).build();
    assertThat(defaults.initial()).isEqualTo(30);
    assertThat(defaults.max()).isEqualTo(200);
    assertThat(defaults.tolerance()).isEqualTo(0.10);
    assertThat(defaults.shares(3)).containsExactly(1.0, 1.0, 1.0);
  }
}
