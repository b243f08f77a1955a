package dev.sluice.internal;

import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Interrupts a thread whose attempt runs past its deadline: the per-attempt timeout of a
 * synchronous {@code OutboundGuard} call that runs on the caller's thread.
 *
 * <p>A scheduled task per attempt (what Failsafe's synchronous timeout does) costs a lock, a heap
 * insert and removal, and usually a wake-up of the timer thread, since each new task is the
 * earliest: microseconds per call. Here an attempt only puts its {@link Watch} in a free slot of a
 * fixed table and clears it afterwards; one daemon thread ({@code sluice-attempt-watchdog}),
 * started on first use, scans the table once per millisecond while attempts are being made and
 * parks when there have been none for a second, so a busy caller never wakes it. A timeout therefore
 * fires up to about a millisecond late. When every slot is taken (more attempts at once than the
 * table holds), {@link #watch} answers null and the caller uses a scheduled task instead.
 *
 * <p>Thread-safe.
 */
public final class AttemptWatchdog {
  /** The shared instance. */
  public static final AttemptWatchdog INSTANCE = new AttemptWatchdog();

  private static final long TICK_NANOS = 1_000_000;
  private static final int IDLE_TICKS = 1000;
  /** Slots a thread tries, starting from its own group. */
  private static final int PROBES = 8;
  /** Groups start a cache line (16 references) apart, so two threads do not write one line. */
  private static final int STRIDE = 16;
  private static final int GROUPS = 64;

  private final AtomicReferenceArray<Watch> slots = new AtomicReferenceArray<>(GROUPS * STRIDE);
  private volatile boolean parked;
  /** Set by a watch since the last scan; most attempts end between two scans, unseen by them. */
  private volatile boolean active;
  private volatile Thread thread;

  private AttemptWatchdog() {}

  /**
   * Starts watching the current thread.
   *
   * @param timeoutNanos how long the attempt may run, &gt; 0
   * @return the watch, to {@link Watch#finish()} when the attempt ends; null when the table is
   *     full
   */
  public Watch watch(long timeoutNanos) {
    Thread current = Thread.currentThread();
    Watch w = new Watch(current, System.nanoTime() + timeoutNanos);
    int group = (int) (current.getId() % GROUPS) * STRIDE;
    for (int i = 0; i < PROBES; i++) {
      int slot = group + i;
      if (slots.get(slot) == null && slots.compareAndSet(slot, null, w)) {
        w.owner = this;
        w.slot = slot;
        if (!active) {
          // Once per scan at most: a busy caller reads a shared flag instead of writing one.
          active = true;
          Thread t = thread;
          if (t == null) {
            start();
          } else if (parked) {
            LockSupport.unpark(t);
          }
        }
        return w;
      }
    }
    return null;
  }

  private synchronized void start() {
    if (thread != null) {
      if (parked) {
        LockSupport.unpark(thread);
      }
      return;
    }
    Thread t = new Thread(this::run, "sluice-attempt-watchdog");
    t.setDaemon(true);
    thread = t;
    t.start();
  }

  private void run() {
    int idle = 0;
    while (true) {
      boolean watched = active;
      if (watched) {
        active = false;
      }
      if (scan() || watched) {
        idle = 0;
      } else if (++idle > IDLE_TICKS) {
        parked = true;
        // Re-check after announcing the park: a watch put in before this is seen here, one put in
        // after it finds active == false and parked == true, and unparks this thread.
        if (!scan() && !active) {
          LockSupport.park(this);
        }
        parked = false;
        idle = 0;
        continue;
      }
      LockSupport.parkNanos(this, TICK_NANOS);
    }
  }

  /** Fires every overdue watch; answers whether any watch was found. */
  private boolean scan() {
    boolean any = false;
    long now = System.nanoTime();
    for (int g = 0; g < GROUPS; g++) {
      for (int i = 0; i < PROBES; i++) {
        Watch w = slots.get(g * STRIDE + i);
        if (w != null) {
          any = true;
          if (now - w.deadline >= 0) {
            w.fire();
          }
        }
      }
    }
    return any;
  }

  /**
   * One attempt being watched: interrupts its thread once when it fires, unless the attempt
   * finished first. Also usable with a scheduled task that calls {@link #fire()}.
   */
  public static final class Watch extends AtomicInteger {
    private static final long serialVersionUID = 1L;
    private static final int RUNNING = 0;
    private static final int FIRING = 1;
    private static final int FIRED = 2;
    private static final int FINISHED = 3;

    private final transient Thread target;
    private final long deadline;
    private transient AttemptWatchdog owner;
    private int slot = -1;
    private transient Future<?> timer;

    /**
     * A watch on {@code target} fired by a scheduled task rather than the watchdog.
     *
     * @param target the thread to interrupt
     */
    public Watch(Thread target) {
      this(target, 0);
    }

    private Watch(Thread target, long deadline) {
      this.target = target;
      this.deadline = deadline;
    }

    /**
     * Sets the scheduled task that fires this watch, to cancel when the attempt finishes.
     *
     * @param timer the task
     */
    public void timer(Future<?> timer) {
      this.timer = timer;
    }

    /** Interrupts the watched thread, unless its attempt already finished. */
    public void fire() {
      if (compareAndSet(RUNNING, FIRING)) {
        target.interrupt();
        set(FIRED);
      }
    }

    /**
     * Ends the watch; called by the watched thread when its attempt ends.
     *
     * @return true when the attempt finished in time; false when it timed out, in which case the
     *     interrupt sent to this thread has been cleared
     */
    public boolean finish() {
      boolean inTime = compareAndSet(RUNNING, FINISHED);
      if (!inTime) {
        while (get() == FIRING) {
          Thread.onSpinWait();
        }
        Thread.interrupted(); // the interrupt was ours, not the caller's: do not leak it
      }
      if (owner != null) {
        owner.slots.lazySet(slot, null);
      }
      if (timer != null && inTime) {
        timer.cancel(false);
      }
      return inTime;
    }
  }
}
