package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;

import com.netflix.concurrency.limits.limit.Gradient2Limit;
import dev.sluice.internal.DefaultRequestQueue;
import dev.sluice.internal.LimitAlgorithm;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/**
 * The adaptive limit on a simulated backend, in virtual time (one thread, a fake clock, a seeded
 * random source: every run is the same run).
 *
 * <p>The backend: a request started while {@code c} requests run (itself included) takes
 * {@code 100 ms × (1 + 2 × max(0, c − 40) / 40)}, times a uniform jitter of ±5 %. So up to the
 * knee of 40 it serves 400 requests/s; past it, latency rises linearly and throughput falls (at
 * 60 running it serves 300/s). Arrivals: 30 s cycles of a 20 s burst (chat 120/s, export 480/s:
 * 1.5 × what the knee serves) and a 10 s lull (60/s each), Poisson, 500 users, 5 simulated minutes.
 * Figures are taken after the first minute; goodput and the limit only during bursts, when demand
 * exceeds the knee.
 *
 * <p>Sluice's adaptive limit and Netflix concurrency-limits' Gradient2 (its defaults, the same
 * floor, start and ceiling) each drive the same queue on the same arrivals; the test asserts
 * Sluice's targets and prints both.
 */
class AdaptiveQueueSimulationTest {
  private static final long MS = 1_000_000L;
  private static final long SECOND = 1_000 * MS;
  private static final int KNEE = 40;
  private static final long NO_LOAD = 100 * MS;
  private static final double KNEE_THROUGHPUT = KNEE * (double) SECOND / NO_LOAD; // 400/s
  private static final long RUN = 300 * SECOND;
  private static final long WARMUP = 60 * SECOND;
  private static final long CYCLE = 30 * SECOND;
  private static final long BURST = 20 * SECOND;
  private static final int USERS = 500;
  private static final int PER_KEY = 4;
  private static final long CHAT_P99_TARGET = 100 * MS;

  @Test
  void adaptiveLimit_onBackendWithKnee_convergesNearKneeAndShedsExportFirst() {
    Result sluice = simulate("Sluice gradient", (clock, scheduler) -> RequestQueue.builder()
        .name("sim")
        .priorities("chat", "export")
        .adaptiveLimit(AdaptiveLimit.gradient().min(4).initial(10).max(200).build())
        .maxConcurrentPerKey(PER_KEY)
        .maxQueued(2_000)
        .timeout(Duration.ofSeconds(2))
        .clock(clock)
        .scheduler(scheduler)
        .build());
    Result ncl = simulate("NCL Gradient2 (defaults)", (clock, scheduler) ->
        new DefaultRequestQueue<String>("sim", 200, PER_KEY, 2_000, 2_000,
            Duration.ofSeconds(2).toNanos(), SECOND, List.of("chat", "export"), clock, scheduler,
            new NclGradient2(Gradient2Limit.newBuilder()
                .initialLimit(10).minLimit(4).maxConcurrency(200).build()),
            AdaptiveLimit.gradient().build().shares(2), null));
    System.out.println(Result.HEADER);
    System.out.println(sluice);
    System.out.println(ncl);

    assertThat(Math.abs(sluice.meanLimit - KNEE)).as("mean limit vs knee %d: %s", KNEE, sluice)
        .isLessThanOrEqualTo(0.10 * KNEE);
    assertThat(sluice.withinTenPercent).as("share of limit samples within 10 %% of the knee")
        .isGreaterThanOrEqualTo(0.90);
    assertThat(sluice.goodput).as("goodput / knee's").isGreaterThanOrEqualTo(0.90);
    assertThat(sluice.chatP99Wait).as("chat p99 wait, ns").isLessThan(CHAT_P99_TARGET);
    assertThat(sluice.chatShed).as("chat requests shed").isZero();
    assertThat(sluice.exportShed).as("export requests shed").isPositive();
    assertThat(sluice.maxPerKey).as("most permits one user held").isLessThanOrEqualTo(PER_KEY);
    assertThat(ncl.maxPerKey).isLessThanOrEqualTo(PER_KEY);
  }

