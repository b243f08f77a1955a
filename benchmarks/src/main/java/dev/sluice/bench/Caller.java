package dev.sluice.bench;

import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * One benchmark thread of {@link KeyedRateLimitBenchmark}: its key sequence and a count of refused
 * calls. Every configuration is meant to allow every call (the DESIGN table is "every call
 * allowed"), so an iteration with a refusal fails the run instead of flattering a library whose
 * refusal path is cheaper.
 */
@State(Scope.Thread)
public class Caller {
  private KeyStream keys;
  private long refused;

  /**
   * Draws this thread's keys.
   *
   * @param benchmark the benchmark, for its key distribution
   * @param thread this thread's index
   */
  @Setup(Level.Trial)
  public void setUp(KeyedRateLimitBenchmark benchmark, ThreadParams thread) {
    keys = new KeyStream(benchmark.keys, 0x5EED_0000L + 7919L * thread.getThreadIndex());
  }

  /**
   * Fails the iteration if any call was refused.
   *
   * @throws IllegalStateException if a call was refused
   */
  @TearDown(Level.Iteration)
  public void checkAllAllowed() {
    if (refused != 0) {
      long n = refused;
      refused = 0;
      throw new IllegalStateException(n + " calls were refused; the limits must allow every call");
    }
  }

  String next() {
    return keys.next();
  }

  boolean count(boolean allowed) {
    if (!allowed) {
      refused++;
    }
    return allowed;
  }
}
