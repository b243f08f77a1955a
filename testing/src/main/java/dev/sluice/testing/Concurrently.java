package dev.sluice.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * Races {@code n} threads through the same code for concurrency tests: every thread is started,
 * waits at one barrier so they all begin together, runs its task, and the caller waits a bounded
 * time for all of them. A failure in any thread fails the call, with every other failure attached
 * as suppressed; a thread still running at the deadline fails it with that thread's stack.
 *
 * <pre>{@code
 * List<Boolean> allowed = Concurrently.call(8, i -> limiter.tryAcquire("k").allowed());
 * assertThat(allowed).filteredOn(a -> a).hasSize(5);
 * }</pre>
 *
 * <p>Thread-safe; each call uses its own threads (daemon threads named
 * {@code concurrently-<i>}), which have all ended or been interrupted when it returns.
 */
public final class Concurrently {
  /** The default bound on the whole race, the barrier included. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

  private Concurrently() {}

  /**
   * One thread's work.
   *
   * @param <T> what it returns
   */
  @FunctionalInterface
  public interface Task<T> {
    /**
     * Runs on thread {@code index}.
     *
     * @param index which thread, 0 to {@code threads - 1}
     * @return the thread's result
     * @throws Exception anything; it fails the race
     */
    T call(int index) throws Exception;
  }

  /**
   * One thread's work, without a result.
   */
  @FunctionalInterface
  public interface VoidTask {
    /**
     * Runs on thread {@code index}.
     *
     * @param index which thread, 0 to {@code threads - 1}
     * @throws Exception anything; it fails the race
     */
    void run(int index) throws Exception;
  }

  /**
   * Runs {@code task} on {@code threads} threads at once, within {@link #DEFAULT_TIMEOUT}.
   *
   * @param threads how many threads, &gt;= 1
   * @param task the work; receives the thread's index
   * @throws InterruptedException if the calling thread is interrupted while waiting
   * @throws IllegalArgumentException if {@code threads} is less than 1
   * @throws AssertionError if a task failed (an unchecked failure is rethrown as it is, the others
   *     suppressed on it) or did not finish in time
   */
  public static void run(int threads, VoidTask task) throws InterruptedException {
    run(threads, DEFAULT_TIMEOUT, task);
  }

  /**
   * Runs {@code task} on {@code threads} threads at once, within {@code timeout}.
   *
   * @param threads how many threads, &gt;= 1
   * @param timeout the bound on the whole race, &gt; 0
   * @param task the work; receives the thread's index
   * @throws InterruptedException if the calling thread is interrupted while waiting
   * @throws IllegalArgumentException if {@code threads} is less than 1 or {@code timeout} is not
   *     positive
   * @throws AssertionError if a task failed or did not finish in time, as for
   *     {@link #call(int, Duration, Task)}
   */
  public static void run(int threads, Duration timeout, VoidTask task)
      throws InterruptedException {
    Objects.requireNonNull(task, "task");
    call(threads, timeout, i -> {
      task.run(i);
      return null;
    });
  }

  /**
   * Runs {@code task} on {@code threads} threads at once, within {@link #DEFAULT_TIMEOUT}, and
   * returns their results.
   *
   * @param <T> the result type
   * @param threads how many threads, &gt;= 1
   * @param task the work; receives the thread's index
   * @return the results, element {@code i} from thread {@code i} (nulls allowed)
   * @throws InterruptedException if the calling thread is interrupted while waiting
   * @throws IllegalArgumentException if {@code threads} is less than 1
   * @throws AssertionError if a task failed or did not finish in time, as for
   *     {@link #call(int, Duration, Task)}
   */
  public static <T> List<T> call(int threads, Task<T> task) throws InterruptedException {
    return call(threads, DEFAULT_TIMEOUT, task);
  }