  @Test
  void adaptiveLimit_withExportShareOfHalf_keepsInflightAtKneeAndChatWaitLower() {
    Result shares = simulate("Sluice gradient, shares 1.0/0.5", (clock, scheduler) ->
        RequestQueue.builder()
            .name("sim")
            .priorities("chat", "export")
            .adaptiveLimit(AdaptiveLimit.gradient().min(4).initial(10).max(200)
                .shares(1.0, 0.5).build())
            .maxConcurrentPerKey(PER_KEY)
            .maxQueued(2_000)
            .timeout(Duration.ofSeconds(2))
            .clock(clock)
            .scheduler(scheduler)
            .build());
    System.out.println(Result.HEADER);
    System.out.println(shares);

    // Export may hold only half the limit, so the limit settles where chat's use plus export's
    // half reaches the knee: in-flight work, not the limit, is what sits at the knee.
    assertThat(Math.abs(shares.meanInflight - KNEE)).as("mean in flight vs knee: %s", shares)
        .isLessThanOrEqualTo(0.10 * KNEE);
    assertThat(shares.goodput).as("goodput / knee's").isGreaterThanOrEqualTo(0.90);
    assertThat(shares.chatP99Wait).as("chat p99 wait, ns").isLessThan(CHAT_P99_TARGET);
    assertThat(shares.chatShed).isZero();
    assertThat(shares.exportShed).isPositive();
  }

  // ---------------------------------------------------------------- the simulation

  private static Result simulate(String name,
      BiFunction<ManualClock, TaskScheduler, RequestQueue<String>> factory) {
    ManualClock clock = new ManualClock();
    EventLoop loop = new EventLoop(clock);
    RequestQueue<String> queue = factory.apply(clock, loop);
    Backend backend = new Backend(clock, loop, queue, new Random(42));
    long origin = clock.nanoTime();
    backend.scheduleArrival("chat", origin);
    backend.scheduleArrival("export", origin);
    List<Integer> limits = new ArrayList<>();
    List<Integer> inflight = new ArrayList<>();
    for (long t = 0; t < RUN; t += 100 * MS) {
      loop.runUntil(origin + t + 100 * MS);
      long now = t + 100 * MS;
      if (now >= WARMUP && inBurst(now)) {
        limits.add(queue.maxConcurrent());
        inflight.add(backend.running);
      }
    }
    queue.close();
    return new Result(name, limits, inflight, backend);
  }

  private static boolean inBurst(long sinceOrigin) {
    return sinceOrigin % CYCLE < BURST;
  }

  /** The simulated backend and its clients. */
  private static final class Backend {
    final ManualClock clock;
    final EventLoop loop;
    final RequestQueue<String> queue;
    final Random random;
    final long origin;
    final Map<String, Integer> runningByUser = new HashMap<>();
    int running;
    int maxPerKey;
    long burstCompletions;
    long chatShed;
    long exportShed;
    long exportAdmitted;
    final List<Long> chatWaits = new ArrayList<>();

    Backend(ManualClock clock, EventLoop loop, RequestQueue<String> queue, Random random) {
      this.clock = clock;
      this.loop = loop;
      this.queue = queue;
      this.random = random;
      this.origin = clock.nanoTime();
    }

    void scheduleArrival(String cls, long after) {
      long t = after - origin;
      double rate = inBurst(t)
          ? (cls.equals("chat") ? 120 : 480)
          : 60;
      long gap = (long) (-Math.log(1 - random.nextDouble()) / rate * SECOND);
      long at = after + Math.max(1, gap);
      if (at - origin >= RUN) {
        return;
      }
      loop.at(at, () -> {
        arrive(cls);
        scheduleArrival(cls, at);
      });
    }

    void arrive(String cls) {
      String user = "user-" + random.nextInt(USERS);
      long arrived = clock.nanoTime();
      queue.acquireAsync(user, cls).whenComplete((permit, failure) -> {
        boolean measured = arrived - origin >= WARMUP;
        if (failure != null) {
          if (measured) {
            if (cls.equals("chat")) {
              chatShed++;
            } else {
              exportShed++;
            }
          }
          return;
        }
        if (measured) {
          if (cls.equals("chat")) {
            chatWaits.add(clock.nanoTime() - arrived);
          } else {
            exportAdmitted++;
          }
        }
        start(user, permit);
      });
    }

    void start(String user, RequestQueue.Permit permit) {
      running++;
      int mine = runningByUser.merge(user, 1, Integer::sum);
      maxPerKey = Math.max(maxPerKey, mine);
      double over = Math.max(0, running - KNEE) / (double) KNEE;
      double jitter = 0.95 + 0.10 * random.nextDouble();
      long latency = (long) (NO_LOAD * (1 + 2 * over) * jitter);
      loop.at(clock.nanoTime() + latency, () -> {
        running--;
        runningByUser.merge(user, -1, Integer::sum);
        long now = clock.nanoTime() - origin;
        if (now >= WARMUP && inBurst(now)) {
          burstCompletions++;
        }
        permit.close();
      });
    }
  }

