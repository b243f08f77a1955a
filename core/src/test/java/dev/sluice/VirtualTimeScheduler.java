package dev.sluice;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A scheduler with virtual time: tasks wait in a queue ordered by due time (then by arrival) and
 * run on the test's thread only when the {@link ManualClock} is advanced past their due time.
 * Every requested delay is recorded. A synchronous call's {@link #await} runs due tasks, moving
 * the clock to each next task, until the call's future is done; nothing ever sleeps.
 */
final class VirtualTimeScheduler implements TaskScheduler {
  private final ManualClock clock;
  private final PriorityQueue<Task> queue = new PriorityQueue<>();
  private final List<Duration> delays = new ArrayList<>();
  private long sequence;

  VirtualTimeScheduler(ManualClock clock) {
    this.clock = clock;
  }

  @Override
  public synchronized Future<?> schedule(Runnable task, long delay, TimeUnit unit) {
    long nanos = unit.toNanos(delay);
    delays.add(Duration.ofNanos(nanos));
    Task t = new Task(clock.nanoTime() + nanos, sequence++, task);
    queue.add(t);
    return t;
  }

  @Override
  public <T> T await(CompletableFuture<T> future) throws InterruptedException, ExecutionException {
    for (int i = 0; i < 100_000 && !future.isDone(); i++) {
      Task next = poll(null);
      if (next == null) {
        throw new AssertionError("call not done and no task left to run");
      }
      long ahead = next.due - clock.nanoTime();
      if (ahead > 0) {
        clock.advanceNanos(ahead);
      }
      next.run();
    }
    try {
      return future.get(5, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("call did not complete", e);
    }
  }

  /** Advances the clock by {@code d}, running every task that falls due on the way, in order. */
  void advance(Duration d) {
    long target = clock.nanoTime() + d.toNanos();
    for (int i = 0; i < 100_000; i++) {
      Task next = poll(target);
      if (next == null) {
        break;
      }
      long ahead = next.due - clock.nanoTime();
      if (ahead > 0) {
        clock.advanceNanos(ahead);
      }
      next.run();
    }
    long rest = target - clock.nanoTime();
    if (rest > 0) {
      clock.advanceNanos(rest);
    }
  }

  /** Runs tasks due now, without moving the clock. */
  void runDue() {
    advance(Duration.ZERO);
  }

  /** Every delay asked for so far, in order, zero delays included. */
  synchronized List<Duration> delays() {
    return new ArrayList<>(delays);
  }

  /** The non-zero delays asked for so far, in order. */
  synchronized List<Duration> waits() {
    return delays.stream().filter(d -> !d.isZero()).toList();
  }

  synchronized int pending() {
    return (int) queue.stream().filter(t -> !t.cancelled.get()).count();
  }

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
