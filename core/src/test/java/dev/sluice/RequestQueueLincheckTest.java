package dev.sluice;

import dev.sluice.RequestQueue.Permit;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jetbrains.kotlinx.lincheck.Actor;
import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.execution.ExecutionScenario;
import org.jetbrains.kotlinx.lincheck.strategy.managed.modelchecking.ModelCheckingOptions;
import org.junit.jupiter.api.Test;

/**
 * Model checking of the queue's lock-free paths with Lincheck: every interleaving Lincheck
 * explores (at each shared-memory access: the CASes on the global word, the key counts, the
 * permit's release claim, the lock) must give results some sequential run of a plain counter
 * model gives. The model is written independently of the queue: a global count, per-key counts
 * when the per-key cap is below the global cap, and closed/refused tallies.
 *
 * <p>Only the queue without per-key caps is checked here: with per-key counts, {@code stats()}
 * retries (yielding) until the key counts add up to the global one, and the model checker reports
 * that retry loop as a hang.
 *
 * <p>Two threads each own their permits (one "owner" group per thread), so closes run in the
 * thread that holds them; {@code closeAgainFromB} closes A's last released permit again from the
 * other thread, which must never release anything, even after A took a new permit.
 */
class RequestQueueLincheckTest {

  private static void check(Class<?> scenario, Class<?> model) {
    // Kept short for the default build (the three fixed scenarios below are always explored);
    // a longer search: -Dsluice.lincheck.iterations=50 -Dsluice.lincheck.invocations=1000.
    ModelCheckingOptions options = new ModelCheckingOptions()
        .iterations(Integer.getInteger("sluice.lincheck.iterations", 4))
        .invocationsPerIteration(Integer.getInteger("sluice.lincheck.invocations", 100))
        .threads(2)
        .actorsPerThread(3)
        .sequentialSpecification(model);
    // Random scenarios rarely line up the races that matter, so these are always explored.
    options.addCustomScenario(scenario(List.of("acquireOwnA"),
        List.of("releaseA", "acquireOwnA"), List.of("closeAgainFromB", "stats")));
    options.addCustomScenario(scenario(List.of(),
        List.of("acquireSharedA", "releaseA", "acquireSharedA"),
        List.of("acquireSharedB", "stats", "releaseTwiceB")));
    options.addCustomScenario(scenario(List.of("acquireOwnB"),
        List.of("acquireOwnA", "releaseA"), List.of("closeQueue", "releaseTwiceB")));
    LinChecker.check(scenario, options);
  }

  /**
   * A scenario: {@code init} alone, then thread A's and thread B's operations in parallel, then
   * {@code stats} alone.
   */
  private static ExecutionScenario scenario(List<String> init, List<String> a, List<String> b) {
    List<Actor> post = actors(List.of("stats"));
    return new ExecutionScenario(actors(init), List.of(actors(a), actors(b)), post, null);
  }

  private static List<Actor> actors(List<String> names) {
    List<Actor> actors = new ArrayList<>();
    for (String name : names) {
      try {
        actors.add(new Actor(Scenario.class.getMethod(name), List.of()));
      } catch (NoSuchMethodException e) {
        throw new AssertionError(e);
      }
    }
    return actors;
  }

  @Test
  void queueWithoutPerKeyCap_tryAcquireCloseStats_areLinearizable() {
    check(SharedScenario.class, SharedModel.class);
  }


  /** The operations, run on a real queue. Lincheck creates one instance per invocation. */
  public abstract static class Scenario {
    private final RequestQueue<String> queue;
    private final ArrayDeque<Permit> heldByA = new ArrayDeque<>();
    private final ArrayDeque<Permit> heldByB = new ArrayDeque<>();
    /** A's last closed permit, published before A closes it so B may close it first. */
    private volatile Permit releasedByA;

    Scenario(RequestQueue<String> queue) {
      this.queue = queue;
    }

    private String acquire(ArrayDeque<Permit> held, String key) {
      try {
        held.push(queue.tryAcquireOrThrow(key, "default"));
        return "admitted";
      } catch (QueueRejectedException e) {
        return e.reason().name();
      }
    }

    /**
     * A takes a permit on its own key.
     *
     * @return the outcome
     */
    @Operation(nonParallelGroup = "a")
    public String acquireOwnA() {
      return acquire(heldByA, "a");
    }

    /**
     * A takes a permit on the key both threads use.
     *
     * @return the outcome
     */
    @Operation(nonParallelGroup = "a")
    public String acquireSharedA() {
      return acquire(heldByA, "s");
    }

    /**
     * A closes its newest permit.
     *
     * @return whether A held one
     */
    @Operation(nonParallelGroup = "a")
    public boolean releaseA() {
      Permit p = heldByA.poll();
      if (p == null) {
        return false;
      }
      releasedByA = p;
      p.close();
      return true;
    }

    /**
     * B takes a permit on its own key.
     *
     * @return the outcome
     */
    @Operation(nonParallelGroup = "b")
    public String acquireOwnB() {
      return acquire(heldByB, "b");
    }

