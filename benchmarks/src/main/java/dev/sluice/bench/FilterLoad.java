package dev.sluice.bench;

import dev.sluice.RateLimiter;
import dev.sluice.RequestQueue;
import dev.sluice.servlet.RouteRule;
import dev.sluice.servlet.SluiceFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * Servlet filter overhead over real sockets: one Jetty 12 (ee10) on 127.0.0.1 serves a hello
 * endpoint three ways, and the same closed-loop load (a fixed number of keep-alive connections,
 * each sending its next request when the last answer arrives) hits each in turn:
 *
 * <ul>
 *   <li>{@code noFilter}: {@code /plain/hello}, no filter;
 *   <li>{@code sluiceFilter}: {@code /filter/hello} behind {@link SluiceFilter} with one rule, a
 *       per-IP limiter whose limit ({@code Integer.MAX_VALUE} per 10 s) never refuses, RateLimit
 *       headers on admitted responses (the default);
 *   <li>{@code sluiceFilterQueue}: {@code /queue/hello}, the same rule plus the request queue with
 *       20 permits (more than the connections, so nothing waits: it measures taking and giving
 *       back a permit).
 * </ul>
 *
 * <p>The load comes from {@code wrk} when it is on the PATH (C, light: it competes less with the
 * server for the CPUs), else from a Java generator on the JDK's HTTP client. Variants are
 * interleaved round by round (A B C A B C ...) so that drift in the machine's load hits all of
 * them. Any non-2xx answer or socket error fails the run.
 */
final class FilterLoad {
  /** Keep-alive connections (closed-loop clients). */
  static final int CONNECTIONS = 16;
  private static final List<String> VARIANTS =
      List.of("noFilter", "sluiceFilter", "sluiceFilterQueue");
  private static final Map<String, String> PATHS = Map.of(
      "noFilter", "/plain/hello", "sluiceFilter", "/filter/hello",
      "sluiceFilterQueue", "/queue/hello");

  /**
   * How long to load.
   *
   * @param warmup load per variant before measuring
   * @param round one measured round per variant
   * @param rounds how many rounds
   * @param generator {@code wrk}, {@code java} or {@code auto}
   */
  record Plan(Duration warmup, Duration round, int rounds, String generator) {
    static Plan of(String mode) {
      return switch (mode) {
        case "full" -> new Plan(Duration.ofSeconds(10), Duration.ofSeconds(10), 3, "auto");
        case "smoke" -> new Plan(Duration.ZERO, Duration.ofSeconds(1), 1, "auto");
        default -> new Plan(Duration.ofSeconds(2), Duration.ofSeconds(4), 3, "auto");
      };
    }
  }

  /** One measured round of one variant. */
  record Round(long requests, double seconds, double p50Millis, double p99Millis) {
    double perSecond() {
      return requests / seconds;
    }
  }

  private FilterLoad() {}

  /**
   * Runs the plan and answers the Markdown table.
   *
   * @param plan how long
   * @return the table, with a comment line saying how it was measured
   * @throws Exception if Jetty or the load generator fails, or any answer was not 2xx
   */
  static String run(Plan plan) throws Exception {
    boolean wrk = switch (plan.generator()) {
      case "wrk" -> true;
      case "java" -> false;
      default -> wrkAvailable();
    };
    Server server = server();
    server.start();
    try {
      int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
      check(port);
      Map<String, List<Round>> rounds = new LinkedHashMap<>();
      for (String v : VARIANTS) {
        rounds.put(v, new ArrayList<>());
        if (!plan.warmup().isZero()) {
          load(wrk, port, PATHS.get(v), plan.warmup());
        }
      }
      for (int r = 0; r < plan.rounds(); r++) {
        for (String v : VARIANTS) {
          Round round = load(wrk, port, PATHS.get(v), plan.round());
          System.out.printf(Locale.ROOT, "filter %s round %d: %.0f req/s, p50 %.3f ms,"
              + " p99 %.3f ms%n", v, r + 1, round.perSecond(), round.p50Millis(),
              round.p99Millis());
          rounds.get(v).add(round);
        }
      }
      return markdown(rounds, plan, wrk);
    } finally {
      server.stop();
    }
  }

