package dev.sluice.internal;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.sluice.NanoClock;
import dev.sluice.RateLimitDecision;
import dev.sluice.RateLimitStore;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The default {@link RateLimitStore}: one {@link AtomicLong} TAT per key in a bounded Caffeine
 * cache, updated by compare-and-set so a decision takes no lock.
 *
 * <p>An entry expires once it has not been touched for the tolerance (its bucket is then full, so
 * nothing is lost). An entry evicted for space while still owing time is first <em>retired</em>
 * (its cell set to {@link #RETIRED}, so a racing CAS on it fails and retries on a fresh cell) and
 * then written to {@link #ghosts}, a fixed table of (key, TAT) slots indexed by hash. A slot keeps
 * whichever of its occupant and the newcomer owes more time, so the keys remembered are the ones
 * that pushed hardest. A missing key whose ghost is found resumes from its TAT; one whose ghost
 * was displaced starts with a full bucket, never more. Ghosts match by {@code equals}, so one key
 * never inherits another's debt.
 *
 * <p>Recently used cells are also kept in a small direct-mapped front table, which a decision
 * reads before Caffeine; a hit touches Caffeine only now and then, so busy keys stay fresh there.
 *
 * <p>Thread-safe.
 *
 * @param <K> the key type
 */
public final class InMemoryRateLimitStore<K> implements RateLimitStore<K> {
  /** Marks a cell whose entry was evicted; never a real TAT in practice. */
  static final long RETIRED = Long.MIN_VALUE;

  private final NanoClock clock;
  /**
   * The last clock reading of a decision, published at most once per {@link #TICK_NANOS}.
   * Caffeine reads it as its ticker for idle expiry, so a decision reads the real clock once, not
   * twice. A reading up to a tick old (or older, when no decision ran) only makes expiry a little
   * early or late, and an entry that expires while it still owes time goes to the ghosts like any
   * eviction, so nothing is granted twice.
   */
  private volatile long coarseNow;
  private static final long TICK_NANOS = 1_000_000;
  private static final int FRONT_SLOTS = 4096;
  private final Cache<K, Cell<K>> cells;
  /**
   * A direct-mapped table of recently used cells in front of Caffeine: a hit costs a hash, one
   * array read and an {@code equals}. Slots hold the very cells Caffeine holds (a retired cell is
   * dropped from its slot when seen), so the table adds no state of its own and never allocates.
   */
  private final AtomicReferenceArray<Cell<K>> front;
  private final int frontMask;
  /** How often a front-table hit also touches Caffeine, so a busy key never looks idle to it. */
  private final long touchNanos;
  private final AtomicReferenceArray<Ghost<K>> ghosts;
  private final int ghostMask;

  /**
   * Creates a store.
   *
   * @param clock the time source
   * @param maxKeys the most keys held at once
   * @param idleExpiryNanos how long after its last use an entry is certainly full again
   */
  public InMemoryRateLimitStore(NanoClock clock, long maxKeys, long idleExpiryNanos) {
    this.clock = clock;
    this.coarseNow = clock.nanoTime();
    int slots = Integer.highestOneBit((int) Math.max(64, Math.min(1L << 30, maxKeys)) - 1) << 1;
    this.ghosts = new AtomicReferenceArray<>(slots);
    this.ghostMask = slots - 1;
    this.cells = Caffeine.newBuilder()
        .maximumSize(maxKeys)
        .expireAfterAccess(Duration.ofNanos(idleExpiryNanos))
        .ticker(() -> coarseNow)
        // Maintenance on the calling threads keeps the bound exact and needs no pool.
        .executor(Runnable::run)
        .evictionListener((K key, Cell<K> cell, RemovalCause cause) -> retire(key, cell))
        .build();
    int frontSlots = (int) Math.min(FRONT_SLOTS, Long.highestOneBit(Math.max(1, maxKeys - 1)) << 1);
    this.front = new AtomicReferenceArray<>(frontSlots);
    this.frontMask = frontSlots - 1;
    this.touchNanos = Math.max(1, Math.min(idleExpiryNanos / 4, 1_000_000_000L));
  }

  @Override
  public Outcome acquire(K key, long incrementNanos, long toleranceNanos) {
    long now = tick();
    long tat = step(key, now, incrementNanos, toleranceNanos);
    return allowed(tat, now, incrementNanos, toleranceNanos)
        ? new Outcome(true, tat + incrementNanos, now) : new Outcome(false, tat, now);
  }

  /** Same step as {@link #acquire}, building the decision without an intermediate object. */
  RateLimitDecision acquire(K key, long increment, long tolerance, GcraRateLimiter<K> limiter,
      GcraRateLimiter.Policy policy) {
    long now = tick();
    long tat = step(key, now, increment, tolerance);
    boolean allowed = allowed(tat, now, increment, tolerance);
    return limiter.decision(allowed, allowed ? tat + increment : tat, now, increment, tolerance,
        policy);
  }

  /**
   * Changes how long an idle entry is kept (after a reconfiguration changed the tolerance). An
   * entry that expires while it still owes time goes to the ghosts like any eviction.
   *
   * @param idleExpiryNanos how long after its last use an entry is certainly full again
   */
  void idleExpiry(long idleExpiryNanos) {
    cells.policy().expireAfterAccess()
        .ifPresent(e -> e.setExpiresAfter(Duration.ofNanos(idleExpiryNanos)));
  }

  /** Same step as {@link #acquire}, answering only whether it was allowed. */
  boolean tryAcquire(K key, long increment, long tolerance) {
    long now = tick();
    return allowed(step(key, now, increment, tolerance), now, increment, tolerance);
  }

  /**
   * The GCRA step of the {@link RateLimitStore} contract, atomically on the key's cell. Returns
   * the TAT the step was decided on ({@code max(stored, now)}): the call was allowed exactly when
   * {@link #allowed} says so, and then the cell now holds {@code tat + increment}. Returning one
   * long keeps every form of the decision free of allocation.
   */
  private long step(K key, long now, long increment, long tolerance) {
    while (true) {
      Cell<K> cell = cell(key, now, tolerance);
      long stored = cell.get();
      if (stored == RETIRED) {
        unfront(cell);
        Thread.onSpinWait();
        continue;
      }
      long tat = stored - now > 0 ? stored : now;
      if (!allowed(tat, now, increment, tolerance)
          || cell.compareAndSet(stored, tat + increment)) {
        return tat;
      }
      Thread.onSpinWait(); // lost a race on a hot key: back off a moment before retrying
    }
  }

  private static boolean allowed(long tat, long now, long increment, long tolerance) {
    return tat + increment - now <= tolerance;
  }

  /** Reads the clock once for a decision and, at most once per tick, publishes it to Caffeine. */
  private long tick() {
    long now = clock.nanoTime();
    if (now - coarseNow > TICK_NANOS) {
      coarseNow = now;
    }
    return now;
  }

  private Cell<K> cell(K key, long now, long tolerance) {
    int slot = spread(key.hashCode()) & frontMask;
    Cell<K> cell = front.get(slot);
    if (cell != null && cell.key.equals(key)) {
      if (now - cell.touched > touchNanos) {
        cell.touched = now;
        cells.getIfPresent(key); // keeps Caffeine's idle clock and frequency for this key fresh
      }
      return cell;
    }
    cell = cells.getIfPresent(key);
    if (cell == null) {
      // Only a new key pays for this capturing lambda; it already pays for a cell and a node.
      cell = cells.get(key, k -> newCell(k, now, tolerance));
    }
    front.lazySet(slot, cell); // a release store: a reader that misses it only goes to Caffeine
    return cell;
  }

  private void unfront(Cell<K> cell) {
    int slot = spread(cell.key.hashCode()) & frontMask;
    front.compareAndSet(slot, cell, null);
  }

  /**
   * A cell for a key that has none, on the decision's own time. Reading the clock again here
   * would start the cell a little after the decision's {@code now}, so a new key would seem to owe
   * that difference and a first call costing the whole burst would be refused. A full bucket is
   * stored as {@code now - tolerance} rather than {@code now}: any TAT not after a decision's time
   * means a full bucket, and this one stays full for a racing decision that read the clock just
   * before this one.
   */
  private Cell<K> newCell(K key, long now, long tolerance) {
    long full = now - tolerance == RETIRED ? RETIRED + 1 : now - tolerance;
    int slot = spread(key.hashCode()) & ghostMask;
    Ghost<K> ghost = ghosts.get(slot);
    if (ghost != null && ghost.key.equals(key) && ghosts.compareAndSet(slot, ghost, null)) {
      return new Cell<>(key, ghost.tat - full > 0 ? ghost.tat : full, now);
    }
    return new Cell<>(key, full, now);
  }

  private void retire(K key, Cell<K> cell) {
    if (cell == null) {
      return;
    }
    long tat = cell.getAndSet(RETIRED);
    // Eviction runs inside a decision (or size()): the published reading is at most a tick old
    // and never later than the real time, so a debt is never forgotten early, and the decision
    // does not pay for a second clock read.
    long now = coarseNow;
    if (tat == RETIRED || tat - now <= 0) {
      return; // full bucket: nothing to remember
    }
    int slot = spread(key.hashCode()) & ghostMask;
    Ghost<K> ghost = new Ghost<>(key, tat);
    while (true) {
      Ghost<K> current = ghosts.get(slot);
      if (current != null && current.tat - tat > 0 && !current.key.equals(key)) {
        return; // the occupant owes more: keep it
      }
      if (ghosts.compareAndSet(slot, current, ghost)) {
        return;
      }
    }
  }

  /** A key's TAT, and the key itself so the front table can check what a slot holds. */
  static final class Cell<K> extends AtomicLong {
    private static final long serialVersionUID = 1L;
    final transient K key;
    /** When a front-table hit last touched Caffeine for this key. */
    transient volatile long touched;

    Cell(K key, long tat, long now) {
      super(tat);
      this.key = key;
      this.touched = now;
    }
  }

  /** An evicted key that still owed time. */
  private record Ghost<K>(K key, long tat) {}

  private static int spread(int h) {
    h ^= h >>> 16;
    h *= 0x45d9f3b;
    return h ^ (h >>> 16);
  }

  /**
   * Keys currently held, after pending maintenance.
   *
   * @return the number of entries
   */
  public long size() {
    coarseNow = clock.nanoTime();
    cells.cleanUp();
    return cells.estimatedSize();
  }
}
