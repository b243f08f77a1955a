package dev.sluice.internal;

import dev.sluice.NanoClock;
import dev.sluice.QueueRejectedException;
import dev.sluice.QueueRejectedException.Reason;
import dev.sluice.RequestQueue;
import dev.sluice.SluiceException;
import dev.sluice.TaskScheduler;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link RequestQueue}: one {@link ReentrantLock} guards every count and wait queue, so taking
 * a permit is one short critical section and never a check-then-act across two. Futures are
 * completed only after the lock is released, so no caller code runs under it.
 *
 * <p>A waiter's {@code state} moves once, under the lock, from {@code WAITING} to {@code GRANTED}
 * or {@code REMOVED}. A granted permit whose delivery fails (the future was completed by someone
 * else first) is released again at once, which grants the next waiter. Thread-safe.
 *
 * @param <K> the key type
 */
public final class DefaultRequestQueue<K> implements RequestQueue<K> {
  private static final int WAITING = 0;
  private static final int GRANTED = 1;
  private static final int REMOVED = 2;
  /** The key count below which idle keys are never swept. */
  private static final int MIN_SWEEP = 1024;

  private final String name;
  private final int maxConcurrent;
  private final int maxPerKey;
  private final int maxQueued;
  private final int maxQueuedPerKey;
  private final long timeoutNanos;
  private final long retryAfterNanos;
  private final String[] priorities;
  private final List<String> priorityList;
  private final NanoClock clock;
  private final TaskScheduler scheduler;

  private final ReentrantLock lock = new ReentrantLock();
  // Everything below is guarded by lock (the two volatiles are also read without it).
  private final HashMap<K, KeyState<K>> keys = new HashMap<>();
  /** Per priority: the keys below their cap with a waiter of that priority, in turn order. */
  private final List<LinkedHashSet<KeyState<K>>> turns;
  private final int[] queuedByPriority;
  private int sweepAt = MIN_SWEEP;
  private int active;
  private int queued;
  private long admitted;
  private long cancelled;
  private final long[] rejected = new long[Reason.values().length];
  private volatile boolean bypassed;
  private volatile boolean closed;

  /**
   * Creates a queue; arguments were validated by the builder.
   *
   * @param name queue name
   * @param maxConcurrent global cap
   * @param maxPerKey per-key cap
   * @param maxQueued global bound on waiters
   * @param maxQueuedPerKey per-key bound on waiters
   * @param timeoutNanos default wait
   * @param retryAfterNanos suggested retry-after
   * @param priorities class names, highest first
   * @param clock the clock that measures waits
   * @param scheduler the scheduler that ends waits
   */
  public DefaultRequestQueue(String name, int maxConcurrent, int maxPerKey, int maxQueued,
      int maxQueuedPerKey, long timeoutNanos, long retryAfterNanos, List<String> priorities,
      NanoClock clock, TaskScheduler scheduler) {
    this.name = name;
    this.maxConcurrent = maxConcurrent;
    this.maxPerKey = maxPerKey;
    this.maxQueued = maxQueued;
    this.maxQueuedPerKey = maxQueuedPerKey;
    this.timeoutNanos = timeoutNanos;
    this.retryAfterNanos = retryAfterNanos;
    this.priorityList = List.copyOf(priorities);
    this.priorities = priorityList.toArray(new String[0]);
    this.clock = clock;
    this.scheduler = scheduler;
    this.turns = new ArrayList<>(this.priorities.length);
    for (int i = 0; i < this.priorities.length; i++) {
      turns.add(new LinkedHashSet<>());
    }
    this.queuedByPriority = new int[this.priorities.length];
  }

  // ---------------------------------------------------------------- acquire forms

  @Override
  public Optional<Permit> tryAcquire(K key, String priority) {
    int p = priorityIndex(priority);
    Object outcome = admitOrEnqueue(Objects.requireNonNull(key, "key"), p, false);
    if (outcome instanceof KeyState) {
      return Optional.of(new QueuePermit<>(this, keyState(outcome), p));
    }
    return Optional.empty();
  }

  @Override
  public Permit tryAcquireOrThrow(K key, String priority) {
    int p = priorityIndex(priority);
    Object outcome = admitOrEnqueue(Objects.requireNonNull(key, "key"), p, false);
    if (outcome instanceof KeyState) {
      return new QueuePermit<>(this, keyState(outcome), p);
    }
    throw (QueueRejectedException) outcome;
  }

