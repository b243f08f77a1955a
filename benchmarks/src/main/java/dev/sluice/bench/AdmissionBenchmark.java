package dev.sluice.bench;

import com.netflix.concurrency.limits.Limiter;
import com.netflix.concurrency.limits.limit.FixedLimit;
import com.netflix.concurrency.limits.limiter.SimpleLimiter;
import dev.sluice.RequestQueue;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Admission control: try to take a permit without waiting and, when admitted, give it back at once.
 * Sluice's {@code RequestQueue.tryAcquire} against Resilience4j's {@code SemaphoreBulkhead},
 * Failsafe's {@code Bulkhead} and concurrency-limits' {@code SimpleLimiter} with a fixed limit.
 *
 * <p>Uncontended: {@code -t 1 -p permits=20} (every try is admitted). Contended:
 * {@code -t 2 -p permits=1} (threads &gt; permits: a try that loses the race is refused, which is
 * part of what is measured). Sluice runs with one key and one priority class, so its per-key cap
 * equals the global cap, like the peers' single cap.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class AdmissionBenchmark {
  static final String KEY = "10.0.0.1";
  static final String PRIORITY = "default";

  /** The concurrency cap. */
  @Param({"20", "1"})
  public int permits;

  /** Sluice's queue with no waiting room: a try is admitted or refused. */
  @State(Scope.Benchmark)
  public static class SluiceState {
    RequestQueue<String> queue;

    /**
     * Builds the queue.
     *
     * @param b the benchmark, for its cap
     */
    @Setup(Level.Trial)
    public void setUp(AdmissionBenchmark b) {
      queue = RequestQueue.builder().name("bench").maxConcurrent(b.permits).maxQueued(0).build();
    }

    /** Closes the queue. */
    @TearDown(Level.Trial)
    public void tearDown() {
      queue.close();
    }
  }

  /** Resilience4j's semaphore bulkhead, zero wait. */
  @State(Scope.Benchmark)
  public static class Resilience4jState {
    Bulkhead bulkhead;

    /**
     * Builds the bulkhead.
     *
     * @param b the benchmark, for its cap
     */
    @Setup(Level.Trial)
    public void setUp(AdmissionBenchmark b) {
      bulkhead = Bulkhead.of("bench", BulkheadConfig.custom()
          .maxConcurrentCalls(b.permits)
          .maxWaitDuration(Duration.ZERO)
          .build());
    }
  }

  /** Failsafe's bulkhead. */
  @State(Scope.Benchmark)
  public static class FailsafeState {
    dev.failsafe.Bulkhead<Object> bulkhead;

    /**
     * Builds the bulkhead.
     *
     * @param b the benchmark, for its cap
     */
    @Setup(Level.Trial)
    public void setUp(AdmissionBenchmark b) {
      bulkhead = dev.failsafe.Bulkhead.builder(b.permits).build();
    }
  }

  /** concurrency-limits' simple limiter with a fixed limit. */
  @State(Scope.Benchmark)
  public static class ConcurrencyLimitsState {
    SimpleLimiter<Void> limiter;

    /**
     * Builds the limiter.
     *
     * @param b the benchmark, for its cap
     */
    @Setup(Level.Trial)
    public void setUp(AdmissionBenchmark b) {
      limiter = SimpleLimiter.newBuilder().limit(FixedLimit.of(b.permits)).build();
    }
  }

  /**
   * Sluice: {@code tryAcquire} then {@code close}.
   *
   * @param s the queue
   * @return whether admitted
   */
  @Benchmark
  public boolean sluice(SluiceState s) {
    Optional<RequestQueue.Permit> permit = s.queue.tryAcquire(KEY, PRIORITY);
    if (permit.isPresent()) {
      permit.get().close();
      return true;
    }
    return false;
  }

  /**
   * Resilience4j: {@code tryAcquirePermission} then {@code onComplete}.
   *
   * @param s the bulkhead
   * @return whether admitted
   */
  @Benchmark
  public boolean resilience4j(Resilience4jState s) {
    if (s.bulkhead.tryAcquirePermission()) {
      s.bulkhead.onComplete();
      return true;
    }
    return false;
  }

  /**
   * Failsafe: {@code tryAcquirePermit} then {@code releasePermit}.
   *
   * @param s the bulkhead
   * @return whether admitted
   */
  @Benchmark
  public boolean failsafe(FailsafeState s) {
    if (s.bulkhead.tryAcquirePermit()) {
      s.bulkhead.releasePermit();
      return true;
    }
    return false;
  }

  /**
   * concurrency-limits: {@code acquire} then {@code onSuccess}.
   *
   * @param s the limiter
   * @return whether admitted
   */
  @Benchmark
  public boolean concurrencyLimits(ConcurrencyLimitsState s) {
    Optional<Limiter.Listener> listener = s.limiter.acquire(null);
    if (listener.isPresent()) {
      listener.get().onSuccess();
      return true;
    }
    return false;
  }
}
