package dev.sluice.bench;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Not a comparison: the parts of a hot-key decision, to explain where Sluice's time goes. Each
 * method does the GCRA step of {@code InMemoryRateLimitStore.tryAcquire} (read the clock, read the
 * TAT, compare-and-set) over a different map, so the differences are the map's own cost.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class KeyedFloorBenchmark {
  private static final String KEY = "10.0.0.0";
  private static final long INCREMENT = 5;
  private static final long TOLERANCE = Duration.ofSeconds(10).toNanos();

  Cache<String, AtomicLong> expiring;
  Cache<String, AtomicLong> sizeOnly;
  ConcurrentHashMap<String, AtomicLong> map;
  AtomicLong cell;

  /** Fills each map with every key, as the keyed benchmark does. */
  @Setup(Level.Trial)
  public void setUp() {
    // The same configuration as Sluice's InMemoryRateLimitStore.
    expiring = Caffeine.newBuilder()
        .maximumSize(KeyStream.KEY_COUNT)
        .expireAfterAccess(Duration.ofSeconds(10))
        .ticker(System::nanoTime)
        .executor(Runnable::run)
        .build();
    sizeOnly = Caffeine.newBuilder()
        .maximumSize(KeyStream.KEY_COUNT)
        .executor(Runnable::run)
        .build();
    map = new ConcurrentHashMap<>();
    for (String key : KeyStream.allKeys()) {
      long now = System.nanoTime();
      expiring.put(key, new AtomicLong(now));
      sizeOnly.put(key, new AtomicLong(now));
      map.put(key, new AtomicLong(now));
    }
    cell = map.get(KEY);
  }

  /**
   * The clock alone.
   *
   * @return the time
   */
  @Benchmark
  public long nanoTime() {
    return System.nanoTime();
  }

  /**
   * The GCRA step on a cell already in hand: the floor of any keyed decision.
   *
   * @return whether allowed
   */
  @Benchmark
  public boolean gcraStepOnly() {
    return step(cell);
  }

  /**
   * Lookup in a {@code ConcurrentHashMap}, then the step.
   *
   * @return whether allowed
   */
  @Benchmark
  public boolean concurrentHashMap() {
    return step(map.get(KEY));
  }

  /**
   * Lookup in a size-bounded Caffeine cache (no clock read inside Caffeine), then the step.
   *
   * @return whether allowed
   */
  @Benchmark
  public boolean caffeineSizeOnly() {
    return step(sizeOnly.getIfPresent(KEY));
  }

  /**
   * Lookup in Caffeine configured as Sluice's store (size bound, idle expiry, a ticker: Caffeine
   * reads the clock on every read), then the step.
   *
   * @return whether allowed
   */
  @Benchmark
  public boolean caffeineExpiring() {
    return step(expiring.getIfPresent(KEY));
  }

  private static boolean step(AtomicLong cell) {
    while (true) {
      long now = System.nanoTime();
      long stored = cell.get();
      long tat = stored - now > 0 ? stored : now;
      long newTat = tat + INCREMENT;
      if (newTat - now > TOLERANCE) {
        return false;
      }
      if (cell.compareAndSet(stored, newTat)) {
        return true;
      }
    }
  }
}