  @Override
  public Permit acquire(K key, String priority) throws InterruptedException {
    return acquire(key, priority, timeoutNanos);
  }

  @Override
  public Permit acquire(K key, String priority, Duration timeout) throws InterruptedException {
    return acquire(key, priority, timeoutNanos(timeout));
  }

  private Permit acquire(K key, String priority, long timeout) throws InterruptedException {
    int p = priorityIndex(priority);
    Object outcome = admitOrEnqueue(Objects.requireNonNull(key, "key"), p, true);
    if (outcome instanceof KeyState) {
      return new QueuePermit<>(this, keyState(outcome), p);
    }
    if (outcome instanceof QueueRejectedException) {
      throw (QueueRejectedException) outcome;
    }
    // Waiting is the async form plus a blocked thread, so the scheduler (and a fake clock)
    // ends it exactly as it ends an async wait.
    Waiter<K> waiter = waiter(outcome);
    arm(waiter, timeout);
    try {
      return waiter.get();
    } catch (InterruptedException e) {
      if (waiter.cancel(false)) {
        throw e;
      }
      // Granted or failed at the same instant as the interrupt.
      Permit permit;
      try {
        permit = waiter.join();
      } catch (CompletionException failure) {
        Thread.currentThread().interrupt();
        throw unwrap(failure.getCause());
      }
      // The caller will see only the interrupt: give the permit back and count it as cancelled.
      ((QueuePermit<?>) permit).releaseAsCancelled();
      throw e;
    } catch (ExecutionException e) {
      throw unwrap(e.getCause());
    }
  }

  @Override
  public CompletableFuture<Permit> acquireAsync(K key, String priority) {
    return acquireAsync(key, priority, timeoutNanos);
  }

  @Override
  public CompletableFuture<Permit> acquireAsync(K key, String priority, Duration timeout) {
    return acquireAsync(key, priority, timeoutNanos(timeout));
  }

  private CompletableFuture<Permit> acquireAsync(K key, String priority, long timeout) {
    int p = priorityIndex(priority);
    Object outcome = admitOrEnqueue(Objects.requireNonNull(key, "key"), p, true);
    if (outcome instanceof KeyState) {
      return CompletableFuture.completedFuture(new QueuePermit<>(this, keyState(outcome), p));
    }
    if (outcome instanceof QueueRejectedException) {
      return CompletableFuture.failedFuture((QueueRejectedException) outcome);
    }
    Waiter<K> waiter = waiter(outcome);
    arm(waiter, timeout);
    return waiter;
  }

  /**
   * The one decision of every form, in one critical section.
   *
   * @return the key's {@link KeyState} when admitted (the caller wraps it in a permit outside the
   *     lock), a {@link Waiter} when queued, or a {@link QueueRejectedException} when refused
   */
  private Object admitOrEnqueue(K key, int priority, boolean mayWait) {
    lock.lock();
    try {
      if (closed) {
        return rejectLocked(Reason.SHUT_DOWN);
      }
      KeyState<K> ks = keys.get(key);
      if (bypassed || (active < maxConcurrent && (ks == null || ks.active < maxPerKey))) {
        if (ks == null) {
          ks = newKeyLocked(key);
        }
        admitLocked(ks);
        return ks;
      }
      int keyQueued = ks == null ? 0 : ks.queued;
      if (!mayWait || queued >= maxQueued || keyQueued >= maxQueuedPerKey) {
        return rejectLocked(Reason.QUEUE_FULL);
      }
      if (ks == null) {
        ks = newKeyLocked(key);
      }
      Waiter<K> waiter = new Waiter<>(this, ks, priority, clock.nanoTime());
      ks.waiters(priority, priorities.length).addLast(waiter);
      ks.queued++;
      queued++;
      queuedByPriority[priority]++;
      if (ks.active < maxPerKey) {
        turns.get(priority).add(ks);
      }
      return waiter;
    } finally {
      lock.unlock();
    }
  }

