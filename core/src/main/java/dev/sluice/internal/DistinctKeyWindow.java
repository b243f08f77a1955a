package dev.sluice.internal;

import java.util.Arrays;

/**
 * Requests, refusals and the distinct keys behind them over a sliding time window, in a fixed
 * ring of buckets. Each bucket holds two counts and two key sketches (keys seen, keys refused);
 * memory is fixed at creation however many requests or distinct keys arrive, and no key object is
 * ever kept.
 *
 * <p>A sketch remembers up to {@value #EXACT_LIMIT} distinct key hash codes exactly and, always,
 * a HyperLogLog of {@value #REGISTERS} one-byte registers. While no bucket in the window has
 * overflowed its exact set, counts are exact (the union of the sets); after that they are the
 * HyperLogLog estimate of the merged registers (each register's maximum), with linear counting
 * for small cardinalities and a standard error of about 3 %.
 *
 * <p>A key is known only by its {@code hashCode}: keys with equal hash codes count as one.
 *
 * <p>Not thread-safe: callers hold a lock.
 */
public final class DistinctKeyWindow {
  /** Bits of the hash that choose a register. */
  static final int PRECISION = 10;
  /** Registers per sketch. */
  public static final int REGISTERS = 1 << PRECISION;
  /** Distinct hash codes a sketch keeps exactly (three quarters of its table). */
  public static final int EXACT_LIMIT = 192;
  private static final int EXACT_SLOTS = 256;
  /** The HyperLogLog bias constant for {@link #REGISTERS} registers (Flajolet et al., 2007). */
  private static final double ALPHA = 0.7213 / (1 + 1.079 / REGISTERS);

  private final long origin;
  private final long bucketNanos;
  private final long[] epochs;
  private final long[] requests;
  private final long[] rejected;
  private final Sketch[] keys;
  private final Sketch[] rejectedKeys;

  /**
   * Totals over the window.
   *
   * @param requests requests counted
   * @param rejected requests refused
   * @param keys distinct keys that made a request
   * @param rejectedKeys distinct keys refused at least once, never above {@code keys}
   */
  public record Totals(long requests, long rejected, long keys, long rejectedKeys) {}

  /**
   * Creates an empty window.
   *
   * @param windowNanos the window length, &gt; 0
   * @param buckets the number of buckets, &gt;= 1; the window moves in steps of
   *     {@code windowNanos / buckets}
   * @param now the current time, used as the origin
   */
  public DistinctKeyWindow(long windowNanos, int buckets, long now) {
    this.origin = now;
    this.bucketNanos = Math.max(1, windowNanos / buckets);
    this.epochs = new long[buckets];
    this.requests = new long[buckets];
    this.rejected = new long[buckets];
    this.keys = new Sketch[buckets];
    this.rejectedKeys = new Sketch[buckets];
    for (int i = 0; i < buckets; i++) {
      keys[i] = new Sketch();
      rejectedKeys[i] = new Sketch();
    }
    Arrays.fill(epochs, Long.MIN_VALUE);
  }

  /**
   * Counts one request.
   *
   * @param now the current time
   * @param keyHashCode the requesting key's {@code hashCode}
   * @param allowed whether the request was allowed
   */
  public void record(long now, int keyHashCode, boolean allowed) {
    int slot = slot(now);
    long hash = spread(keyHashCode);
    requests[slot]++;
    keys[slot].add(keyHashCode, hash);
    if (!allowed) {
      rejected[slot]++;
      rejectedKeys[slot].add(keyHashCode, hash);
    }
  }

  /**
   * Sums the requests and counts the distinct keys inside the window.
   *
   * @param now the current time
   * @return the totals
   */
  public Totals totals(long now) {
    long epoch = epoch(now);
    long n = 0;
    long r = 0;
    boolean[] live = new boolean[epochs.length];
    for (int i = 0; i < epochs.length; i++) {
      long age = epoch - epochs[i];
      if (epochs[i] != Long.MIN_VALUE && age >= 0 && age < epochs.length) {
        live[i] = true;
        n += requests[i];
        r += rejected[i];
      }
    }
    long distinct = distinct(keys, live);
    return new Totals(n, r, distinct, Math.min(distinct, distinct(rejectedKeys, live)));
  }

  /**
   * The bytes of counting state this window holds, which no traffic changes.
   *
   * @return the size of its arrays' contents
   */
  public long stateBytes() {
    long bytes = 8L * (epochs.length + requests.length + rejected.length);
    for (int i = 0; i < keys.length; i++) {
      bytes += keys[i].bytes() + rejectedKeys[i].bytes();
    }
    return bytes;
  }