    /**
     * B takes a permit on the key both threads use.
     *
     * @return the outcome
     */
    @Operation(nonParallelGroup = "b")
    public String acquireSharedB() {
      return acquire(heldByB, "s");
    }

    /**
     * B closes its newest permit, and closes it again.
     *
     * @return whether B held one
     */
    @Operation(nonParallelGroup = "b")
    public boolean releaseTwiceB() {
      Permit p = heldByB.poll();
      if (p == null) {
        return false;
      }
      p.close();
      p.close();
      return true;
    }

    /**
     * B closes A's last closed permit again, from the other thread. It returns nothing: a close
     * that loses the race to A's own close returns at once, possibly before A's close has given
     * the permit back, so the only observable effect is that the counts never move for it.
     */
    @Operation(nonParallelGroup = "b")
    public void closeAgainFromB() {
      Permit p = releasedByA;
      if (p != null) {
        p.close();
      }
    }

    /**
     * The figures every thread may read.
     *
     * @return the stats, as text
     */
    @Operation
    public String stats() {
      RequestQueue.Stats<String> s = queue.stats();
      return describe(s.active(), s.admitted(), s.rejected(QueueRejectedException.Reason.QUEUE_FULL),
          s.rejected(QueueRejectedException.Reason.SHUT_DOWN), s.activeByKey(), s.closed());
    }

    /** Shuts the queue; later attempts are refused, held permits can still be closed. */
    @Operation
    public void closeQueue() {
      queue.close();
    }
  }

  static String describe(int active, long admitted, long full, long shut,
      Map<String, Integer> byKey, boolean closed) {
    return "active=" + active + " admitted=" + admitted + " full=" + full + " shut=" + shut
        + " byKey=" + new TreeMap<>(byKey) + " closed=" + closed;
  }

  /** Two permits; the per-key cap equals the global one, so no per-key counts are kept. */
  public static final class SharedScenario extends Scenario {
    /** A queue of two permits. */
    public SharedScenario() {
      super(RequestQueue.builder().maxConcurrent(2).maxQueued(0).<String>build());
    }
  }


  /** The sequential specification: counters, nothing shared with the queue's code. */
  public abstract static class Model {
    private final int max;
    private final int maxPerKey;
    private final boolean countsKeys;
    private final Map<String, Integer> byKey = new TreeMap<>();
    private final ArrayDeque<String> heldByA = new ArrayDeque<>();
    private final ArrayDeque<String> heldByB = new ArrayDeque<>();
    private int active;
    private long admitted;
    private long full;
    private long shut;
    private boolean closed;

    Model(int max, int maxPerKey) {
      this.max = max;
      this.maxPerKey = maxPerKey;
      this.countsKeys = maxPerKey < max;
    }

    private String acquire(ArrayDeque<String> held, String key) {
      if (closed) {
        shut++;
        return "SHUT_DOWN";
      }
      if (active >= max || byKey.getOrDefault(key, 0) >= maxPerKey) {
        full++;
        return "QUEUE_FULL";
      }
      active++;
      admitted++;
      byKey.merge(key, 1, Integer::sum);
      held.push(key);
      return "admitted";
    }

    private boolean release(ArrayDeque<String> held) {
      String key = held.poll();
      if (key == null) {
        return false;
      }
      active--;
      byKey.merge(key, -1, Integer::sum);
      byKey.values().removeIf(n -> n == 0);
      return true;
    }

    /**
     * As the scenario's.
     *
     * @return the outcome
     */
    public String acquireOwnA() {
      return acquire(heldByA, "a");
    }

    /**
     * As the scenario's.
     *
     * @return the outcome
     */
    public String acquireSharedA() {
      return acquire(heldByA, "s");
    }

    /**
     * As the scenario's.
     *
     * @return whether A held one
     */
    public boolean releaseA() {
      return release(heldByA);
    }

    /**
     * As the scenario's.
     *
     * @return the outcome
     */
    public String acquireOwnB() {
      return acquire(heldByB, "b");
    }

    /**
     * As the scenario's.
     *
     * @return the outcome
     */
    public String acquireSharedB() {
      return acquire(heldByB, "s");
    }

    /**
     * As the scenario's: the second close changes nothing.
     *
     * @return whether B held one
     */
    public boolean releaseTwiceB() {
      return release(heldByB);
    }

    /** As the scenario's: closing a closed permit changes nothing. */
    public void closeAgainFromB() {}

    /**
     * As the scenario's.
     *
     * @return the figures, as text
     */
    public String stats() {
      return describe(active, admitted, full, shut, countsKeys ? byKey : Map.of(), closed);
    }

    /** As the scenario's. */
    public void closeQueue() {
      closed = true;
    }
  }

  /** The model of {@link SharedScenario}. */
  public static final class SharedModel extends Model {
    /** Two permits, no per-key counts. */
    public SharedModel() {
      super(2, 2);
    }
  }

}