  /** Schedules the waiter's deadline; the handle is cancelled by whichever side ends it second. */
  private void arm(Waiter<K> waiter, long timeout) {
    Future<?> deadline;
    try {
      deadline = scheduler.schedule(() -> expire(waiter), timeout, TimeUnit.NANOSECONDS);
    } catch (RuntimeException e) {
      // Without a deadline the waiter could wait for ever: withdraw it. If it was granted in
      // the meantime this fails and the future simply holds its permit.
      waiter.completeExceptionally(
          new SluiceException("request queue '" + name + "': cannot schedule the timeout", e));
      return;
    }
    waiter.deadline = deadline;
    if (waiter.isDone()) {
      deadline.cancel(false);
    }
  }

  // ---------------------------------------------------------------- state changes (under lock)

  private void admitLocked(KeyState<K> ks) {
    ks.active++;
    active++;
    admitted++;
    if (ks.active == maxPerKey && ks.queued > 0) {
      for (int p = 0; p < priorities.length; p++) {
        turns.get(p).remove(ks);
      }
    }
  }

  private QueueRejectedException rejectLocked(Reason reason) {
    rejected[reason.ordinal()]++;
    return new QueueRejectedException(reason, name, queued, 0, retryAfterNanos);
  }

  private void removeLocked(Waiter<K> waiter) {
    KeyState<K> ks = waiter.ks;
    ArrayDeque<Waiter<K>> deque = ks.waiters[waiter.priority];
    deque.remove(waiter);
    ks.queued--;
    queued--;
    queuedByPriority[waiter.priority]--;
    if (deque.isEmpty()) {
      turns.get(waiter.priority).remove(ks);
    }
    waiter.state = REMOVED;
  }

  /**
   * Adds a key. Idle keys stay in the map so a busy key costs no allocation per permit; they are
   * swept when the map doubles past its size after the last sweep, which keeps the map within
   * twice the live keys (plus {@link #MIN_SWEEP}) at an amortised constant cost per new key.
   */
  private KeyState<K> newKeyLocked(K key) {
    if (keys.size() >= sweepAt) {
      keys.values().removeIf(ks -> ks.active == 0 && ks.queued == 0);
      sweepAt = Math.max(MIN_SWEEP, 2 * keys.size());
    }
    KeyState<K> ks = new KeyState<>(key);
    keys.put(key, ks);
    return ks;
  }

  /**
   * Grants free permits to eligible waiters: highest priority first, keys taking turns within a
   * priority, oldest first within a key.
   *
   * @return the granted waiters, chained through {@link Waiter#nextGrant}, or null
   */
  private Waiter<K> dispatchLocked() {
    Waiter<K> head = null;
    Waiter<K> tail = null;
    while (queued > 0 && active < maxConcurrent) {
      Waiter<K> next = null;
      for (int p = 0; p < priorities.length && next == null; p++) {
        LinkedHashSet<KeyState<K>> turn = turns.get(p);
        if (turn.isEmpty()) {
          continue;
        }
        KeyState<K> ks = turn.iterator().next();
        turn.remove(ks);
        ArrayDeque<Waiter<K>> deque = ks.waiters[p];
        next = deque.pollFirst();
        ks.queued--;
        queued--;
        queuedByPriority[p]--;
        if (!deque.isEmpty()) {
          turn.add(ks); // back to the end of the turn order
        }
      }
      if (next == null) {
        break; // every waiter's key is at its cap
      }
      next.state = GRANTED;
      admitLocked(next.ks);
      if (head == null) {
        head = next;
      } else {
        tail.nextGrant = next;
      }
      tail = next;
    }
    return head;
  }

  /**
   * Gives back one permit of {@code ks} and grants what that frees.
   *
   * @param undelivered whether the permit never reached its caller (counted cancelled, not
   *     admitted)
   * @return granted waiters to deliver outside the lock, or null
   */
  private Waiter<K> releaseLocked(KeyState<K> ks, boolean undelivered) {
    ks.active--;
    active--;
    if (undelivered) {
      admitted--;
      cancelled++;
    }
    if (ks.active == maxPerKey - 1 && ks.queued > 0) {
      // Below its cap again: the key rejoins the end of the turn order.
      for (int p = 0; p < priorities.length; p++) {
        ArrayDeque<Waiter<K>> deque = ks.waiters == null ? null : ks.waiters[p];
        if (deque != null && !deque.isEmpty()) {
          turns.get(p).add(ks);
        }
      }
    }
    Waiter<K> granted = queued > 0 ? dispatchLocked() : null;
    return granted;
  }

  // ---------------------------------------------------------------- outside the lock

