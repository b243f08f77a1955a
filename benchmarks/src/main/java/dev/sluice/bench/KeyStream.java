package dev.sluice.bench;

import java.util.SplittableRandom;

/**
 * A fixed, pre-drawn sequence of key indexes, so that choosing the next key costs one array load
 * for every distribution and every library alike.
 *
 * <p>Not thread-safe: each benchmark thread owns one.
 */
final class KeyStream {
  /** Distinct keys in the "many keys" cases. */
  static final int KEY_COUNT = 100_000;

  /** The Zipf exponent of the skewed distribution (1.0: the top key gets ~8 % of calls). */
  static final double ZIPF_EXPONENT = 1.0;

  private static final int LENGTH = 1 << 16;
  private static final String[] KEYS = new String[KEY_COUNT];
  private static final double[] ZIPF_CDF = zipfCdf(KEY_COUNT, ZIPF_EXPONENT);

  static {
    for (int i = 0; i < KEY_COUNT; i++) {
      // Client IPv4 addresses are the most common key in a servlet filter.
      KEYS[i] = "10." + ((i >>> 16) & 0xff) + "." + ((i >>> 8) & 0xff) + "." + (i & 0xff);
    }
  }

  private final String[] sequence = new String[LENGTH];
  private int next;

  /**
   * Draws a sequence.
   *
   * @param distribution {@code hot} (one key), {@code uniform} or {@code skewed} (Zipf) over
   *     {@link #KEY_COUNT} keys
   * @param seed seed of this thread's draw
   */
  KeyStream(String distribution, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    for (int i = 0; i < LENGTH; i++) {
      int index;
      switch (distribution) {
        case "hot":
          index = 0;
          break;
        case "uniform":
          index = random.nextInt(KEY_COUNT);
          break;
        case "skewed":
          index = zipf(random.nextDouble());
          break;
        default:
          throw new IllegalArgumentException("unknown key distribution: " + distribution);
      }
      sequence[i] = KEYS[index];
    }
    // Start threads at different places so two threads do not walk the same keys in lockstep.
    next = (int) (seed & (LENGTH - 1));
  }

  /**
   * The next key.
   *
   * @return a key
   */
  String next() {
    int i = next;
    next = (i + 1) & (LENGTH - 1);
    return sequence[i];
  }

  /**
   * Every key, for warming caches.
   *
   * @return the keys, not to be modified
   */
  static String[] allKeys() {
    return KEYS;
  }

  private static int zipf(double u) {
    int lo = 0;
    int hi = ZIPF_CDF.length - 1;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (ZIPF_CDF[mid] < u) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private static double[] zipfCdf(int n, double s) {
    double[] cdf = new double[n];
    double sum = 0;
    for (int i = 0; i < n; i++) {
      sum += 1.0 / Math.pow(i + 1, s);
      cdf[i] = sum;
    }
    for (int i = 0; i < n; i++) {
      cdf[i] /= sum;
    }
    return cdf;
  }
}