  /** Figures of one run. */
  private static final class Result {
    static final String HEADER = String.format(Locale.ROOT,
        "%-32s %10s %9s %9s %9s %10s %8s %11s %10s %10s %8s",
        "algorithm", "meanLimit", "minLimit", "maxLimit", "in±10%", "meanInfl", "goodput",
        "chatP99ms", "chatShed", "exportShed", "exportOk");
    final String name;
    final double meanLimit;
    final int minLimit;
    final int maxLimit;
    final double withinTenPercent;
    final double meanInflight;
    final double goodput;
    final long chatP99Wait;
    final long chatShed;
    final long exportShed;
    final long exportAdmitted;
    final int maxPerKey;

    Result(String name, List<Integer> limits, List<Integer> inflight, Backend b) {
      this.name = name;
      this.meanLimit = limits.stream().mapToInt(Integer::intValue).average().orElse(0);
      this.minLimit = limits.stream().mapToInt(Integer::intValue).min().orElse(0);
      this.maxLimit = limits.stream().mapToInt(Integer::intValue).max().orElse(0);
      this.withinTenPercent = limits.stream()
          .filter(l -> Math.abs(l - KNEE) <= 0.10 * KNEE).count() / (double) limits.size();
      this.meanInflight = inflight.stream().mapToInt(Integer::intValue).average().orElse(0);
      long burstSeconds = 0;
      for (long t = WARMUP; t < RUN; t += SECOND) {
        if (inBurst(t)) {
          burstSeconds++;
        }
      }
      this.goodput = b.burstCompletions / (burstSeconds * KNEE_THROUGHPUT);
      long[] waits = b.chatWaits.stream().mapToLong(Long::longValue).sorted().toArray();
      this.chatP99Wait = waits.length == 0 ? 0 : waits[(int) Math.ceil(0.99 * waits.length) - 1];
      this.chatShed = b.chatShed;
      this.exportShed = b.exportShed;
      this.exportAdmitted = b.exportAdmitted;
      this.maxPerKey = b.maxPerKey;
    }

    @Override
    public String toString() {
      return String.format(Locale.ROOT,
          "%-32s %10.1f %9d %9d %8.0f%% %10.1f %7.0f%% %11.1f %10d %10d %8d",
          name, meanLimit, minLimit, maxLimit, 100 * withinTenPercent, meanInflight,
          100 * goodput, chatP99Wait / (double) MS, chatShed, exportShed, exportAdmitted);
    }
  }

  /** Netflix concurrency-limits' limit behind Sluice's algorithm interface. */
  private static final class NclGradient2 implements LimitAlgorithm {
    private final Gradient2Limit limit;

    NclGradient2(Gradient2Limit limit) {
      this.limit = limit;
    }

    @Override
    public int initialLimit() {
      return limit.getLimit();
    }

    @Override
    public int onSample(long startNanos, long rttNanos, int inflight, long nowNanos) {
      limit.onSample(startNanos, rttNanos, inflight, false);
      return limit.getLimit();
    }
  }

  /** Virtual time: tasks run on the test's thread, in due order, as the clock is moved. */
  private static final class EventLoop implements TaskScheduler {
    private final ManualClock clock;
    private final PriorityQueue<Task> tasks = new PriorityQueue<>();
    private long sequence;

    EventLoop(ManualClock clock) {
      this.clock = clock;
    }

    @Override
    public Future<?> schedule(Runnable task, long delay, TimeUnit unit) {
      return at(clock.nanoTime() + unit.toNanos(delay), task);
    }

    Task at(long due, Runnable body) {
      Task t = new Task(due, sequence++, body);
      tasks.add(t);
      return t;
    }

    void runUntil(long until) {
      Task next;
      while ((next = tasks.peek()) != null && next.due - until <= 0) {
        tasks.poll();
        if (next.isCancelled()) {
          continue;
        }
        long ahead = next.due - clock.nanoTime();
        if (ahead > 0) {
          clock.advanceNanos(ahead);
        }
        next.body.run();
        next.complete(null);
      }
      long rest = until - clock.nanoTime();
      if (rest > 0) {
        clock.advanceNanos(rest);
      }
    }

    private static final class Task extends CompletableFuture<Void> implements Comparable<Task> {
      final long due;
      final long seq;
      final Runnable body;

      Task(long due, long seq, Runnable body) {
        this.due = due;
        this.seq = seq;
        this.body = body;
      }

      @Override
      public int compareTo(Task o) {
        int c = Long.compare(due - o.due, 0);
        return c != 0 ? c : Long.compare(seq, o.seq);
      }
    }
  }
}