  void release(QueuePermit<K> permit, boolean undelivered) {
    Waiter<K> granted;
    lock.lock();
    try {
      if (permit.released) {
        return;
      }
      permit.released = true;
      granted = releaseLocked(permit.ks, undelivered);
    } finally {
      lock.unlock();
    }
    deliver(granted);
  }

  /** Completes granted waiters; a permit that cannot be delivered is released again, in a loop. */
  private void deliver(Waiter<K> granted) {
    while (granted != null) {
      Waiter<K> waiter = granted;
      granted = waiter.nextGrant;
      waiter.nextGrant = null;
      cancelDeadline(waiter);
      QueuePermit<K> permit = new QueuePermit<>(this, waiter.ks, waiter.priority);
      if (!waiter.deliver(permit)) {
        // The future was completed first by its caller (cancel, orTimeout, ...): the permit
        // goes to the next waiter instead of being lost (failsafe-lib/failsafe#393).
        Waiter<K> more;
        lock.lock();
        try {
          permit.released = true;
          more = releaseLocked(waiter.ks, true);
        } finally {
          lock.unlock();
        }
        granted = append(more, granted);
      }
    }
  }

  private static <K> Waiter<K> append(Waiter<K> first, Waiter<K> rest) {
    if (first == null) {
      return rest;
    }
    Waiter<K> last = first;
    while (last.nextGrant != null) {
      last = last.nextGrant;
    }
    last.nextGrant = rest;
    return first;
  }

  /** The waiter's future was completed by someone other than the queue. */
  void abandoned(Waiter<K> waiter) {
    lock.lock();
    try {
      if (waiter.state != WAITING) {
        return; // granted (delivery will fail and pass the permit on) or already removed
      }
      removeLocked(waiter);
      cancelled++;
    } finally {
      lock.unlock();
    }
    cancelDeadline(waiter);
  }

  /** The waiter's deadline passed. */
  void expire(Waiter<K> waiter) {
    long now = clock.nanoTime();
    int queuedNow;
    lock.lock();
    try {
      if (waiter.state != WAITING) {
        return;
      }
      queuedNow = queued;
      removeLocked(waiter);
    } finally {
      lock.unlock();
    }
    long waited = Math.max(0, now - waiter.enqueuedAt);
    fail(List.of(waiter), new long[] {waited}, Reason.TIMED_OUT, queuedNow);
  }

  /** Completes removed waiters exceptionally, then counts each as rejected or, if its caller
   * completed it first, as cancelled. */
  private void fail(List<Waiter<K>> waiters, long[] waited, Reason reason, int queuedNow) {
    int failed = 0;
    for (int i = 0; i < waiters.size(); i++) {
      Waiter<K> waiter = waiters.get(i);
      cancelDeadline(waiter);
      if (waiter.fail(
          new QueueRejectedException(reason, name, queuedNow, waited[i], retryAfterNanos))) {
        failed++;
      }
    }
    lock.lock();
    try {
      rejected[reason.ordinal()] += failed;
      cancelled += waiters.size() - failed;
    } finally {
      lock.unlock();
    }
  }

  private static void cancelDeadline(Waiter<?> waiter) {
    Future<?> deadline = waiter.deadline;
    if (deadline != null) {
      deadline.cancel(false);
    }
  }

  // ---------------------------------------------------------------- runtime control

