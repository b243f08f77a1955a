package dev.sluice.internal;

import dev.sluice.AdaptiveLimit;
import dev.sluice.NanoClock;
import dev.sluice.QueueListener;
import dev.sluice.QueueRejectedException;
import dev.sluice.QueueRejectedException.Reason;
import dev.sluice.RequestQueue;
import dev.sluice.SluiceException;
import dev.sluice.TaskScheduler;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link RequestQueue}: a lock-free fast path for the common case (nobody waits) in front of
 * a locked slow path that owns the wait queues.
 *
 * <p><b>State.</b> The global count of held permits lives in one atomic word, {@link #ctl},
 * together with a {@code SLOW} bit and a batch of admissions not yet folded into
 * {@link #admitted}. Each key's count of held permits is an atomic int in its {@link KeyState}.
 * Both counts are only ever raised by a compare-and-set that checks the cap in the same step, so a
 * cap can never be passed by a check-then-act (Netflix/concurrency-limits#233).
 *
 * <p><b>Fast path.</b> While {@code SLOW} is clear, an attempt whose key is known raises its key's
 * count (CAS, below the per-key cap), then the global word (CAS, below the global cap, expecting
 * {@code SLOW} clear). A release lowers the global word by a CAS that expects {@code SLOW} clear,
 * then its key's count. Neither takes the lock. A try that finds the global or its key's cap
 * reached while {@code SLOW} is clear is refused without the lock.
 *
 * <p><b>Slow path.</b> Every critical section of {@link #lock} starts by setting {@code SLOW}
 * ({@link #enterLocked}) and, on the way out, clears it only if nobody waits and the queue is
 * neither bypassed nor closed ({@link #exitLocked}). So while anyone waits, or while a locked
 * section runs, no fast-path CAS on {@link #ctl} can succeed: the global count changes only under
 * the lock, and fast attempts and releases that meet {@code SLOW} finish under the lock.
 *
 * <p><b>The enqueue/release race.</b> A waiter is queued only after {@code SLOW} was set by a CAS
 * on the very word a fast release must CAS, and the enqueuer reads the counts after that. If the
 * release's CAS meets {@code SLOW}, the whole release happens under the lock, where the permit is
 * handed to the next eligible waiter. If the CAS came first, the enqueuer sees the global permit
 * free; as for the key's permit, the release lowers the key count and then reads the word: either
 * the enqueuer read the key count after that decrement (and so sees the key below its cap), or it
 * had set {@code SLOW} before, and the release sees {@code SLOW} and re-files the key in the turn
 * order under the lock, granting its waiter ({@link #releaseKeyAfterFastRelease}). A free permit can
 * therefore never sit beside a waiter that could use it.
 *
 * <p><b>Key reservations.</b> A fast attempt that raised its key's count but then cannot raise the
 * global count (cap reached or {@code SLOW}) keeps that reservation into the lock, where it either
 * completes the admission or gives the reservation back and re-files the key in the turn order.
 * Meanwhile the key may look one permit fuller than it is (as it may while a release is between
 * its two steps); that can only delay or refuse, never over-admit, and whoever then lowers the
 * key count re-checks the waiters under the lock if anyone may be waiting.
 *
 * <p><b>Without per-key caps</b> (the per-key cap is not below the global cap, {@link #keyed}
 * false) no key count is kept at all: a fast attempt is one CAS on {@link #ctl} with no key
 * lookup, a try that finds every permit held with {@code SLOW} clear is refused on that one read,
 * and a release is the permit's claim plus one CAS on {@link #ctl}. Key states then exist only for
 * keys with waiters (for the turn order); their count stays 0, so they are always eligible. The
 * race above cannot arise: the only count is the word that carries {@code SLOW}.
 *
 * <p><b>The permit.</b> Idempotent close from any thread needs one claim per admission, and the
 * claim is a CAS on the permit itself ({@link QueuePermit#markReleased}). A shared or per-thread
 * permit would save the allocation but let a stale second close release a later admission's
 * permit; so each admission gets its own 24-byte permit.
 *
 * <p><b>Keys.</b> Key states sit in a {@link ConcurrentHashMap} written only under the lock. An
 * idle key is swept by a CAS of its count from 0 to {@link #DEAD}; a fast attempt that still holds
 * the swept state fails its CAS on it and goes to the slow path, which finds the live state.
 *
 * <p><b>Adaptive limit.</b> A queue with a {@link LimitAlgorithm} never clears {@code SLOW}, so
 * every admission and release takes the lock: the limit and the per-class caps change with every
 * sample, and a sample is taken under the lock anyway, so the fast path would buy nothing there.
 * Only such a queue reads the clock for a permit (a {@link TimedPermit} records its admission);
 * a queue with a fixed cap pays nothing for the feature. The cap of class {@code p} is
 * {@code max(1, floor(limit × share[p]))} ({@link #caps}), checked wherever the fixed cap is
 * checked; a falling limit only stops admissions, it never revokes a permit.
 *
 * <p>A waiter's {@code state} moves once, under the lock, from {@code WAITING} to {@code GRANTED}
 * or {@code REMOVED}. A granted permit whose delivery fails (the future was completed by someone
 * else first) is released again at once, which grants the next waiter. Futures are completed only
 * after the lock is released, so no caller code runs under it. Thread-safe.
 *
 * @param <K> the key type
 */
public final class DefaultRequestQueue<K> implements RequestQueue<K> {
  private static final Logger LOG = LoggerFactory.getLogger(RequestQueue.class);
  private static final int WAITING = 0;
  private static final int GRANTED = 1;
  private static final int REMOVED = 2;
  /** The key count below which idle keys are never swept. */
  private static final int MIN_SWEEP = 1024;
  /** A swept key state's count: no CAS below a cap can raise it again. */
  static final int DEAD = Integer.MIN_VALUE;

  /** {@link #ctl}: set while anyone waits, a locked section runs, or the queue is bypassed or
   * closed; fast-path CASes expect it clear. */
  private static final long SLOW = Long.MIN_VALUE;
  /** {@link #ctl}: permits held now, over all keys. */
  private static final long ACTIVE_MASK = 0xFFFF_FFFFL;
  /** {@link #ctl}: admissions by the fast path not yet folded into {@link #admitted}. */
  private static final long ADMITTED_MASK = 0x7FFF_FFFF_0000_0000L;
  private static final int ADMITTED_SHIFT = 32;
  /** One fast admission: one more permit held and one more admitted. */
  private static final long ADMIT = (1L << ADMITTED_SHIFT) + 1;
  private static final VarHandle CTL;
  /** {@link #admit}'s outcome when a queue without per-key counts admits. */
  private static final Object ADMITTED = new Object();
  /** {@link #commitGlobal}: admitted. */
  private static final int COMMITTED = 1;
  /** {@link #commitGlobal}: every permit held, seen with {@code SLOW} clear. */
  private static final int FULL = 0;
  /** {@link #commitGlobal}: {@code SLOW} set (or the batch of admissions full): take the lock. */
  private static final int LOCKED = -1;

  static {
    try {
      CTL = MethodHandles.lookup().findVarHandle(DefaultRequestQueue.class, "ctl", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final String name;
  // The caps below change only under the lock (reconfigure); the fast path reads them without it.
  private volatile int maxConcurrent;
  private volatile int maxPerKey;
  /**
   * Whether per-key counts are kept: only when the per-key cap is below the global cap. Changes
   * only under the lock; a granted waiter records it ({@link Waiter#counted}), so its permit
   * matches the counts its grant raised.
   */
  private volatile boolean keyed;
  private volatile int maxQueued;
  private volatile int maxQueuedPerKey;
  /** The per-key bound on waiters as built, or -1 when it follows {@link #maxQueued}. */
  private final int maxQueuedPerKeyBuilt;
  private volatile long timeoutNanos;
  private final long retryAfterNanos;
  private final String[] priorities;
  private final List<String> priorityList;
  private final NanoClock clock;
  private final TaskScheduler scheduler;
  /** The adaptive limit's algorithm, or null for a fixed cap; used only under the lock. */
  private final LimitAlgorithm algorithm;
  private final double[] shares;
  private final AdaptiveLimit.Listener listener;
  /** The global cap now: {@code maxConcurrent}, or the adaptive limit. Written under the lock. */
  private volatile int limit;
  /** Per priority: the most permits held at once for that class to be admitted. Under lock. */
  private final int[] caps;

  /** The global word: {@link #SLOW}, fast admissions not yet counted, permits held now. */
  private volatile long ctl;
  /** Bumped under the lock by every {@link #reconfigure}; see {@link #readmit}. */
  private volatile int configGeneration;
  /** Written only under lock; read by the fast path. */
  private final ConcurrentHashMap<K, KeyState<K>> keys = new ConcurrentHashMap<>();
  /** Attempts refused by the fast path (always {@code QUEUE_FULL}). */
  private final LongAdder fastRejected = new LongAdder();

  private final ReentrantLock lock = new ReentrantLock();
  // Everything below is guarded by lock (the two volatiles are also read without it).
  /** Per priority: the keys below their cap with a waiter of that priority, in turn order. */
  private final List<LinkedHashSet<KeyState<K>>> turns;
  private final int[] queuedByPriority;
  private int sweepAt = MIN_SWEEP;
  private int queued;
  /** Admissions, less those folded in {@link #ctl} since the last locked section. */
  private long admitted;
  private long cancelled;
  private final long[] rejected = new long[Reason.values().length];
  private volatile boolean bypassed;
  private volatile boolean closed;
  /** Told of attempts and releases, outside the lock; empty costs one volatile read. */
  private final Listeners<QueueListener<? super K>> listeners;

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
    this(name, maxConcurrent, maxPerKey, maxQueued, maxQueuedPerKey, timeoutNanos,
        retryAfterNanos, priorities, clock, scheduler, null, null, null);
  }

  /**
   * Creates a queue, with an adaptive limit if {@code algorithm} is not null; arguments were
   * validated by the builder.
   *
   * @param name queue name
   * @param maxConcurrent global cap, or the ceiling of the adaptive limit
   * @param maxPerKey per-key cap
   * @param maxQueued global bound on waiters
   * @param maxQueuedPerKey per-key bound on waiters
   * @param timeoutNanos default wait
   * @param retryAfterNanos suggested retry-after
   * @param priorities class names, highest first
   * @param clock the clock that measures waits and hold times
   * @param scheduler the scheduler that ends waits
   * @param algorithm the adaptive limit's algorithm, or null for a fixed cap
   * @param shares per class, the share of the limit it may use (highest first, the first 1), or
   *     null with a fixed cap
   * @param listener told of limit changes, or null
   */
  public DefaultRequestQueue(String name, int maxConcurrent, int maxPerKey, int maxQueued,
      int maxQueuedPerKey, long timeoutNanos, long retryAfterNanos, List<String> priorities,
      NanoClock clock, TaskScheduler scheduler, LimitAlgorithm algorithm, double[] shares,
      AdaptiveLimit.Listener listener) {
    this.name = name;
    this.listeners = new Listeners<>("request queue '" + name + "'");
    this.maxConcurrent = maxConcurrent;
    this.maxPerKey = maxPerKey;
    this.keyed = maxPerKey < maxConcurrent;
    this.maxQueued = maxQueued;
    this.maxQueuedPerKey = maxQueuedPerKey;
    this.maxQueuedPerKeyBuilt = maxQueuedPerKey == maxQueued ? -1 : maxQueuedPerKey;
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
    this.algorithm = algorithm;
    this.listener = listener;
    this.caps = new int[this.priorities.length];
    if (algorithm == null) {
      this.shares = null;
      this.limit = maxConcurrent;
      Arrays.fill(caps, maxConcurrent);
    } else {
      this.shares = shares.clone();
      setLimitLocked(Math.min(maxConcurrent, algorithm.initialLimit()));
      this.ctl = SLOW; // never cleared: every admission and release of this queue is locked
    }
  }

  // ---------------------------------------------------------------- acquire forms

  @Override
  public Optional<Permit> tryAcquire(K key, String priority) {
    int p = priorityIndex(priority);
    Object outcome = admit(Objects.requireNonNull(key, "key"), p, false);
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      return Optional.ofNullable(reportAtOnce(ls, key, p, outcome));
    }
    if (outcome == ADMITTED) {
      return Optional.of(new SharedPermit<>(this, p));
    }
    if (outcome instanceof KeyState) {
      return Optional.of(new KeyedPermit<>(keyState(outcome), p));
    }
    if (outcome instanceof TimedPermit) {
      return Optional.of((TimedPermit<?>) outcome);
    }
    return Optional.empty();
  }

  @Override
  public Permit tryAcquireOrThrow(K key, String priority) {
    int p = priorityIndex(priority);
    Object outcome = admit(Objects.requireNonNull(key, "key"), p, false);
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      Permit permit = reportAtOnce(ls, key, p, outcome);
      if (permit != null) {
        return permit;
      }
    }
    if (isAdmitted(outcome)) {
      return permit(outcome, p);
    }
    if (outcome == null) {
      // Refused by the fast path, which saw SLOW clear: nobody was waiting.
      throw new QueueRejectedException(Reason.QUEUE_FULL, name, 0, 0, retryAfterNanos);
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
    Object outcome = admit(Objects.requireNonNull(key, "key"), p, true);
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      Permit permit = reportAtOnce(ls, key, p, outcome);
      if (permit != null) {
        return permit;
      }
    }
    if (isAdmitted(outcome)) {
      return permit(outcome, p);
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
      if (permit instanceof ObservedPermit) {
        ((ObservedPermit<?>) permit).releaseAsCancelled();
      } else {
        ((QueuePermit<?>) permit).releaseAsCancelled();
      }
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
    Object outcome = admit(Objects.requireNonNull(key, "key"), p, true);
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      Permit permit = reportAtOnce(ls, key, p, outcome);
      if (permit != null) {
        return CompletableFuture.completedFuture(permit);
      }
    }
    if (isAdmitted(outcome)) {
      return CompletableFuture.completedFuture(permit(outcome, p));
    }
    if (outcome instanceof QueueRejectedException) {
      return CompletableFuture.failedFuture((QueueRejectedException) outcome);
    }
    Waiter<K> waiter = waiter(outcome);
    arm(waiter, timeout);
    return waiter;
  }

  /**
   * The one decision of every form: the fast path when nobody waits, else the locked one.
   *
   * @return when admitted, the key's {@link KeyState} (a queue keeping per-key counts) or
   *     {@link #ADMITTED} (one that does not), which the caller wraps in a permit; a
   *     {@link Waiter} when queued, a {@link QueueRejectedException} when refused under the lock,
   *     or null when refused by the fast path ({@code QUEUE_FULL}, only if {@code !mayWait})
   */
  private Object admit(K key, int priority, boolean mayWait) {
    int generation = configGeneration;
    if (!keyed) {
      // No per-key counts: one CAS on ctl admits, and a refusal is one read of it.
      int committed = commitGlobal();
      if (committed == COMMITTED) {
        return generation == configGeneration
            ? ADMITTED : readmit(key, priority, mayWait, null);
      }
      if (committed == FULL && !mayWait) {
        fastRejected.increment();
        return null;
      }
      return admitOrEnqueue(key, priority, mayWait, null);
    }
    long c = ctl;
    if (c >= 0) {
      if ((c & ACTIVE_MASK) >= maxConcurrent) {
        if (!mayWait) {
          // Every permit is held, nobody waits and the queue is neither bypassed nor closed, all
          // at the instant of that one read: the refusal is exact.
          fastRejected.increment();
          return null;
        }
      } else {
        KeyState<K> ks = keys.get(key);
        if (ks != null) {
          if (reserveKey(ks)) {
            if (commitGlobal() == COMMITTED) {
              return generation == configGeneration
                  ? ks : readmit(key, priority, mayWait, ks);
            }
            return admitOrEnqueue(key, priority, mayWait, ks);
          }
          if (!mayWait && ks.active >= 0 && ctl >= 0) {
            // The key is at its cap (not swept), and still nobody waits and no switch is on:
            // the lock would refuse it too.
            fastRejected.increment();
            return null;
          }
        }
      }
    }
    return admitOrEnqueue(key, priority, mayWait, null);
  }

  /** Raises the key's count if it is below the per-key cap (and the state is not swept). */
  private boolean reserveKey(KeyState<K> ks) {
    int a = ks.active;
    for (;;) {
      if (a < 0 || a >= maxPerKey) {
        return false;
      }
      int witness = (int) KeyState.ACTIVE.compareAndExchange(ks, a, a + 1);
      if (witness == a) {
        return true;
      }
      a = witness;
    }
  }

  /**
   * Raises the global count by a CAS that expects SLOW clear and the count below the cap.
   *
   * @return {@link #COMMITTED}; {@link #FULL} if one read of {@link #ctl} showed every permit
   *     held, nobody waiting and no switch on (so a refusal is exact at that instant); or
   *     {@link #LOCKED} if SLOW was set or the batch of uncounted admissions is full
   */
  private int commitGlobal() {
    long c = ctl;
    for (;;) {
      if (c < 0) {
        return LOCKED;
      }
      if ((c & ACTIVE_MASK) >= maxConcurrent) {
        return FULL;
      }
      long next = c + ADMIT;
      if (next < 0) {
        return LOCKED; // the batch of uncounted admissions is full; the slow path folds it in
      }
      long witness = (long) CTL.compareAndExchange(this, c, next);
      if (witness == c) {
        return COMMITTED;
      }
      c = witness;
    }
  }

  /**
   * A fast admission that raced {@link #reconfigure}: it may have checked the caps before the
   * change. Gives its global permit back (a permit nobody saw, so neither admitted nor counted
   * otherwise) and decides again under the lock with the new caps.
   *
   * @param reserved the key state whose count the attempt raised, or null
   * @return as {@link #admit}, never null
   */
  private Object readmit(K key, int priority, boolean mayWait, KeyState<K> reserved) {
    Waiter<K> granted;
    lock.lock();
    try {
      enterLocked(); // folds the attempt's admission into admitted
      ctl = ctl - 1; // SLOW is set: only the lock holder writes ctl
      admitted--;
      granted = queued > 0 ? dispatchLocked() : null;
    } finally {
      exitLocked();
      lock.unlock();
    }
    deliver(granted);
    return admitOrEnqueue(key, priority, mayWait, reserved);
  }

  /**
   * The locked decision.
   *
   * @param reserved a key state whose count the caller already raised (fast path that could not
   *     take a global permit), or null
   * @return as {@link #admit}, never null
   */
  Object admitOrEnqueue(K key, int priority, boolean mayWait, KeyState<K> reserved) {
    Object outcome;
    Waiter<K> granted = null;
    int inflight = 0;
    lock.lock();
    try {
      enterLocked();
      if (reserved != null) {
        if (!closed && (bypassed || (globalActiveLocked() < caps[priority]
            && reserved.active <= maxPerKey))) {
          commitLocked(reserved);
          return reserved;
        }
        // Give the reservation back; a waiter of this key may have been kept out of the turn
        // order by it, and may now take a free permit.
        KeyState.ACTIVE.getAndAdd(reserved, -1);
        syncTurnsLocked(reserved);
        granted = dispatchLocked();
      }
      outcome = decideLocked(key, priority, mayWait);
      inflight = globalActiveLocked();
    } finally {
      exitLocked();
      lock.unlock();
    }
    deliver(granted);
    if (algorithm != null && (outcome == ADMITTED || outcome instanceof KeyState)) {
      // Reservations come only from the fast path, which an adaptive queue never takes.
      return new TimedPermit<>(this, outcome == ADMITTED ? null : keyState(outcome), priority,
          clock.nanoTime(), inflight);
    }
    return outcome;
  }

  private Object decideLocked(K key, int priority, boolean mayWait) {
    if (closed) {
      return rejectLocked(Reason.SHUT_DOWN);
    }
    KeyState<K> ks = keys.get(key);
    if (!keyed && (bypassed || globalActiveLocked() < caps[priority])) {
      // Nobody waits while a permit is free: every waiter is eligible when there are no per-key
      // caps, and dispatch grants free permits to waiters under this lock.
      commitLocked(null);
      return ADMITTED;
    }
    if (bypassed) {
      if (ks == null) {
        ks = newKeyLocked(key);
      }
      KeyState.ACTIVE.getAndAdd(ks, 1);
      commitLocked(ks);
      return ks;
    }
    if (globalActiveLocked() < caps[priority]) {
      if (ks == null) {
        ks = newKeyLocked(key);
      }
      if (reserveKey(ks)) {
        commitLocked(ks);
        return ks;
      }
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
    syncTurnsLocked(ks);
    return waiter;
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

  /**
   * Starts a locked section: sets SLOW, so no fast-path CAS on {@link #ctl} succeeds until
   * {@link #exitLocked}, and folds the fast admissions into {@link #admitted}. From here on the
   * global count changes only under the lock, and every count read after this is at least as new
   * as any fast-path change that completed before it.
   */
  private void enterLocked() {
    long c = ctl;
    for (;;) {
      long witness = (long) CTL.compareAndExchange(this, c, (c & ACTIVE_MASK) | SLOW);
      if (witness == c) {
        break;
      }
      c = witness;
    }
    admitted += (c & ADMITTED_MASK) >>> ADMITTED_SHIFT;
  }

  /** Ends a locked section: reopens the fast path unless someone waits or a switch is on. */
  private void exitLocked() {
    long c = ctl;
    if (c < 0 && queued == 0 && !bypassed && !closed && algorithm == null) {
      ctl = c & ~SLOW; // SLOW is set, so no fast-path CAS can race this write
    }
  }

  private int globalActiveLocked() {
    return (int) (ctl & ACTIVE_MASK);
  }

  /** Counts a permit whose key count is already raised ({@code ks} null: a permit of no key). */
  private void commitLocked(KeyState<K> ks) {
    ctl = ctl + 1; // SLOW is set: only the lock holder writes ctl
    admitted++;
    if (ks != null) {
      syncTurnsLocked(ks);
    }
  }

  /**
   * Puts the key in the turn order of each class it has waiters in if it is below its cap, or
   * takes it out of all of them if not. A key already in a turn order keeps its place. Without
   * per-key counts a key's count stays 0, so a key with waiters is always in the turn order.
   */
  private void syncTurnsLocked(KeyState<K> ks) {
    if (ks.queued == 0) {
      return;
    }
    boolean eligible = ks.active < maxPerKey;
    for (int p = 0; p < priorities.length; p++) {
      ArrayDeque<Waiter<K>> deque = ks.waiters[p];
      if (!eligible) {
        turns.get(p).remove(ks);
      } else if (deque != null && !deque.isEmpty()) {
        turns.get(p).add(ks);
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
      keys.values().removeIf(this::sweepable);
      sweepAt = Math.max(MIN_SWEEP, 2 * keys.size());
    }
    KeyState<K> ks = new KeyState<>(key, this);
    keys.put(key, ks);
    return ks;
  }

  /** Marks an idle key state dead (so no fast path can raise it again); under the lock. */
  private boolean sweepable(KeyState<K> ks) {
    return ks.queued == 0 && KeyState.ACTIVE.compareAndSet(ks, 0, DEAD);
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
    boolean keyed = this.keyed;
    while (queued > 0 && globalActiveLocked() < caps[0]) {
      Waiter<K> next = null;
      // Caps do not rise as priority falls: the first class over its cap ends the search.
      for (int p = 0; p < priorities.length && next == null
          && globalActiveLocked() < caps[p]; p++) {
        LinkedHashSet<KeyState<K>> turn = turns.get(p);
        while (!turn.isEmpty()) {
          KeyState<K> ks = turn.iterator().next();
          if (keyed && !reserveKey(ks)) {
            // At its cap after all (a fast attempt's reservation): out of every turn order until
            // that reservation is given back under the lock, which files the key again.
            for (LinkedHashSet<KeyState<K>> t : turns) {
              t.remove(ks);
            }
            continue;
          }
          turn.remove(ks);
          ArrayDeque<Waiter<K>> deque = ks.waiters[p];
          next = deque.pollFirst();
          ks.queued--;
          queued--;
          queuedByPriority[p]--;
          if (!deque.isEmpty()) {
            turn.add(ks); // back to the end of the turn order
          }
          break;
        }
      }
      if (next == null) {
        break; // every waiter's key is at its cap
      }
      next.state = GRANTED;
      next.counted = keyed;
      commitLocked(keyed ? next.ks : null);
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
   * Gives back one global permit of {@code ks}, whose key count the caller already lowered, and
   * grants what that frees.
   *
   * @param ks the permit's key state, or null for a permit of a queue without per-key counts
   *
   * @param undelivered whether the permit never reached its caller (counted cancelled, not
   *     admitted)
   * @return granted waiters to deliver outside the lock, or null
   */
  private Waiter<K> releaseLocked(KeyState<K> ks, boolean undelivered) {
    ctl = ctl - 1; // SLOW is set: only the lock holder writes ctl
    if (undelivered) {
      admitted--;
      cancelled++;
    }
    if (ks != null) {
      // Below its cap again: the key rejoins the end of the turn order.
      syncTurnsLocked(ks);
    }
    return queued > 0 ? dispatchLocked() : null;
  }

  // ---------------------------------------------------------------- outside the lock

  /**
   * Gives back a permit whose release its caller has claimed ({@link QueuePermit#markReleased}).
   *
   * @param ks the permit's key state, or null for a permit of a queue without per-key counts
   * @param undelivered whether the permit never reached its caller
   */
  void release(KeyState<K> ks, boolean undelivered) {
    if (!undelivered && releaseGlobalFast()) {
      if (ks != null) {
        releaseKeyAfterFastRelease(ks);
      }
      return;
    }
    releaseSlow(ks, undelivered);
  }

  /** The locked release: lowers the key count (if any), then the global one under the lock. */
  private void releaseSlow(KeyState<K> ks, boolean undelivered) {
    if (ks != null) {
      KeyState.ACTIVE.getAndAdd(ks, -1);
    }
    Waiter<K> granted;
    lock.lock();
    try {
      enterLocked();
      granted = releaseLocked(ks, undelivered);
    } finally {
      exitLocked();
      lock.unlock();
    }
    deliver(granted);
  }

  /**
   * The first step of a fast release: gives the global permit back by a CAS that expects SLOW
   * clear (nobody waits).
   *
   * @return false if SLOW was set: the release must finish under the lock
   */
  boolean releaseGlobalFast() {
    long c = ctl;
    while (c >= 0) {
      long witness = (long) CTL.compareAndExchange(this, c, c - 1);
      if (witness == c) {
        return true;
      }
      c = witness;
    }
    return false;
  }

  /**
   * The second step of a fast release: gives the key's permit back. An enqueuer that read the key
   * count before this decrement had set SLOW before that read, so the check after it sees SLOW
   * and re-files the key in the turn order under the lock, for its waiter.
   */
  void releaseKeyAfterFastRelease(KeyState<K> ks) {
    KeyState.ACTIVE.getAndAdd(ks, -1);
    if (ctl < 0) {
      keyReleasedLate(ks);
    }
  }

  /** A fast release lowered the key count after SLOW was set: a waiter of the key may need it. */
  private void keyReleasedLate(KeyState<K> ks) {
    Waiter<K> granted;
    lock.lock();
    try {
      enterLocked();
      syncTurnsLocked(ks);
      granted = queued > 0 ? dispatchLocked() : null;
    } finally {
      exitLocked();
      lock.unlock();
    }
    deliver(granted);
  }

  /**
   * The release of an adaptive queue's permit: feeds its hold time to the algorithm and gives the
   * permit back, in one locked section, so what it frees is granted under the new limit.
   */
  void releaseTimed(KeyState<K> ks, long startNanos, int inflight) {
    long now = clock.nanoTime();
    if (ks != null) {
      KeyState.ACTIVE.getAndAdd(ks, -1);
    }
    Waiter<K> granted;
    int from;
    int to;
    lock.lock();
    try {
      enterLocked();
      from = limit;
      setLimitLocked(Math.min(maxConcurrent,
          Math.max(1, algorithm.onSample(startNanos, now - startNanos, inflight, now))));
      to = limit;
      granted = releaseLocked(ks, false);
    } finally {
      exitLocked();
      lock.unlock();
    }
    deliver(granted);
    if (from != to && listener != null) {
      listener.onLimitChange(name, from, to);
    }
  }

  /** Sets the global cap and each class's share of it. */
  private void setLimitLocked(int newLimit) {
    limit = newLimit;
    for (int p = 0; p < caps.length; p++) {
      caps[p] = Math.max(1, (int) (newLimit * shares[p]));
    }
  }

  /** Completes granted waiters; a permit that cannot be delivered is released again, in a loop. */
  private void deliver(Waiter<K> granted) {
    while (granted != null) {
      Waiter<K> waiter = granted;
      granted = waiter.nextGrant;
      waiter.nextGrant = null;
      cancelDeadline(waiter);
      KeyState<K> ks = waiter.counted ? waiter.ks : null;
      QueuePermit<K> permit;
      if (algorithm != null) {
        permit = new TimedPermit<>(this, ks, waiter.priority, clock.nanoTime(),
            (int) (ctl & ACTIVE_MASK));
      } else if (ks != null) {
        permit = new KeyedPermit<>(waiter.ks, waiter.priority);
      } else {
        permit = new SharedPermit<>(this, waiter.priority);
      }
      Object[] ls = listeners.array();
      long now = ls.length == 0 ? 0 : clock.nanoTime();
      Permit delivered = ls.length == 0
          ? permit : new ObservedPermit<>(permit, waiter.ks.key, now);
      if (waiter.deliver(delivered)) {
        if (ls.length != 0) {
          report(ls, EVENT_ADMITTED, waiter.ks.key, waiter.priority, null,
              now - waiter.enqueuedAt);
        }
      } else {
        // The future was completed first by its caller (cancel, orTimeout, ...): the permit
        // goes to the next waiter instead of being lost (failsafe-lib/failsafe#393).
        if (ls.length != 0) {
          report(ls, EVENT_CANCELLED, waiter.ks.key, waiter.priority, null,
              now - waiter.enqueuedAt);
        }
        permit.markReleased();
        if (ks != null) {
          KeyState.ACTIVE.getAndAdd(ks, -1);
        }
        Waiter<K> more;
        lock.lock();
        try {
          enterLocked();
          more = releaseLocked(ks, true);
        } finally {
          exitLocked();
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
      enterLocked();
      if (waiter.state != WAITING) {
        return; // granted (delivery will fail and pass the permit on) or already removed
      }
      removeLocked(waiter);
      cancelled++;
    } finally {
      exitLocked();
      lock.unlock();
    }
    cancelDeadline(waiter);
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      report(ls, EVENT_CANCELLED, waiter.ks.key, waiter.priority, null,
          clock.nanoTime() - waiter.enqueuedAt);
    }
  }

  /** The waiter's deadline passed. */
  void expire(Waiter<K> waiter) {
    long now = clock.nanoTime();
    int queuedNow;
    lock.lock();
    try {
      enterLocked();
      if (waiter.state != WAITING) {
        return;
      }
      queuedNow = queued;
      removeLocked(waiter);
    } finally {
      exitLocked();
      lock.unlock();
    }
    long waited = Math.max(0, now - waiter.enqueuedAt);
    fail(List.of(waiter), new long[] {waited}, Reason.TIMED_OUT, queuedNow);
  }

  /** Completes removed waiters exceptionally, then counts each as rejected or, if its caller
   * completed it first, as cancelled. */
  private void fail(List<Waiter<K>> waiters, long[] waited, Reason reason, int queuedNow) {
    int failed = 0;
    Object[] ls = listeners.array();
    boolean[] wasFailed = ls.length == 0 ? null : new boolean[waiters.size()];
    for (int i = 0; i < waiters.size(); i++) {
      Waiter<K> waiter = waiters.get(i);
      cancelDeadline(waiter);
      if (waiter.fail(
          new QueueRejectedException(reason, name, queuedNow, waited[i], retryAfterNanos))) {
        failed++;
        if (wasFailed != null) {
          wasFailed[i] = true;
        }
      }
    }
    lock.lock();
    try {
      rejected[reason.ordinal()] += failed;
      cancelled += waiters.size() - failed;
    } finally {
      lock.unlock();
    }
    if (wasFailed != null) {
      for (int i = 0; i < waiters.size(); i++) {
        Waiter<K> w = waiters.get(i);
        int event = !wasFailed[i] ? EVENT_CANCELLED
            : reason == Reason.TIMED_OUT ? EVENT_TIMED_OUT : EVENT_REJECTED;
        report(ls, event, w.ks.key, w.priority, reason, waited[i]);
      }
    }
  }

  // ---------------------------------------------------------------- listeners

  private static final int EVENT_QUEUED = 0;
  private static final int EVENT_ADMITTED = 1;
  private static final int EVENT_REJECTED = 2;
  private static final int EVENT_TIMED_OUT = 3;
  private static final int EVENT_CANCELLED = 4;
  private static final int EVENT_RELEASED = 5;
  private static final String[] EVENT_NAMES = {
      "onQueued", "onAdmitted", "onRejected", "onTimedOut", "onCancelled", "onReleased"};

  @Override
  public void addListener(QueueListener<? super K> listener) {
    listeners.add(listener);
  }

  /**
   * Reports the immediate outcome of an attempt (admitted, refused, or queued) and, when
   * admitted, returns its permit wrapped to report its release; else null.
   */
  private Permit reportAtOnce(Object[] ls, K key, int p, Object outcome) {
    if (isAdmitted(outcome)) {
      QueuePermit<K> permit = permit(outcome, p);
      long now = clock.nanoTime();
      report(ls, EVENT_ADMITTED, key, p, null, 0);
      return new ObservedPermit<>(permit, key, now);
    }
    if (outcome == null) {
      report(ls, EVENT_REJECTED, key, p, Reason.QUEUE_FULL, 0);
    } else if (outcome instanceof QueueRejectedException) {
      report(ls, EVENT_REJECTED, key, p, ((QueueRejectedException) outcome).reason(), 0);
    } else {
      report(ls, EVENT_QUEUED, key, p, null, 0);
    }
    return null;
  }

  /** Calls one event on each listener, outside the lock; a throwing listener is only logged. */
  @SuppressWarnings("unchecked")
  private void report(Object[] ls, int event, K key, int p, Reason reason, long nanos) {
    String priority = priorities[p];
    Duration d = event == EVENT_QUEUED || event == EVENT_REJECTED
        ? null : Duration.ofNanos(Math.max(0, nanos));
    for (Object o : ls) {
      QueueListener<? super K> l = (QueueListener<? super K>) o;
      try {
        switch (event) {
          case EVENT_QUEUED -> l.onQueued(key, priority);
          case EVENT_ADMITTED -> l.onAdmitted(key, priority, d);
          case EVENT_REJECTED -> l.onRejected(key, priority, reason);
          case EVENT_TIMED_OUT -> l.onTimedOut(key, priority, d);
          case EVENT_CANCELLED -> l.onCancelled(key, priority, d);
          default -> l.onReleased(key, priority, d);
        }
      } catch (RuntimeException e) {
        listeners.failed(o, EVENT_NAMES[event], e);
      }
    }
  }

  /** A permit handed out while listeners were registered closed: reports its hold time. */
  void released(K key, int priority, long admittedAt) {
    Object[] ls = listeners.array();
    if (ls.length != 0) {
      report(ls, EVENT_RELEASED, key, priority, null, clock.nanoTime() - admittedAt);
    }
  }

  private static void cancelDeadline(Waiter<?> waiter) {
    Future<?> deadline = waiter.deadline;
    if (deadline != null) {
      deadline.cancel(false);
    }
  }

  // ---------------------------------------------------------------- runtime control

  /**
   * {@inheritDoc}
   *
   * <p>Taken under the lock. Fast-path attempts and releases in flight at that instant may have
   * changed a key's count but not yet the global one (they finish under the lock); the snapshot
   * is retried a few times until the per-key counts add up to the global count.
   */
  @Override
  public Stats<K> stats() {
    if (!keyed) {
      return snapshot(); // no per-key counts to reconcile with the global one
    }
    Stats<K> stats = null;
    for (int attempt = 0; attempt < 100; attempt++) {
      stats = snapshot();
      int sum = 0;
      for (int n : stats.activeByKey().values()) {
        sum += n;
      }
      if (sum == stats.active()) {
        break;
      }
      Thread.yield(); // let those in flight take the lock and finish
    }
    return stats;
  }

  private Stats<K> snapshot() {
    lock.lock();
    try {
      enterLocked();
      Map<K, Integer> activeByKey = new HashMap<>();
      long oldest = Long.MAX_VALUE;
      boolean anyWaiter = false;
      for (KeyState<K> ks : keys.values()) {
        int a = ks.active; // always 0 without per-key counts
        if (a > 0) {
          activeByKey.put(ks.key, a);
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
      byReason.merge(Reason.QUEUE_FULL, fastRejected.sum(), Long::sum);
      Duration longestWait =
          anyWaiter ? Duration.ofNanos(Math.max(0, clock.nanoTime() - oldest)) : Duration.ZERO;
      return new Stats<>(globalActiveLocked(), activeByKey, queued, byPriority, admitted, byReason,
          cancelled, longestWait, bypassed, closed, limit);
    } finally {
      exitLocked();
      lock.unlock();
    }
  }

  @Override
  public void bypass(boolean bypass) {
    Waiter<K> granted = null;
    lock.lock();
    try {
      enterLocked();
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
              w.counted = keyed;
              if (keyed) {
                KeyState.ACTIVE.getAndAdd(ks, 1);
                commitLocked(ks);
              } else {
                commitLocked(null);
              }
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
      exitLocked();
      lock.unlock();
    }
    deliver(granted);
  }

  @Override
  public boolean isBypassed() {
    return bypassed;
  }

  /**
   * {@inheritDoc}
   *
   * <p>For an adaptive queue {@code maxConcurrent} is the adaptive limit's ceiling.
   */
  @Override
  public Settings settings() {
    lock.lock();
    try {
      return settingsLocked();
    } finally {
      lock.unlock();
    }
  }

  private Settings settingsLocked() {
    return new Settings(maxConcurrent, maxPerKey, maxQueued, Duration.ofNanos(timeoutNanos));
  }

  /**
   * {@inheritDoc}
   *
   * <p>Under the lock: the caps change, then the waiters the new caps allow are granted in the
   * usual order before the lock is released. The change also bumps {@link #configGeneration}: a
   * fast-path admission that read the caps before the change and took its permit after it sees
   * the bump, gives the permit back and decides again under the lock ({@link #readmit}), so
   * nothing is admitted past a new cap once this method has returned.
   */
  @Override
  public Settings reconfigure(Settings settings) {
    Objects.requireNonNull(settings, "settings");
    if (algorithm != null && settings.maxConcurrent() != maxConcurrent) {
      throw new IllegalStateException("maxConcurrent of queue '" + name + "' is owned by its "
          + "adaptive limit (ceiling " + maxConcurrent + ") and cannot be set to "
          + settings.maxConcurrent());
    }
    Settings old;
    Waiter<K> granted;
    lock.lock();
    try {
      enterLocked();
      configGeneration++;
      old = settingsLocked();
      if (algorithm == null) {
        maxConcurrent = settings.maxConcurrent();
        limit = maxConcurrent;
        Arrays.fill(caps, maxConcurrent);
      }
      maxPerKey = settings.maxConcurrentPerKey();
      keyed = maxPerKey < maxConcurrent;
      maxQueued = settings.maxQueued();
      maxQueuedPerKey = maxQueuedPerKeyBuilt < 0 ? maxQueued
          : Math.min(maxQueuedPerKeyBuilt, maxQueued);
      timeoutNanos = settings.timeout().toNanos();
      // Re-file every key with waiters under its new cap: a key now at or over it leaves the turn
      // order, a key now below it joins the end, oldest waiter first; the others keep their place.
      List<KeyState<K>> waiting = new ArrayList<>();
      for (KeyState<K> ks : keys.values()) {
        if (ks.queued > 0) {
          waiting.add(ks);
        }
      }
      waiting.sort((a, b) -> Long.signum(oldestWait(a) - oldestWait(b)));
      for (KeyState<K> ks : waiting) {
        syncTurnsLocked(ks);
      }
      granted = queued > 0 && !closed ? dispatchLocked() : null;
    } finally {
      exitLocked();
      lock.unlock();
    }
    deliver(granted);
    LOG.info("queue '{}' reconfigured: {} -> {}", name, old, settings);
    return old;
  }

  /** When the key's oldest waiter (of any class) was queued; the key has waiters. */
  private static long oldestWait(KeyState<?> ks) {
    long oldest = 0;
    boolean any = false;
    for (ArrayDeque<? extends Waiter<?>> deque : ks.waiters) {
      Waiter<?> first = deque == null ? null : deque.peekFirst();
      if (first != null && (!any || first.enqueuedAt - oldest < 0)) {
        oldest = first.enqueuedAt;
        any = true;
      }
    }
    return oldest;
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
      enterLocked();
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
        if (sweepable(ks)) {
          it.remove();
        }
      }
      queued = 0;
      Arrays.fill(queuedByPriority, 0);
      for (LinkedHashSet<KeyState<K>> turn : turns) {
        turn.clear();
      }
    } finally {
      exitLocked();
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
    return limit;
  }

  @Override
  public boolean isAdaptive() {
    return algorithm != null;
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
    return "RequestQueue[" + name + ": " + (algorithm == null ? maxConcurrent + " concurrent"
        : "adaptive limit " + limit + " of at most " + maxConcurrent) + ", " + maxPerKey
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

  private static boolean isAdmitted(Object outcome) {
    return outcome == ADMITTED || outcome instanceof KeyState || outcome instanceof TimedPermit;
  }

  /** Wraps an admission outcome of {@link #admit} in a permit. */
  private QueuePermit<K> permit(Object outcome, int priority) {
    if (outcome == ADMITTED) {
      return new SharedPermit<>(this, priority);
    }
    if (outcome instanceof KeyState) {
      return new KeyedPermit<>(keyState(outcome), priority);
    }
    return timedPermit(outcome); // only an adaptive queue's outcomes get here
  }

  @SuppressWarnings("unchecked")
  private TimedPermit<K> timedPermit(Object outcome) {
    return (TimedPermit<K>) outcome;
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

  /**
   * Per-key counts and waiters. {@code active} changes only by atomic operations (the fast path
   * raises it by a CAS below the cap); the rest is guarded by the queue's lock.
   */
  static final class KeyState<K> {
    static final VarHandle ACTIVE;

    static {
      try {
        ACTIVE = MethodHandles.lookup().findVarHandle(KeyState.class, "active", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final K key;
    /** Permits held for this key, or {@link #DEAD} once swept. */
    volatile int active;
    int queued;
    /** Per priority, oldest first; created on the first wait of the key. */
    ArrayDeque<Waiter<K>>[] waiters;
    /** The owner, so a permit needs no field for it. */
    final DefaultRequestQueue<K> queue;

    KeyState(K key, DefaultRequestQueue<K> queue) {
      this.key = key;
      this.queue = queue;
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
    /** Whether its grant raised its key's count; set under the lock with {@code GRANTED}. */
    boolean counted;
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
   * A held permit, released at most once: whoever wins the CAS of {@code released} gives it back.
   * The permit is the only record of its own release, so it is one object per admission; it holds
   * no reference the caller's code could reach, and its close is small enough to inline, so a
   * permit that does not leave its caller's compiled method can be scalar-replaced by the JIT.
   */
  abstract static sealed class QueuePermit<K> implements Permit
      permits KeyedPermit, SharedPermit, TimedPermit {
    private static final VarHandle RELEASED;

    static {
      try {
        RELEASED = MethodHandles.lookup().findVarHandle(QueuePermit.class, "released", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final int priority;
    /** 1 once released; set only through {@link #RELEASED}. */
    private volatile int released;

    QueuePermit(int priority) {
      this.priority = priority;
    }

    /** Claims the release; true for exactly one caller. */
    final boolean markReleased() {
      return RELEASED.compareAndSet(this, 0, 1);
    }

    abstract DefaultRequestQueue<K> queue();

    /** The key state whose count this permit holds, or null in a queue without per-key counts. */
    abstract KeyState<K> keyState();

    @Override
    public final String priority() {
      return queue().priorities[priority];
    }

    @Override
    public void close() {
      if (markReleased()) {
        queue().release(keyState(), false);
      }
    }

    /** Releases a permit its caller will never see (interrupted at the instant of the grant). */
    final void releaseAsCancelled() {
      if (markReleased()) {
        queue().release(keyState(), true);
      }
    }

    @Override
    public final String toString() {
      return "Permit[" + queue().name + ", " + priority() + "]";
    }
  }

  /** A permit of a queue that keeps per-key counts: it holds one of its key's. */
  static final class KeyedPermit<K> extends QueuePermit<K> {
    final KeyState<K> ks;

    KeyedPermit(KeyState<K> ks, int priority) {
      super(priority);
      this.ks = ks;
    }

    @Override
    DefaultRequestQueue<K> queue() {
      return ks.queue;
    }

    @Override
    KeyState<K> keyState() {
      return ks;
    }
  }

  /**
   * A permit of a queue with an adaptive limit: it records its admission, and its close feeds the
   * hold time to the limit. A permit never delivered gives no sample ({@link #releaseAsCancelled}).
   */
  static final class TimedPermit<K> extends QueuePermit<K> {
    final DefaultRequestQueue<K> queue;
    /** The permit's key state, or null in a queue without per-key counts. */
    final KeyState<K> ks;
    final long startNanos;
    final int inflight;

    TimedPermit(DefaultRequestQueue<K> queue, KeyState<K> ks, int priority, long startNanos,
        int inflight) {
      super(priority);
      this.queue = queue;
      this.ks = ks;
      this.startNanos = startNanos;
      this.inflight = inflight;
    }

    @Override
    DefaultRequestQueue<K> queue() {
      return queue;
    }

    @Override
    KeyState<K> keyState() {
      return ks;
    }

    @Override
    public void close() {
      if (markReleased()) {
        queue.releaseTimed(ks, startNanos, inflight);
      }
    }
  }

  /**
   * A permit handed out while the queue had listeners: it knows its key and admission time, so
   * its first close reports {@link QueueListener#onReleased}. Only this path allocates it.
   */
  static final class ObservedPermit<K> implements Permit {
    private final QueuePermit<K> permit;
    private final K key;
    private final long admittedAt;
    private final AtomicBoolean closed = new AtomicBoolean();

    ObservedPermit(QueuePermit<K> permit, K key, long admittedAt) {
      this.permit = permit;
      this.key = key;
      this.admittedAt = admittedAt;
    }

    @Override
    public String priority() {
      return permit.priority();
    }

    @Override
    public void close() {
      if (closed.compareAndSet(false, true)) {
        // Reported first, so a listener sees this release before the admission it may cause.
        permit.queue().released(key, permit.priority, admittedAt);
        permit.close();
      }
    }

    /** As {@link QueuePermit#releaseAsCancelled}; still reported as released. */
    void releaseAsCancelled() {
      if (closed.compareAndSet(false, true)) {
        permit.queue().released(key, permit.priority, admittedAt);
        permit.releaseAsCancelled();
      }
    }

    @Override
    public String toString() {
      return permit.toString();
    }
  }

  /** A permit of a queue without per-key caps: it holds a global permit only. */
  static final class SharedPermit<K> extends QueuePermit<K> {
    final DefaultRequestQueue<K> queue;

    SharedPermit(DefaultRequestQueue<K> queue, int priority) {
      super(priority);
      this.queue = queue;
    }

    @Override
    DefaultRequestQueue<K> queue() {
      return queue;
    }

    @Override
    KeyState<K> keyState() {
      return null;
    }
  }
}
