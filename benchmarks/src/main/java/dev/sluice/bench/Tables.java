package dev.sluice.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the benchmark tables of {@code docs/benchmarks.md}, one JMH run per table so that the
 * ratios inside a table come from the same minutes of a noisy machine, and writes each table as
 * Markdown (ns/op ± error, B/op from {@code -prof gc}) next to JMH's JSON.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.sluice.bench.Tables \
 *     quick|full [table ...] [--out dir]
 * </pre>
 *
 * <p>Tables: {@code keyed-1t}, {@code keyed-2t}, {@code keyed-floor},
 * {@code admission-uncontended}, {@code admission-contended}, {@code outbound-1t},
 * {@code outbound-2t}, {@code quota-1c}, {@code quota-8c}, {@code quota-32c} (PostgreSQL: see
 * {@link QuotaDatabase}), {@code redis-1t}, {@code redis-8t}, {@code redis-32t} (Redis: see
 * {@link BenchRedis} and {@link RedisStoreBenchmark}), {@code filter} (real sockets, see
 * {@link FilterLoad}); a prefix such as {@code keyed}, {@code quota} or {@code redis} selects
 * several. None named means all.
 */
public final class Tables {
  private Tables() {}

  /** How a table is measured and laid out. */
  private enum Layout {
    /** ns/op ± error and B/op ({@code -prof gc}). */
    ALLOCATION,
    /**
     * One sample-time run (no profiler) giving latency percentiles and, by Little's law for a
     * closed loop, ops/s = clients / mean latency: both from the same seconds of the machine.
     * Iterations are longer than the in-memory tables' ({@link #DATABASE_MODES}).
     */
    THROUGHPUT_LATENCY,
    /**
     * Like {@link #THROUGHPUT_LATENCY}, with the same iterations, but ops/s measured in throughput
     * mode and the percentiles in a separate sample-time run (the benchmark's two modes); under
     * the table, the ratios issue 15's targets name. All rows on one Redis ({@link BenchRedis}).
     */
    REDIS,
    /** Not JMH: {@link FilterLoad} over real sockets. */
    HTTP
  }

  /** One JMH run (or one {@link FilterLoad} run) and how to lay out its results. */
  private record Table(String id, String title, String include, int threads,
      Map<String, String[]> params, String columnParam, Function<RunResult, String> column,
      Layout layout) {
    Table(String id, String title, String include, int threads, Map<String, String[]> params,
        String columnParam, Function<RunResult, String> column) {
      this(id, title, include, threads, params, columnParam, column, Layout.ALLOCATION);
    }
  }

  private record Mode(int forks, int warmups, TimeValue warmupTime, int iterations,
      TimeValue iterationTime) {
    String describe() {
      return "-f " + forks + " -wi " + warmups + " -w " + warmupTime + " -i " + iterations
          + " -r " + iterationTime;
    }
  }

  private static final Map<String, Mode> MODES = Map.of(
      "quick", new Mode(1, 2, TimeValue.milliseconds(500), 3, TimeValue.milliseconds(500)),
      "full", new Mode(2, 3, TimeValue.seconds(1), 5, TimeValue.seconds(1)));

  /**
   * Database and Redis calls take 0.05-1 ms, and a commit can stall on the disk: longer
   * iterations.
   */
  private static final Map<String, Mode> DATABASE_MODES = Map.of(
      "quick", new Mode(1, 2, TimeValue.seconds(1), 4, TimeValue.seconds(1)),
      "full", new Mode(2, 3, TimeValue.seconds(2), 5, TimeValue.seconds(2)));