  @Override
  public Stats<K> stats() {
    lock.lock();
    try {
      Map<K, Integer> activeByKey = new HashMap<>();
      long oldest = Long.MAX_VALUE;
      boolean anyWaiter = false;
      for (KeyState<K> ks : keys.values()) {
        if (ks.active > 0) {
          activeByKey.put(ks.key, ks.active);
        }
        if (ks.queued > 0) {
          for (ArrayDeque<Waiter<K>> deque : ks.waiters) {
            Waiter<K> first = deque == null ? null : deque.peekFirst();
            if (first != null && (!anyWaiter || first.enqueuedAt - oldest < 0)) {
              oldest = first.enqueuedAt;
              anyWaiter = true;
            }
          }
        }
      }
      Map<String, Integer> byPriority = new LinkedHashMap<>();
      for (int p = 0; p < priorities.length; p++) {
        byPriority.put(priorities[p], queuedByPriority[p]);
      }
      Map<Reason, Long> byReason = new EnumMap<>(Reason.class);
      for (Reason r : Reason.values()) {
        byReason.put(r, rejected[r.ordinal()]);
      }
      Duration longestWait =
          anyWaiter ? Duration.ofNanos(Math.max(0, clock.nanoTime() - oldest)) : Duration.ZERO;
      return new Stats<>(active, activeByKey, queued, byPriority, admitted, byReason, cancelled,
          longestWait, bypassed, closed);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void bypass(boolean bypass) {
    Waiter<K> granted = null;
    lock.lock();
    try {
      bypassed = bypass;
      if (bypass && queued > 0) {
        // Nobody waits while bypassed: admit every current waiter.
        Waiter<K> tail = null;
        for (KeyState<K> ks : keys.values()) {
          if (ks.queued == 0) {
            continue;
          }
          for (int p = 0; p < priorities.length; p++) {
            ArrayDeque<Waiter<K>> deque = ks.waiters[p];
            Waiter<K> w;
            while (deque != null && (w = deque.pollFirst()) != null) {
              ks.queued--;
              queued--;
              queuedByPriority[p]--;
              w.state = GRANTED;
              admitLocked(ks);
              if (granted == null) {
                granted = w;
              } else {
                tail.nextGrant = w;
              }
              tail = w;
            }
          }
        }
        for (LinkedHashSet<KeyState<K>> turn : turns) {
          turn.clear();
        }
      }
    } finally {
      lock.unlock();
    }
    deliver(granted);
  }

  @Override
  public boolean isBypassed() {
    return bypassed;
  }

  @Override
  public int drain() {
    return removeAll(Reason.DRAINED);
  }

  @Override
  public void close() {
    removeAll(Reason.SHUT_DOWN);
  }

  private int removeAll(Reason reason) {
    List<Waiter<K>> removed = new ArrayList<>();
    int queuedNow;
    long now = clock.nanoTime();
    lock.lock();
    try {
      if (reason == Reason.SHUT_DOWN) {
        if (closed) {
          return 0;
        }
        closed = true;
      }
      queuedNow = queued;
      for (Iterator<KeyState<K>> it = keys.values().iterator(); it.hasNext(); ) {
        KeyState<K> ks = it.next();
        if (ks.queued > 0) {
          for (int p = 0; p < priorities.length; p++) {
            ArrayDeque<Waiter<K>> deque = ks.waiters[p];
            Waiter<K> w;
            while (deque != null && (w = deque.pollFirst()) != null) {
              w.state = REMOVED;
              removed.add(w);
            }
          }
          ks.queued = 0;
        }
        if (ks.active == 0) {
          it.remove();
        }
      }
      queued = 0;
      Arrays.fill(queuedByPriority, 0);
      for (LinkedHashSet<KeyState<K>> turn : turns) {
        turn.clear();
      }
    } finally {
      lock.unlock();
    }
    long[] waited = new long[removed.size()];
    for (int i = 0; i < waited.length; i++) {
      waited[i] = Math.max(0, now - removed.get(i).enqueuedAt);
    }
    fail(removed, waited, reason, queuedNow);
    return removed.size();
  }

  /**
   * Keys held in memory, idle ones included; for tests of the memory bound.
   *
   * @return the key count
   */
  int keyCount() {
    lock.lock();
    try {
      return keys.size();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<String> priorities() {
    return priorityList;
  }

  @Override
  public int maxConcurrent() {
    return maxConcurrent;
  }

  @Override
  public int maxConcurrentPerKey() {
    return maxPerKey;
  }

  @Override
  public int maxQueued() {
    return maxQueued;
  }

  @Override
  public Duration timeout() {
    return Duration.ofNanos(timeoutNanos);
  }

  @Override
  public String toString() {
    return "RequestQueue[" + name + ": " + maxConcurrent + " concurrent, " + maxPerKey
        + " per key, " + maxQueued + " queued, priorities " + priorityList + "]";
  }

  // ---------------------------------------------------------------- helpers

  private int priorityIndex(String priority) {
    Objects.requireNonNull(priority, "priority");
    for (int i = 0; i < priorities.length; i++) {
      if (priorities[i] == priority) {
        return i;
      }
    }
    for (int i = 0; i < priorities.length; i++) {
      if (priorities[i].equals(priority)) {
        return i;
      }
    }
    throw new IllegalArgumentException("priority '" + priority + "' is not a class of queue '"
        + name + "'; declared: " + priorityList);
  }

  private static long timeoutNanos(Duration timeout) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isZero() || timeout.isNegative()) {
      throw new IllegalArgumentException("timeout must be > 0 but was " + timeout);
    }
    try {
      return timeout.toNanos();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("timeout is too long: " + timeout, e);
    }
  }

  private static RuntimeException unwrap(Throwable cause) {
    if (cause instanceof RuntimeException) {
      return (RuntimeException) cause;
    }
    return new SluiceException("request queue wait failed", cause);
  }

  @SuppressWarnings("unchecked")
  private KeyState<K> keyState(Object outcome) {
    return (KeyState<K>) outcome;
  }

  @SuppressWarnings("unchecked")
  private Waiter<K> waiter(Object outcome) {
    return (Waiter<K>) outcome;
  }

  // ---------------------------------------------------------------- nested types

  /** Per-key counts and waiters; guarded by the queue's lock. */
  static final class KeyState<K> {
    final K key;
    int active;
    int queued;
    /** Per priority, oldest first; created on the first wait of the key. */
    ArrayDeque<Waiter<K>>[] waiters;

    KeyState(K key) {
      this.key = key;
    }

    @SuppressWarnings("unchecked")
    ArrayDeque<Waiter<K>> waiters(int priority, int classes) {
      if (waiters == null) {
        waiters = (ArrayDeque<Waiter<K>>[]) new ArrayDeque<?>[classes];
      }
      ArrayDeque<Waiter<K>> deque = waiters[priority];
      if (deque == null) {
        deque = new ArrayDeque<>();
        waiters[priority] = deque;
      }
      return deque;
    }
  }

  /**
   * A queued attempt, and the future its caller holds. Completions by anyone but the queue go
   * through the overrides below and withdraw the attempt; the queue completes it with
   * {@link #deliver} and {@link #fail}.
   */
  static final class Waiter<K> extends CompletableFuture<Permit> {
    final DefaultRequestQueue<K> queue;
    final KeyState<K> ks;
    final int priority;
    final long enqueuedAt;
    /** Guarded by the queue's lock. */
    int state = WAITING;
    /** Set and read by the thread that granted this waiter, after the lock. */
    Waiter<K> nextGrant;
    volatile Future<?> deadline;

    Waiter(DefaultRequestQueue<K> queue, KeyState<K> ks, int priority, long enqueuedAt) {
      this.queue = queue;
      this.ks = ks;
      this.priority = priority;
      this.enqueuedAt = enqueuedAt;
    }

    boolean deliver(Permit permit) {
      return super.complete(permit);
    }

    boolean fail(QueueRejectedException e) {
      return super.completeExceptionally(e);
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      if (cancelled) {
        queue.abandoned(this);
      }
      return cancelled;
    }

    @Override
    public boolean complete(Permit value) {
      boolean completed = super.complete(value);
      if (completed) {
        queue.abandoned(this);
      }
      return completed;
    }

    @Override
    public boolean completeExceptionally(Throwable ex) {
      boolean completed = super.completeExceptionally(ex);
      if (completed) {
        queue.abandoned(this);
      }
      return completed;
    }

    @Override
    public void obtrudeValue(Permit value) {
      throw new UnsupportedOperationException("a request queue future cannot be obtruded");
    }

    @Override
    public void obtrudeException(Throwable ex) {
      throw new UnsupportedOperationException("a request queue future cannot be obtruded");
    }
  }

  /**
   * A held permit. Its {@code released} flag is read and set under the queue's lock, in the same
   * critical section that gives the permit back, so it releases at most once with no extra atomic
   * operation on the hot path.
   */
  static final class QueuePermit<K> implements Permit {
    private final DefaultRequestQueue<K> queue;
    private final KeyState<K> ks;
    private final int priority;
    /** Guarded by the queue's lock. */
    boolean released;

    QueuePermit(DefaultRequestQueue<K> queue, KeyState<K> ks, int priority) {
      this.queue = queue;
      this.ks = ks;
      this.priority = priority;
    }

    @Override
    public String priority() {
      return queue.priorities[priority];
    }

    @Override
    public void close() {
      queue.release(this, false);
    }

    /** Releases a permit its caller will never see (interrupted at the instant of the grant). */
    void releaseAsCancelled() {
      queue.release(this, true);
    }

    @Override
    public String toString() {
      return "Permit[" + queue.name + ", " + priority() + "]";
    }
  }
}