  private static long distinct(Sketch[] sketches, boolean[] live) {
    int exactTotal = 0;
    boolean exact = true;
    for (int i = 0; i < sketches.length; i++) {
      if (live[i]) {
        exact &= !sketches[i].overflowed;
        exactTotal += sketches[i].size;
      }
    }
    if (exact) {
      int[] all = new int[exactTotal];
      int k = 0;
      for (int i = 0; i < sketches.length; i++) {
        if (live[i]) {
          k = sketches[i].copyTo(all, k);
        }
      }
      Arrays.sort(all);
      int count = all.length == 0 ? 0 : 1;
      for (int j = 1; j < all.length; j++) {
        if (all[j] != all[j - 1]) {
          count++;
        }
      }
      return count;
    }
    byte[] merged = new byte[REGISTERS];
    for (int i = 0; i < sketches.length; i++) {
      if (live[i]) {
        byte[] from = sketches[i].registers;
        for (int j = 0; j < REGISTERS; j++) {
          if (from[j] > merged[j]) {
            merged[j] = from[j];
          }
        }
      }
    }
    return estimate(merged);
  }

  /**
   * The HyperLogLog estimate, with linear counting for small cardinalities where the raw estimate
   * is biased. The hash has 64 bits, so no large-range correction is needed.
   */
  static long estimate(byte[] registers) {
    double sum = 0;
    int zeros = 0;
    for (byte rank : registers) {
      sum += Math.scalb(1.0, -rank);
      if (rank == 0) {
        zeros++;
      }
    }
    double raw = ALPHA * REGISTERS * REGISTERS / sum;
    if (raw <= 2.5 * REGISTERS && zeros > 0) {
      return Math.round(REGISTERS * Math.log((double) REGISTERS / zeros));
    }
    return Math.round(raw);
  }

  /**
   * Spreads a hash code over 64 bits (MurmurHash3's finalizer after a golden-ratio multiply), so
   * that similar hash codes (consecutive integers, strings that differ in one character) land in
   * unrelated registers and slots.
   */
  static long spread(int hashCode) {
    long h = hashCode * 0x9E3779B97F4A7C15L;
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    return h ^ (h >>> 33);
  }

  private long epoch(long now) {
    return Math.floorDiv(now - origin, bucketNanos);
  }

  private int slot(long now) {
    long epoch = epoch(now);
    int slot = (int) Math.floorMod(epoch, (long) epochs.length);
    if (epochs[slot] != epoch) {
      epochs[slot] = epoch;
      requests[slot] = 0;
      rejected[slot] = 0;
      keys[slot].clear();
      rejectedKeys[slot].clear();
    }
    return slot;
  }

  /** One bucket's keys: an exact set of hash codes while small, and always a HyperLogLog. */
  private static final class Sketch {
    final byte[] registers = new byte[REGISTERS];
    /** Open-addressed hash codes; a slot is taken when its bit in {@link #taken} is set. */
    final int[] exact = new int[EXACT_SLOTS];
    final long[] taken = new long[EXACT_SLOTS / 64];
    int size;
    boolean overflowed;

    void add(int hashCode, long hash) {
      int register = (int) (hash >>> (64 - PRECISION));
      // The rank of the first 1 bit after the register bits, capped where those bits run out.
      byte rank = (byte) Math.min(Long.numberOfLeadingZeros(hash << PRECISION) + 1,
          64 - PRECISION + 1);
      if (registers[register] < rank) {
        registers[register] = rank;
      }
      if (overflowed) {
        return;
      }
      int i = (int) hash & (EXACT_SLOTS - 1);
      while ((taken[i >>> 6] & (1L << i)) != 0) {
        if (exact[i] == hashCode) {
          return;
        }
        i = (i + 1) & (EXACT_SLOTS - 1);
      }
      if (size == EXACT_LIMIT) {
        overflowed = true;
        return;
      }
      exact[i] = hashCode;
      taken[i >>> 6] |= 1L << i;
      size++;
    }

    int copyTo(int[] into, int from) {
      for (int i = 0; i < EXACT_SLOTS; i++) {
        if ((taken[i >>> 6] & (1L << i)) != 0) {
          into[from++] = exact[i];
        }
      }
      return from;
    }

    void clear() {
      Arrays.fill(registers, (byte) 0);
      Arrays.fill(taken, 0);
      size = 0;
      overflowed = false;
    }

    long bytes() {
      return registers.length + 4L * exact.length + 8L * taken.length + 8;
    }
  }
}