  private static List<Table> tables() {
    String keyed = "dev\\.sluice\\.bench\\.KeyedRateLimitBenchmark\\.";
    String admission = "dev\\.sluice\\.bench\\.AdmissionBenchmark\\.";
    String outbound = "dev\\.sluice\\.bench\\.OutboundBenchmark\\.";
    Function<RunResult, String> keys = r -> r.getParams().getParam("keys");
    String quota = "dev\\.sluice\\.bench\\.QuotaBenchmark\\.";
    Function<RunResult, String> subjects = r -> r.getParams().getParam("subjects");
    return List.of(
        new Table("keyed-1t", "Keyed rate-limit decision, 1 thread, every call allowed",
            keyed, 1, Map.of(), "keys", keys),
        new Table("keyed-2t", "Keyed rate-limit decision, 2 threads, every call allowed",
            keyed, 2, Map.of(), "keys", keys),
        new Table("keyed-floor", "Parts of a hot-key decision (not a comparison), 1 thread",
            "dev\\.sluice\\.bench\\.KeyedFloorBenchmark\\.", 1, Map.of(), "", r -> "hot key"),
        new Table("admission-uncontended",
            "Admission: try-acquire + release, 1 thread, 20 permits (uncontended)",
            admission, 1, Map.of("permits", new String[] {"20"}), "permits", r -> "uncontended"),
        new Table("admission-contended",
            "Admission: try-acquire + release, 2 threads, 1 permit (contended: a lost race is a"
                + " refusal)",
            admission, 2, Map.of("permits", new String[] {"1"}), "permits", r -> "contended"),
        new Table("outbound-1t", "Outbound guard around a no-op call, breaker closed, 1 thread",
            outbound, 1, Map.of(), "", r -> "no-op call"),
        new Table("outbound-2t", "Outbound guard around a no-op call, breaker closed, 2 threads",
            outbound, 2, Map.of(), "", r -> "no-op call"),
        quotaTable(quota, subjects, 1),
        quotaTable(quota, subjects, 8),
        quotaTable(quota, subjects, 32),
        redisTable(1),
        redisTable(8),
        redisTable(32),
        new Table("filter", "Servlet filter overhead", "", 0, Map.of(), "", r -> "",
            Layout.HTTP));
  }

  private static Table quotaTable(String include, Function<RunResult, String> subjects,
      int clients) {
    return new Table("quota-" + clients + "c", "Quota consume on one PostgreSQL, " + clients
        + (clients == 1 ? " client" : " clients") + ", every call allowed", include, clients,
        Map.of(), "subjects", subjects, Layout.THROUGHPUT_LATENCY);
  }

  private static Table redisTable(int threads) {
    return new Table("redis-" + threads + "t", "Rate-limit decision on one Redis, " + threads
        + (threads == 1 ? " client thread" : " client threads") + ", every call allowed",
        "dev\\.sluice\\.bench\\.RedisStoreBenchmark\\.", threads, Map.of(), "keys",
        r -> r.getParams().getParam("keys"), Layout.REDIS);
  }