  /**
   * Runs {@code task} on {@code threads} threads at once, within {@code timeout}, and returns
   * their results.
   *
   * <p>When tasks fail, the failure of the lowest-indexed thread is thrown, with the others added
   * to it as suppressed: an {@link Error} (such as an assertion's) or a
   * {@link RuntimeException} as it is, a checked exception wrapped in an {@link AssertionError}.
   * When threads are still running at the deadline (the barrier's wait included), they are
   * interrupted and an {@link AssertionError} names them, with each one's stack attached.
   *
   * @param <T> the result type
   * @param threads how many threads, &gt;= 1
   * @param timeout the bound on the whole race, &gt; 0
   * @param task the work; receives the thread's index
   * @return the results, element {@code i} from thread {@code i} (nulls allowed)
   * @throws InterruptedException if the calling thread is interrupted while waiting; the race's
   *     threads are interrupted too
   * @throws IllegalArgumentException if {@code threads} is less than 1 or {@code timeout} is not
   *     positive
   * @throws NullPointerException if {@code timeout} or {@code task} is null
   */
  public static <T> List<T> call(int threads, Duration timeout, Task<T> task)
      throws InterruptedException {
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(task, "task");
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1 but was " + threads);
    }
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive but was " + timeout);
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    CyclicBarrier start = new CyclicBarrier(threads);
    AtomicReferenceArray<T> results = new AtomicReferenceArray<>(threads);
    AtomicReferenceArray<Throwable> failures = new AtomicReferenceArray<>(threads);
    List<Thread> running = new ArrayList<>(threads);
    for (int t = 0; t < threads; t++) {
      int index = t;
      Thread thread = new Thread(() -> {
        try {
          start.await(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
          results.set(index, task.call(index));
        } catch (BrokenBarrierException e) {
          // Another thread's wait at the barrier timed out or was interrupted: its failure is the
          // one to report, not this consequence of it.
          failures.set(index, new StartFailed());
        } catch (Throwable e) {
          failures.set(index, e);
        }
      }, "concurrently-" + t);
      thread.setDaemon(true);
      running.add(thread);
    }
    running.forEach(Thread::start);
    try {
      for (Thread thread : running) {
        long left = deadline - System.nanoTime();
        if (left > 0) {
          TimeUnit.NANOSECONDS.timedJoin(thread, left);
        }
      }
    } catch (InterruptedException e) {
      running.forEach(Thread::interrupt);
      throw e;
    }
    List<Thread> stuck = running.stream().filter(Thread::isAlive).toList();
    if (!stuck.isEmpty()) {
      AssertionError timedOut = new AssertionError(stuck.size() + " of " + threads
          + " threads still running after " + timeout + ": " + stuck.stream()
          .map(Thread::getName).toList());
      for (Thread thread : stuck) {
        Throwable where = new Throwable(thread.getName() + " was here");
        where.setStackTrace(thread.getStackTrace());
        timedOut.addSuppressed(where);
        thread.interrupt();
      }
      throw timedOut;
    }
    Throwable first = null;
    for (int t = 0; t < threads; t++) {
      Throwable f = failures.get(t);
      if (f == null || f instanceof StartFailed) {
        continue;
      }
      if (first == null) {
        first = f instanceof RuntimeException || f instanceof Error
            ? f
            : new AssertionError("thread " + t + " of " + threads + " threw " + f, f);
      } else {
        first.addSuppressed(f);
      }
    }
    if (first instanceof RuntimeException e) {
      throw e;
    }
    if (first instanceof Error e) {
      throw e;
    }
    for (int t = 0; t < threads; t++) {
      if (failures.get(t) != null) {
        throw new AssertionError("the threads never all reached the start barrier");
      }
    }
    List<T> out = new ArrayList<>(threads);
    for (int t = 0; t < threads; t++) {
      out.add(results.get(t));
    }
    return out;
  }

  /** Marks a thread whose start was broken by another thread's failure. */
  private static final class StartFailed extends Exception {
    private static final long serialVersionUID = 1L;

    StartFailed() {
      super(null, null, false, false);
    }
  }
}
