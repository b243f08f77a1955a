package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Collection;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs every benchmark once, briefly, in this JVM, so that none can rot: a benchmark that throws
 * (or a limit that refuses a call the benchmark expects allowed) fails the build. Measures nothing.
 */
class BenchmarkSmokeTest {

  @ParameterizedTest(name = "{0} at {1} thread(s): {2} runs")
  @CsvSource({
      "KeyedRateLimitBenchmark, 1, 21",
      "KeyedRateLimitBenchmark, 2, 21",
      "KeyedFloorBenchmark,     1, 5",
      "AdmissionBenchmark,      1, 8",
      "AdmissionBenchmark,      2, 8",
      "OutboundBenchmark,       1, 4",
      "OutboundBenchmark,       2, 4",
  })
  void everyBenchmark_runsOnceWithoutError(String benchmark, int threads, int expectedRuns)
      throws RunnerException {
    Options options = new OptionsBuilder()
        .include("dev\\.sluice\\.bench\\." + benchmark + "\\.")
        .forks(0)
        .threads(threads)
        .warmupIterations(0)
        .measurementIterations(1)
        .measurementTime(TimeValue.milliseconds(20))
        .timeUnit(TimeUnit.NANOSECONDS)
        .shouldFailOnError(true)
        // JMH writes a page per run; keep it out of the build log.
        .output("target/jmh-smoke-" + benchmark + "-t" + threads + ".log")
        .build();

    Collection<RunResult> results = new Runner(options).run();

    assertThat(results).hasSize(expectedRuns);
    assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
  }
}
