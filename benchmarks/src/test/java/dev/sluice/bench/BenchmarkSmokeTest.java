package dev.sluice.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.openjdk.jmh.annotations.Mode;
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
      "OutboundBenchmark,       1, 6",
      "OutboundBenchmark,       2, 6",
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

  /**
   * Every quota call once, against embedded PostgreSQL (never the machine's server, which a
   * benchmark run may be using), with 10 spread subjects and 2 clients. If PostgreSQL cannot
   * start, the test is skipped with the reason, except under {@code CI=true}, where it fails.
   */
  @Test
  void quotaBenchmark_everyCallRunsOnceWithoutError() throws RunnerException {
    System.setProperty("SLUICE_BENCH_POSTGRES", "embedded");
    try {
      QuotaDatabase.get();
    } catch (RuntimeException e) {
      if ("true".equals(System.getenv("CI"))) {
        throw e;
      }
      System.err.println("SKIPPING the quota benchmark smoke: PostgreSQL could not start: " + e);
      Assumptions.abort("PostgreSQL could not start: " + e);
    }
    Options options = new OptionsBuilder()
        .include("dev\\.sluice\\.bench\\.QuotaBenchmark\\.")
        .param("spreadSubjects", "10")
        .mode(Mode.Throughput)
        .forks(0)
        .threads(2)
        .warmupIterations(0)
        .measurementIterations(1)
        .measurementTime(TimeValue.milliseconds(50))
        .shouldFailOnError(true)
        .output("target/jmh-smoke-QuotaBenchmark.log")
        .build();

    Collection<RunResult> results = new Runner(options).run();

    assertThat(results).hasSize(10); // 5 calls x {hot, spread}
    assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
  }

  /**
   * Every Redis call (Sluice's store, Bucket4j's Lettuce proxy, the bare INCR) once per key set,
   * 2 threads, throughput mode only (sample time runs the same code), on {@link BenchRedis}'s
   * server: {@code SLUICE_BENCH_REDIS_URL} or {@code SLUICE_TEST_REDIS_URL}, else a redis-server
   * of its own from the PATH. If there is no Redis or it does not answer, the test is skipped with
   * the reason, except under {@code CI=true}, where it fails.
   */
  @Test
  void redisStoreBenchmark_everyImplementationRunsOnceWithoutError() throws RunnerException {
    try {
      RedisClient client = RedisClient.create(BenchRedis.uri());
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        c.sync().ping();
      } finally {
        client.shutdown(Duration.ZERO, Duration.ofSeconds(5));
      }
    } catch (RuntimeException e) {
      if ("true".equals(System.getenv("CI"))) {
        throw e;
      }
      System.err.println("SKIPPING the Redis benchmark smoke: no Redis answered: " + e);
      Assumptions.abort("no Redis answered: " + e);
    }
    Options options = new OptionsBuilder()
        .include("dev\\.sluice\\.bench\\.RedisStoreBenchmark\\.")
        .mode(Mode.Throughput)
        .forks(0)
        .threads(2)
        .warmupIterations(0)
        .measurementIterations(1)
        .measurementTime(TimeValue.milliseconds(50))
        .shouldFailOnError(true)
        .output("target/jmh-smoke-RedisStoreBenchmark.log")
        .build();

    Collection<RunResult> results = new Runner(options).run();

    assertThat(results).hasSize(6); // {sluice, bucket4j, incr} x {hot, 100k}
    assertThat(results).allSatisfy(r -> assertThat(r.getPrimaryResult().getScore()).isPositive());
  }

  /** The filter table's server and load, one second per variant; any non-2xx answer fails. */
  @Test
  void filterLoad_servesEveryVariantWithoutError() throws Exception {
    String table = FilterLoad.run(FilterLoad.Plan.of("smoke"));

    assertThat(table).contains("| noFilter |", "| sluiceFilter |", "| sluiceFilterQueue |");
  }
}
