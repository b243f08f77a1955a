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
 * {@code outbound-2t}; a prefix such as {@code keyed} selects several. None named means all.
 */
public final class Tables {
  private Tables() {}

  /** One JMH run and how to lay out its results. */
  private record Table(String id, String title, String include, int threads,
      Map<String, String[]> params, String columnParam, Function<RunResult, String> column) {}

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

  private static List<Table> tables() {
    String keyed = "dev\\.sluice\\.bench\\.KeyedRateLimitBenchmark\\.";
    String admission = "dev\\.sluice\\.bench\\.AdmissionBenchmark\\.";
    String outbound = "dev\\.sluice\\.bench\\.OutboundBenchmark\\.";
    Function<RunResult, String> keys = r -> r.getParams().getParam("keys");
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
            outbound, 2, Map.of(), "", r -> "no-op call"));
  }

  /**
   * Runs the tables.
   *
   * @param args {@code quick} or {@code full}, then table ids (a prefix selects every table
   *     starting with it), then optionally {@code --out dir}
   * @throws RunnerException if a benchmark fails
   * @throws IOException if results cannot be written
   */
  public static void main(String[] args) throws RunnerException, IOException {
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
      ChainedOptionsBuilder options = new OptionsBuilder()
          .include(table.include())
          .threads(table.threads())
          .forks(mode.forks())
          .warmupIterations(mode.warmups())
          .warmupTime(mode.warmupTime())
          .measurementIterations(mode.iterations())
          .measurementTime(mode.iterationTime())
          .addProfiler(GCProfiler.class)
          .shouldFailOnError(true)
          .resultFormat(ResultFormatType.JSON)
          .result(out.resolve(table.id() + ".json").toString());
      for (Map.Entry<String, String[]> p : table.params().entrySet()) {
        options.param(p.getKey(), p.getValue());
      }
      Collection<RunResult> results = new Runner(options.build()).run();
      String section = markdown(table, results);
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
      "skewed", "bucket4j", "failsafe", "failsafeSizeOnly", "guava",
      "resilience4j", "concurrencyLimits", "nanoTime", "gcraStepOnly", "concurrentHashMap",
      "caffeineSizeOnly", "caffeineExpiring");

  private static int order(String name) {
    int i = ORDER.indexOf(name);
    return i < 0 ? ORDER.size() : i;
  }
}
