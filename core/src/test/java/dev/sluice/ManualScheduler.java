package dev.sluice;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Core's copy of sluice-testing's {@code dev.sluice.testing.ManualScheduler}; see that class for
 * the full description. Tasks run, on the thread that moves time, when {@link #advance} or
 * {@link #runDue} passes their due time; {@link #await} runs tasks until a synchronous call is
 * done; every requested delay is recorded.
 *
 * <p>Why a copy: sluice-testing depends on sluice-core, so core's tests cannot depend on it (Maven
 * cannot order a reactor where core's test classpath needs a module built after core). Keep the
 * two in step; http-servlet's and later modules' tests use sluice-testing itself.
 */
final class ManualScheduler implements TaskScheduler {
  /** How many tasks one call may run before it is taken to be a task rescheduling itself. */
  private static final int MAX_TASKS_PER_CALL = 1_000_000;

  private final ManualClock clock;
  private final PriorityQueue<Task> queue = new PriorityQueue<>();
  private final List<Duration> delays = new ArrayList<>();
  private long sequence;

  /**
   * A scheduler on {@code clock}.
   *
   * @param clock the clock that due times are read from and that {@link #advance} moves
   * @throws NullPointerException if {@code clock} is null
   */
  ManualScheduler(ManualClock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * The clock this scheduler reads and moves.
   *
   * @return the clock
   */
  ManualClock clock() {
    return clock;
  }

  /**
   * Queues {@code task} to run once {@code delay} of virtual time has passed. A delay of zero
   * runs at the next {@link #advance} or {@link #runDue}, not at once.
   *
   * @param task the task
   * @param delay the delay, &gt;= 0
   * @param unit the delay's unit
   * @return a future whose {@code cancel} withdraws the task; it completes when the task has run
   * @throws NullPointerException if {@code task} or {@code unit} is null
   * @throws IllegalArgumentException if {@code delay} is negative
   */
  @Override
  public Future<?> schedule(Runnable task, long delay, TimeUnit unit) {
    Objects.requireNonNull(task, "task");
    Objects.requireNonNull(unit, "unit");
    if (delay < 0) {
      throw new IllegalArgumentException("delay must be >= 0 but was " + delay + " " + unit);
    }
    long nanos = unit.toNanos(delay);
    synchronized (this) {
      delays.add(Duration.ofNanos(nanos));
      Task t = new Task(clock.nanoTime() + nanos, sequence++, task);
      queue.add(t);
      return t;
    }
  }

  /**
   * Runs due tasks until {@code future} is done, moving the clock to each next task first: the
   * blocking half of a synchronous call on this scheduler.
   *
   * @param <T> the result type
   * @param future the call's future
   * @return the call's result
   * @throws ExecutionException if the call failed
   * @throws InterruptedException never in practice; declared by the interface
   * @throws IllegalStateException if the call is not done and no task is left that could finish
   *     it (no other thread completed it within 5 seconds either)
   */
  @Override
  public <T> T await(CompletableFuture<T> future)
      throws InterruptedException, ExecutionException {
    Objects.requireNonNull(future, "future");
    for (int i = 0; !future.isDone(); i++) {
      checkBound(i);
      Task next = poll(null);
      if (next == null) {
        break;
      }
      moveTo(next.due);
      next.run();
    }
    try {
      return future.get(5, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException("the call is not done and no scheduled task is left to"
          + " finish it; pending tasks: " + pending(), e);
    }
  }

  /**
   * Moves time forward by {@code duration}, running every task that falls due on the way, in due
   * order, with the clock at each task's due time; then sets the clock to the target.
   *
   * @param duration how far, &gt;= 0
   * @throws NullPointerException if {@code duration} is null
   * @throws IllegalArgumentException if {@code duration} is negative
   */
  void advance(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    if (duration.isNegative()) {
      throw new IllegalArgumentException("time never goes back, but duration was " + duration);
    }
    long target = clock.nanoTime() + duration.toNanos();
    for (int i = 0; ; i++) {
      checkBound(i);
      Task next = poll(target);
      if (next == null) {
        break;
      }
      moveTo(next.due);
      next.run();
    }
    moveTo(target);
  }

  /** Runs the tasks due now (and those they schedule with no delay) without moving the clock. */
  void runDue() {
    advance(Duration.ZERO);
  }

  /**
   * Every delay requested so far, in order, zero delays included.
   *
   * @return a copy of the delays
   */
  synchronized List<Duration> delays() {
    return List.copyOf(delays);
  }

  /**
   * The non-zero delays requested so far, in order: the waits a call asked for.
   *
   * @return a copy of the non-zero delays
   */
  synchronized List<Duration> waits() {
    return delays.stream().filter(d -> !d.isZero()).toList();
  }

  /**
   * How many tasks are scheduled and neither run nor cancelled.
   *
   * @return the number of pending tasks
   */
  synchronized int pending() {
    int n = 0;
    for (Task t : queue) {
      if (!t.cancelled.get()) {
        n++;
      }
    }
    return n;
  }

  private void moveTo(long due) {
    long ahead = due - clock.nanoTime();
    if (ahead > 0) {
      clock.advanceNanos(ahead);
    }
  }

  private static void checkBound(int ran) {
    if (ran >= MAX_TASKS_PER_CALL) {
      throw new IllegalStateException("ran " + MAX_TASKS_PER_CALL + " tasks without reaching the"
          + " target: a task keeps rescheduling itself with no delay");
    }
  }

  /** The next live task, if it is due by {@code dueBy} (any task when null). */
  private synchronized Task poll(Long dueBy) {
    while (!queue.isEmpty()) {
      Task head = queue.peek();
      if (head.cancelled.get()) {
        queue.poll();
        continue;
      }
      if (dueBy != null && head.due - dueBy > 0) {
        return null;
      }
      return queue.poll();
    }
    return null;
  }

  private static final class Task extends CompletableFuture<Void> implements Comparable<Task> {
    final long due;
    final long seq;
    final Runnable body;
    final AtomicBoolean cancelled = new AtomicBoolean();

    Task(long due, long seq, Runnable body) {
      this.due = due;
      this.seq = seq;
      this.body = body;
    }

    void run() {
      if (cancelled.get()) {
        return;
      }
      try {
        body.run();
        complete(null);
      } catch (RuntimeException | Error e) {
        completeExceptionally(e);
        throw e;
      }
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      cancelled.set(true);
      return super.cancel(mayInterruptIfRunning);
    }

    @Override
    public int compareTo(Task o) {
      int byDue = Long.compare(due - o.due, 0);
      return byDue != 0 ? byDue : Long.compare(seq, o.seq);
    }
  }
}