  /** Each variant answers 200, and the filtered ones carry the RateLimit headers. */
  private static void check(int port) throws IOException, InterruptedException {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    for (String v : VARIANTS) {
      HttpResponse<String> r = client.send(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + port + PATHS.get(v))).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      boolean headers = r.headers().firstValue("RateLimit").isPresent()
          && r.headers().firstValue("RateLimit-Policy").isPresent();
      if (r.statusCode() != 200 || !r.body().equals("hello\n")
          || headers == v.equals("noFilter")) {
        throw new IllegalStateException(v + " answered " + r.statusCode() + " "
            + r.headers().map() + ": the variant is not what the table says it is");
      }
    }
  }

  private static Server server() {
    QueuedThreadPool threads = new QueuedThreadPool(64, 8);
    threads.setName("jetty-bench");
    Server server = new Server(threads);
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    ServletHolder hello = new ServletHolder(new Hello());
    hello.setAsyncSupported(true);
    context.addServlet(hello, "/*");

    RateLimiter<String> perIp = RateLimiter.builder().name("per-ip")
        .limit(Integer.MAX_VALUE, Duration.ofSeconds(10)).build();
    addFilter(context, "/filter/*", SluiceFilter.builder()
        .rule(RouteRule.builder("hello").path("/filter/*").perIp(perIp).build())
        .build());
    RateLimiter<String> queuedPerIp = RateLimiter.builder().name("per-ip")
        .limit(Integer.MAX_VALUE, Duration.ofSeconds(10)).build();
    RequestQueue<String> queue = RequestQueue.builder().name("bench").priorities("hello")
        .maxConcurrent(20).maxConcurrentPerKey(20).maxQueued(100)
        .timeout(Duration.ofSeconds(30)).build();
    addFilter(context, "/queue/*", SluiceFilter.builder().queue(queue)
        .rule(RouteRule.builder("hello").path("/queue/*").perIp(queuedPerIp)
            .queuePriority("hello").build())
        .build());
    server.setHandler(context);
    return server;
  }

  private static void addFilter(ServletContextHandler context, String path, Filter filter) {
    FilterHolder holder = new FilterHolder(filter);
    holder.setAsyncSupported(true);
    context.addFilter(holder, path, EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
  }

  /** The endpoint: a constant plain-text body. */
  private static final class Hello extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private static final byte[] BODY = "hello\n".getBytes(StandardCharsets.US_ASCII);

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      resp.setContentType("text/plain");
      resp.setContentLength(BODY.length);
      resp.getOutputStream().write(BODY);
    }
  }

  private static Round load(boolean wrk, int port, String path, Duration d) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + port + path);
    return wrk ? wrk(uri, d) : java(uri, d);
  }

  private static boolean wrkAvailable() {
    try {
      Process p = new ProcessBuilder("wrk", "--version").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      p.waitFor(5, TimeUnit.SECONDS);
      return true;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static final Pattern RPS = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
  private static final Pattern TOTAL =
      Pattern.compile("(\\d+) requests in ([0-9.]+)(us|ms|s|m),");
  private static final Pattern PERCENTILE =
      Pattern.compile("^\\s+(50|99)(?:\\.000)?%\\s+([0-9.]+)(us|ms|s)\\s*$", Pattern.MULTILINE);

  private static Round wrk(URI uri, Duration d) throws IOException, InterruptedException {
    long seconds = Math.max(1, d.toSeconds());
    Process p = new ProcessBuilder("wrk", "-t1", "-c" + CONNECTIONS, "-d" + seconds + "s",
        "--latency", uri.toString()).redirectErrorStream(true).start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    if (!p.waitFor(seconds + 30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("wrk failed:\n" + out);
    }
    if (out.contains("Non-2xx") || out.contains("Socket errors")) {
      throw new IllegalStateException("wrk saw failed requests against " + uri + ":\n" + out);
    }
    Matcher total = TOTAL.matcher(out);
    Matcher rps = RPS.matcher(out);
    if (!total.find() || !rps.find()) {
      throw new IllegalStateException("cannot read wrk's output:\n" + out);
    }
    long requests = Long.parseLong(total.group(1));
    double p50 = Double.NaN;
    double p99 = Double.NaN;
    Matcher m = PERCENTILE.matcher(out);
    while (m.find()) {
      double ms = millis(Double.parseDouble(m.group(2)), m.group(3));
      if (m.group(1).equals("50")) {
        p50 = ms;
      } else {
        p99 = ms;
      }
    }
    // wrk's own duration is the one it divided by; requests / (requests / rate) recovers it.
    return new Round(requests, requests / Double.parseDouble(rps.group(1)), p50, p99);
  }

  private static double millis(double value, String unit) {
    return switch (unit) {
      case "us" -> value / 1000;
      case "s" -> value * 1000;
      case "m" -> value * 60_000;
      default -> value;
    };
  }

  /** The fallback: CONNECTIONS threads in a closed loop over one HTTP/1.1 client. */
  private static Round java(URI uri, Duration d) throws InterruptedException {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5)).build();
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET()
        .build();
    long[][] latencies = new long[CONNECTIONS][];
    int[] counts = new int[CONNECTIONS];
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(CONNECTIONS);
    long start = System.nanoTime();
    long end = start + d.toNanos();
    for (int t = 0; t < CONNECTIONS; t++) {
      int id = t;
      Thread thread = new Thread(() -> {
        long[] mine = new long[1 << 16];
        int n = 0;
        try {
          while (System.nanoTime() < end && failure.get() == null) {
            long t0 = System.nanoTime();
            HttpResponse<Void> r = client.send(request, HttpResponse.BodyHandlers.discarding());
            long t1 = System.nanoTime();
            if (r.statusCode() / 100 != 2) {
              throw new IllegalStateException(uri + " answered " + r.statusCode());
            }
            if (n == mine.length) {
              mine = Arrays.copyOf(mine, n * 2);
            }
            mine[n++] = t1 - t0;
          }
        } catch (IOException | RuntimeException e) {
          failure.compareAndSet(null, e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          failure.compareAndSet(null, e);
        } finally {
          latencies[id] = mine;
          counts[id] = n;
          done.countDown();
        }
      }, "load-" + t);
      thread.setDaemon(true);
      thread.start();
    }
    if (!done.await(d.toSeconds() + 30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the Java load generator did not finish");
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    if (failure.get() != null) {
      throw new IllegalStateException("load against " + uri + " failed", failure.get());
    }
    int total = Arrays.stream(counts).sum();
    long[] all = new long[total];
    int at = 0;
    for (int t = 0; t < CONNECTIONS; t++) {
      System.arraycopy(latencies[t], 0, all, at, counts[t]);
      at += counts[t];
    }
    Arrays.sort(all);
    return new Round(total, seconds, percentile(all, 0.50) / 1e6, percentile(all, 0.99) / 1e6);
  }

  private static double percentile(long[] sorted, double q) {
    if (sorted.length == 0) {
      return Double.NaN;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
  }

  private static double median(double[] values) {
    double[] v = values.clone();
    Arrays.sort(v);
    int n = v.length;
    return n == 0 ? Double.NaN : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  private static String markdown(Map<String, List<Round>> rounds, Plan plan, boolean wrk) {
    StringBuilder s = new StringBuilder();
    s.append("### Servlet filter overhead: Jetty 12 hello endpoint, ").append(CONNECTIONS)
        .append(" keep-alive connections, 127.0.0.1\n\n");
    s.append("<!-- load: ").append(wrk ? "wrk -t1 -c" + CONNECTIONS + " --latency"
            : "Java generator (java.net.http), " + CONNECTIONS + " closed-loop clients")
        .append("; warm-up ").append(plan.warmup().toSeconds()).append(" s per variant, ")
        .append(plan.rounds()).append(" interleaved rounds of ").append(plan.round().toSeconds())
        .append(" s per variant -->\n\n");
    s.append("| variant | req/s | vs noFilter | p50 ms | p99 ms | req/s per round |\n");
    s.append("|---|---:|---:|---:|---:|---|\n");
    double base = Double.NaN;
    for (Map.Entry<String, List<Round>> e : rounds.entrySet()) {
      List<Round> rs = e.getValue();
      double requests = rs.stream().mapToDouble(Round::requests).sum();
      double seconds = rs.stream().mapToDouble(Round::seconds).sum();
      double perSecond = requests / seconds;
      if (e.getKey().equals("noFilter")) {
        base = perSecond;
      }
      s.append("| ").append(e.getKey())
          .append(" | ").append(String.format(Locale.ROOT, "%.0f", perSecond))
          .append(" | ").append(String.format(Locale.ROOT, "%+.1f %%", (perSecond / base - 1) * 100))
          .append(" | ").append(String.format(Locale.ROOT, "%.3f",
              median(rs.stream().mapToDouble(Round::p50Millis).toArray())))
          .append(" | ").append(String.format(Locale.ROOT, "%.3f",
              median(rs.stream().mapToDouble(Round::p99Millis).toArray())))
          .append(" | ");
      for (int i = 0; i < rs.size(); i++) {
        s.append(i == 0 ? "" : ", ")
            .append(String.format(Locale.ROOT, "%.0f", rs.get(i).perSecond()));
      }
      s.append(" |\n");
    }
    s.append("\np50/p99: the median over rounds of each round's percentile");
    s.append(wrk ? " (wrk's --latency distribution).\n" : " (every request timed).\n");
    return s.toString();
  }
}