  /**
   * Runs the tables.
   *
   * @param args {@code quick} or {@code full}, then table ids (a prefix selects every table
   *     starting with it), then optionally {@code --out dir}
   * @throws RunnerException if a benchmark fails
   * @throws IOException if results cannot be written
   * @throws Exception if the filter table's server or load generator fails
   */
  public static void main(String[] args) throws Exception {
    if (args.length == 0 || !MODES.containsKey(args[0])) {
      System.err.println("usage: Tables quick|full [table ...] [--out dir]; tables: "
          + tables().stream().map(Table::id).toList());
      System.exit(2);
    }
    Mode mode = MODES.get(args[0]);
    List<String> wanted = new ArrayList<>();
    Path out = Path.of("benchmarks", "target", "results");
    for (int i = 1; i < args.length; i++) {
      if (args[i].equals("--out") && i + 1 < args.length) {
        out = Path.of(args[++i]);
      } else {
        wanted.add(args[i]);
      }
    }
    Files.createDirectories(out);

    StringBuilder md = new StringBuilder();
    md.append("<!-- ").append(args[0]).append(" mode (").append(mode.describe())
        .append(", -prof gc), ")
        .append(ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME))
        .append(", ").append(System.getProperty("java.vm.name")).append(' ')
        .append(System.getProperty("java.runtime.version")).append(", ")
        .append(Runtime.getRuntime().availableProcessors()).append(" CPUs -->\n\n");
    for (Table table : tables()) {
      if (!wanted.isEmpty() && wanted.stream().noneMatch(w -> table.id().startsWith(w))) {
        continue;
      }
      if (table.layout() == Layout.HTTP) {
        String section = FilterLoad.run(FilterLoad.Plan.of(args[0]));
        Files.writeString(out.resolve(table.id() + ".md"), section, StandardCharsets.UTF_8);
        md.append(section).append('\n');
        System.out.println(section);
        continue;
      }
      Mode m = table.layout() == Layout.ALLOCATION ? mode : DATABASE_MODES.get(args[0]);
      ChainedOptionsBuilder options = new OptionsBuilder()
          .include(table.include())
          .threads(table.threads())
          .forks(m.forks())
          .warmupIterations(m.warmups())
          .warmupTime(m.warmupTime())
          .measurementIterations(m.iterations())
          .measurementTime(m.iterationTime())
          .shouldFailOnError(true)
          .resultFormat(ResultFormatType.JSON)
          .result(out.resolve(table.id() + ".json").toString());
      for (Map.Entry<String, String[]> p : table.params().entrySet()) {
        options.param(p.getKey(), p.getValue());
      }
      if (table.layout() == Layout.ALLOCATION) {
        options.addProfiler(GCProfiler.class);
      } else if (table.layout() == Layout.REDIS) {
        // One server for the whole table: a redis-server started here is handed to the forks.
        String redis = BenchRedis.uri();
        if (BenchRedis.startedHere()) {
          options.jvmArgsAppend("-D" + BenchRedis.BENCH_URL + "=" + redis);
        }
        md.append("<!-- ").append(table.id()).append(": ").append(m.describe())
            .append(" -bm thrpt,sample, Redis = ").append(BenchRedis.choice())
            .append(" -->\n\n");
      } else {
        options.mode(org.openjdk.jmh.annotations.Mode.SampleTime);
        md.append("<!-- ").append(table.id()).append(": ").append(m.describe())
            .append(" -bm sample, PostgreSQL = ").append(QuotaDatabase.choice())
            .append(" -->\n\n");
      }
      Collection<RunResult> results = new Runner(options.build()).run();
      String section = table.layout() == Layout.ALLOCATION
          ? markdown(table, results) : latencyMarkdown(table, results);
      if (table.layout() == Layout.REDIS) {
        section += redisTargets(results);
      }
      Files.writeString(out.resolve(table.id() + ".md"), section, StandardCharsets.UTF_8);
      md.append(section).append('\n');
      System.out.println(section);
    }
    Files.writeString(out.resolve("tables.md"), md, StandardCharsets.UTF_8);
    System.out.println("Tables written to " + out.resolve("tables.md"));
  }

  private static String markdown(Table table, Collection<RunResult> results) {
    Map<String, Map<String, RunResult>> byMethod = new LinkedHashMap<>();
    List<String> columns = new ArrayList<>();
    for (RunResult r : results) {
      String method = r.getParams().getBenchmark();
      method = method.substring(method.lastIndexOf('.') + 1);
      String column = table.column().apply(r);
      if (!columns.contains(column)) {
        columns.add(column);
      }
      byMethod.computeIfAbsent(method, m -> new LinkedHashMap<>()).put(column, r);
    }
    columns.sort((a, b) -> Integer.compare(order(a), order(b)));
    List<String> methods = new ArrayList<>(byMethod.keySet());
    methods.sort((a, b) -> Integer.compare(order(a), order(b)));

    StringBuilder s = new StringBuilder();
    s.append("### ").append(table.title()).append("\n\n");
    s.append("| library |");
    for (String c : columns) {
      s.append(' ').append(c).append(" ns/op | B/op |");
    }
    s.append("\n|---|");
    s.append("---:|---:|".repeat(columns.size()));
    s.append('\n');
    for (String method : methods) {
      s.append("| ").append(method).append(" |");
      for (String c : columns) {
        RunResult r = byMethod.get(method).get(c);
        if (r == null) {
          s.append(" – | – |");
          continue;
        }
        Result<?> primary = r.getPrimaryResult();
        s.append(' ').append(number(primary.getScore()));
        if (!Double.isNaN(primary.getScoreError())) {
          s.append(" ± ").append(number(primary.getScoreError()));
        }
        s.append(" | ").append(allocation(r)).append(" |");
      }
      s.append('\n');
    }
    return s.toString();
  }

  private static String latencyMarkdown(Table table, Collection<RunResult> results) {
    // method -> column -> mode -> result
    Map<String, Map<String, Map<org.openjdk.jmh.annotations.Mode, RunResult>>> byMethod =
        new LinkedHashMap<>();
    List<String> columns = new ArrayList<>();
    for (RunResult r : results) {
      String method = r.getParams().getBenchmark();
      method = method.substring(method.lastIndexOf('.') + 1);
      String column = table.column().apply(r);
      if (!columns.contains(column)) {
        columns.add(column);
      }
      byMethod.computeIfAbsent(method, m -> new LinkedHashMap<>())
          .computeIfAbsent(column, c -> new LinkedHashMap<>())
          .put(r.getParams().getMode(), r);
    }
    columns.sort((a, b) -> Integer.compare(order(a), order(b)));
    List<String> methods = new ArrayList<>(byMethod.keySet());
    methods.sort((a, b) -> Integer.compare(order(a), order(b)));

    StringBuilder s = new StringBuilder();
    s.append("### ").append(table.title()).append("\n\n");
    s.append("| call |");
    for (String c : columns) {
      s.append(' ').append(c).append(" ops/s | p50 µs | p99 µs |");
    }
    s.append("\n|---|");
    s.append("---:|---:|---:|".repeat(columns.size()));
    s.append('\n');
    for (String method : methods) {
      s.append("| ").append(method).append(" |");
      for (String c : columns) {
        Map<org.openjdk.jmh.annotations.Mode, RunResult> modes =
            byMethod.get(method).getOrDefault(c, Map.of());
        RunResult thrpt = modes.get(org.openjdk.jmh.annotations.Mode.Throughput);
        RunResult sample = modes.get(org.openjdk.jmh.annotations.Mode.SampleTime);
        if (thrpt == null && sample != null) {
          // Little's law: a closed loop of N clients completes N / (mean latency) calls a second.
          Result<?> p = sample.getPrimaryResult();
          double meanMicros = p.getScore() * microsFactor(p.getScoreUnit());
          s.append(' ').append(String.format(Locale.ROOT, "%.0f",
              table.threads() * 1e6 / meanMicros)).append(" |");
        } else if (thrpt == null) {
          s.append(" – |");
        } else {
          Result<?> p = thrpt.getPrimaryResult();
          double perSecond = p.getScore() * perSecondFactor(p.getScoreUnit());
          s.append(' ').append(String.format(Locale.ROOT, "%.0f", perSecond));
          if (!Double.isNaN(p.getScoreError())) {
            s.append(" ± ").append(String.format(Locale.ROOT, "%.0f",
                p.getScoreError() * perSecondFactor(p.getScoreUnit())));
          }
          s.append(" |");
        }
        if (sample == null) {
          s.append(" – | – |");
        } else {
          Result<?> p = sample.getPrimaryResult();
          double toMicros = microsFactor(p.getScoreUnit());
          s.append(' ').append(number(p.getStatistics().getPercentile(50) * toMicros))
              .append(" | ").append(number(p.getStatistics().getPercentile(99) * toMicros))
              .append(" |");
        }
      }
      s.append('\n');
    }
    return s.toString();
  }

  /**
   * The ratios issue 15's targets name, per key column: Sluice's ops/s over Bucket4j's (target
   * at least 1.5), Sluice's p99 against Bucket4j's (target at most), and Sluice's p50 over the
   * bare {@code INCR}'s (target at most 1.2).
   */
  private static String redisTargets(Collection<RunResult> results) {
    // "method|column|mode" -> result
    Map<String, RunResult> byKey = new LinkedHashMap<>();
    List<String> columns = new ArrayList<>();
    for (RunResult r : results) {
      String method = r.getParams().getBenchmark();
      method = method.substring(method.lastIndexOf('.') + 1);
      String column = r.getParams().getParam("keys");
      if (!columns.contains(column)) {
        columns.add(column);
      }
      byKey.put(method + "|" + column + "|" + r.getParams().getMode().shortLabel(), r);
    }
    columns.sort((a, b) -> Integer.compare(order(a), order(b)));
    StringBuilder s = new StringBuilder("\nTargets (issue 15):");
    for (String c : columns) {
      double sluiceOps = opsPerSecond(byKey.get("sluice|" + c + "|thrpt"));
      double bucketOps = opsPerSecond(byKey.get("bucket4j|" + c + "|thrpt"));
      double sluiceP50 = percentile(byKey.get("sluice|" + c + "|sample"), 50);
      double sluiceP99 = percentile(byKey.get("sluice|" + c + "|sample"), 99);
      double bucketP99 = percentile(byKey.get("bucket4j|" + c + "|sample"), 99);
      double incrP50 = percentile(byKey.get("incr|" + c + "|sample"), 50);
      s.append("\n- ").append(c).append(": sluice/bucket4j ops/s = ")
          .append(ratio(sluiceOps, bucketOps)).append(" (≥ 1.5×); p99 sluice ")
          .append(number(sluiceP99)).append(" µs vs bucket4j ").append(number(bucketP99))
          .append(" µs (≤); p50 sluice/incr = ").append(ratio(sluiceP50, incrP50))
          .append(" (≤ 1.2×)");
    }
    return s.append('\n').toString();
  }

  private static double opsPerSecond(RunResult r) {
    if (r == null) {
      return Double.NaN;
    }
    Result<?> p = r.getPrimaryResult();
    return p.getScore() * perSecondFactor(p.getScoreUnit());
  }

  private static double percentile(RunResult r, double percent) {
    if (r == null) {
      return Double.NaN;
    }
    Result<?> p = r.getPrimaryResult();
    return p.getStatistics().getPercentile(percent) * microsFactor(p.getScoreUnit());
  }

  private static String ratio(double a, double b) {
    return Double.isNaN(a) || Double.isNaN(b) || b == 0 ? "–"
        : String.format(Locale.ROOT, "%.2f×", a / b);
  }

  /** Factor from a JMH throughput unit ({@code ops/us} ...) to ops/s. */
  private static double perSecondFactor(String unit) {
    return switch (unit) {
      case "ops/ns" -> 1e9;
      case "ops/us" -> 1e6;
      case "ops/ms" -> 1e3;
      case "ops/min" -> 1.0 / 60;
      default -> 1;
    };
  }

  /** Factor from a JMH time-per-op unit ({@code us/op} ...) to microseconds. */
  private static double microsFactor(String unit) {
    return switch (unit) {
      case "ns/op" -> 1e-3;
      case "ms/op" -> 1e3;
      case "s/op" -> 1e6;
      default -> 1;
    };
  }

  private static String allocation(RunResult r) {
    for (String label : r.getSecondaryResults().keySet()) {
      if (label.endsWith("gc.alloc.rate.norm")) {
        double bytes = r.getSecondaryResults().get(label).getScore();
        return bytes < 0.5 ? "0" : String.format(Locale.ROOT, "%.0f", bytes);
      }
    }
    return "?";
  }

  private static String number(double v) {
    return v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.1f", v);
  }

  private static final List<String> ORDER = Arrays.asList(
      "sluicePermit", "sluiceDecision", "sluice", "sluiceGuard", "sluiceBreaker", "hot", "uniform",
      "skewed", "spread", "100k", "sluiceRequestId", "sluiceSql", "rawUpdate", "incr", "bucket4j",
      "failsafe", "failsafeSizeOnly", "guava", "resilience4j", "concurrencyLimits", "nanoTime",
      "gcraStepOnly", "concurrentHashMap", "caffeineSizeOnly", "caffeineExpiring");

  private static int order(String name) {
    int i = ORDER.indexOf(name);
    return i < 0 ? ORDER.size() : i;
  }
}
