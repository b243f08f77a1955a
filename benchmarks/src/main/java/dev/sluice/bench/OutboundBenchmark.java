package dev.sluice.bench;

import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeExecutor;
import dev.sluice.CircuitBreaker;
import dev.sluice.OutboundGuard;
import dev.sluice.RetryPolicy;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
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
 * The overhead of an outbound guard around a call that does nothing and always succeeds: the
 * breaker stays closed, so this is the price every healthy call pays.
 *
 * <ul>
 *   <li>Sluice {@code OutboundGuard} with only a circuit breaker (no pacing, retry or timeout):
 *       {@code guard.call(work)}.
 *   <li>Sluice {@code CircuitBreaker} alone: {@code breaker.call(work)}.
 *   <li>Resilience4j {@code CircuitBreaker.ofDefaults}: {@code executeCallable(work)}.
 *   <li>Failsafe {@code CircuitBreaker.ofDefaults()} in an executor built once:
 *       {@code Failsafe.with(breaker).get(work)}.
 *   <li>With retry (3 attempts), pacing (10<sup>9</sup> calls/s, so no call waits; up to 1 s
 *       wait allowed) and a 5 s per-attempt timeout that interrupts, a synchronous call: Sluice's
 *       guard ({@code sluiceGuardRetryPacingTimeout}) and Failsafe's {@code RetryPolicy}, smooth
 *       {@code RateLimiter} and {@code Timeout.withInterrupt()} in that order
 *       ({@code failsafeRetryPacingTimeout}). Both run the call on the caller's thread.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class OutboundBenchmark {
  private static final String RESULT = "ok";
  private static final Callable<String> WORK = () -> RESULT;

  OutboundGuard guard;
  CircuitBreaker breaker;
  io.github.resilience4j.circuitbreaker.CircuitBreaker resilience4j;
  FailsafeExecutor<Object> failsafe;
  OutboundGuard guardThree;
  FailsafeExecutor<Object> failsafeThree;

  /** Builds every guard. */
  @Setup(Level.Trial)
  public void setUp() {
    guard = OutboundGuard.builder()
        .name("bench")
        .circuitBreaker(CircuitBreaker.builder().name("bench-guard").build())
        .build();
    breaker = CircuitBreaker.builder().name("bench").build();
    resilience4j = io.github.resilience4j.circuitbreaker.CircuitBreaker.ofDefaults("bench");
    failsafe = Failsafe.with(dev.failsafe.CircuitBreaker.ofDefaults());
    guardThree = OutboundGuard.builder()
        .name("bench-three")
        .retry(RetryPolicy.builder().maxAttempts(3).build())
        .pacing(1_000_000_000, Duration.ofSeconds(1))
        .maxPacingWait(Duration.ofSeconds(1))
        .timeout(Duration.ofSeconds(5))
        .interruptOnTimeout(true)
        .build();
    failsafeThree = Failsafe.with(
        dev.failsafe.RetryPolicy.builder().withMaxAttempts(3).build(),
        dev.failsafe.RateLimiter.smoothBuilder(1_000_000_000, Duration.ofSeconds(1))
            .withMaxWaitTime(Duration.ofSeconds(1)).build(),
        dev.failsafe.Timeout.builder(Duration.ofSeconds(5)).withInterrupt().build());
  }

  /**
   * Sluice's outbound guard.
   *
   * @return the call's result
   * @throws Exception never: the work succeeds
   */
  @Benchmark
  public String sluiceGuard() throws Exception {
    return guard.call(WORK);
  }

  /**
   * Sluice's circuit breaker alone.
   *
   * @return the call's result
   * @throws Exception never: the work succeeds
   */
  @Benchmark
  public String sluiceBreaker() throws Exception {
    return breaker.call(WORK);
  }

  /**
   * Resilience4j.
   *
   * @return the call's result
   * @throws Exception never: the work succeeds
   */
  @Benchmark
  public String resilience4j() throws Exception {
    return resilience4j.executeCallable(WORK);
  }

  /**
   * Failsafe.
   *
   * @return the call's result
   */
  @Benchmark
  public Object failsafe() {
    return failsafe.get(WORK::call);
  }

  /**
   * Sluice's guard with retry, pacing and an interrupting timeout, synchronous.
   *
   * @return the call's result
   * @throws Exception never: the work succeeds
   */
  @Benchmark
  public String sluiceGuardRetryPacingTimeout() throws Exception {
    return guardThree.call(WORK);
  }

  /**
   * Failsafe with the same three policies, synchronous.
   *
   * @return the call's result
   */
  @Benchmark
  public Object failsafeRetryPacingTimeout() {
    return failsafeThree.get(WORK::call);
  }
}
