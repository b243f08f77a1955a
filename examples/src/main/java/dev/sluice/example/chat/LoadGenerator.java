package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * A load generator for the chat app: N concurrent clients send requests for a duration or until a
 * request count, over real sockets (the JDK's HTTP client), with a progress bar, then a table of
 * status codes, latency percentiles and errors.
 *
 * <pre>
 * java -jar sluice-example-chat.jar loadtest --scenario browser-console
 * java -jar sluice-example-chat.jar loadtest --scenario overload --base-url http://127.0.0.1:8080/
 * java -jar sluice-example-chat.jar loadtest --clients 50 --duration 10s --path /api/research
 * </pre>
 *
 * <p>Scenarios: {@code browser-console} (the original's test: 10 concurrent chats, expecting some
 * 200, some 429 and no crash) and {@code overload} (200 clients for 30 s). The exit status is 1 on
 * any 5xx other than a 503 carrying {@code Retry-After}, and on any connection error; 2 on bad
 * arguments; 0 otherwise.
 */
public final class LoadGenerator {

  /**
   * What to run.
   *
   * @param baseUrl the app's base URL
   * @param clients concurrent clients
   * @param requests total requests, or 0 to run for {@code duration}
   * @param duration how long to run when {@code requests} is 0
   * @param path the API path to hit
   * @param sessions bearer tokens to obtain (clients share them round robin)
   * @param progress whether to draw a progress bar
   */
  public record Options(URI baseUrl, int clients, long requests, Duration duration, String path,
      int sessions, boolean progress) {}

  /**
   * What happened.
   *
   * @param statuses responses per HTTP status
   * @param errors connection errors per exception type
   * @param badServerErrors 5xx responses other than 503 with Retry-After
   * @param latenciesMillis every response's latency, sorted
   * @param elapsed the run's wall time
   */
  public record Result(Map<Integer, Long> statuses, Map<String, Long> errors, long badServerErrors,
      long[] latenciesMillis, Duration elapsed) {

    /**
     * Responses with a status.
     *
     * @param status the HTTP status
     * @return the count
     */
    public long count(int status) {
      return statuses.getOrDefault(status, 0L);
    }

    /**
     * Whether the run passes: no bad 5xx and no connection error.
     *
     * @return true when it passes
     */
    public boolean passed() {
      return badServerErrors == 0 && errors.isEmpty();
    }

    /**
     * A latency percentile.
     *
     * @param p 0..100
     * @return milliseconds, or 0 with no responses
     */
    public long percentile(double p) {
      if (latenciesMillis.length == 0) {
        return 0;
      }
      int i = (int) Math.ceil(p / 100.0 * latenciesMillis.length) - 1;
      return latenciesMillis[Math.max(0, Math.min(latenciesMillis.length - 1, i))];
    }
  }

  private LoadGenerator() {}

  /**
   * Parses flags, runs, prints the report.
   *
   * @param args flags
   * @param out where the report goes
   * @param err where the progress bar and problems go
   * @return the exit status
   */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Options options;
    try {
      options = parse(args);
    } catch (IllegalArgumentException e) {
      err.println("loadtest: " + e.getMessage());
      err.println("usage: loadtest [--scenario browser-console|overload] [--base-url URL]"
          + " [--clients N] [--requests N | --duration 30s] [--path /api/chat] [--sessions N]"
          + " [--no-progress]");
      return 2;
    }
    out.printf(Locale.ROOT, "loadtest: %d clients, %s, POST %s%s%n", options.clients(),
        options.requests() > 0 ? options.requests() + " requests"
            : "for " + options.duration().toMillis() / 1000.0 + " s",
        options.baseUrl(), options.path().substring(1));
    Result result;
    try {
      result = run(options, err);
    } catch (IOException e) {
      err.println("loadtest: cannot reach " + options.baseUrl() + ": " + e);
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    }
    report(result, out);
    return result.passed() ? 0 : 1;
  }

  static Options parse(String[] args) {
    String scenario = "browser-console";
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals("--scenario")) {
        scenario = args[i + 1];
      }
    }
    URI base = URI.create("http://127.0.0.1:8080/");
    int clients;
    long requests;
    Duration duration = Duration.ofSeconds(30);
    String path = "/api/chat";
    int sessions;
    switch (scenario) {
      case "browser-console" -> {
        clients = 10;
        requests = 10;
        sessions = 1; // one browser, one user, one IP: like the original console test
      }
      case "overload" -> {
        clients = 200;
        requests = 0;
        sessions = 10;
      }
      default -> throw new IllegalArgumentException("unknown scenario '" + scenario
          + "' (browser-console, overload)");
    }
    boolean progress = true;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--no-progress")) {
        progress = false;
        continue;
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      String v = args[++i];
      switch (a) {
        case "--scenario" -> { }
        case "--base-url" -> base = URI.create(v.endsWith("/") ? v : v + "/");
        case "--clients" -> clients = positive(v, a);
        case "--requests" -> {
          requests = positive(v, a);
        }
        case "--duration" -> {
          duration = duration(v);
          requests = 0;
        }
        case "--path" -> path = v.startsWith("/") ? v : "/" + v;
        case "--sessions" -> sessions = positive(v, a);
        default -> throw new IllegalArgumentException("unknown flag " + a);
      }
    }
    return new Options(base, clients, requests, duration, path, sessions, progress);
  }

  /**
   * Runs a load.
   *
   * @param o what to run
   * @param progressOut where the progress bar goes
   * @return the result
   * @throws IOException if no session could be had at all
   * @throws InterruptedException if interrupted
   */
  public static Result run(Options o, PrintStream progressOut)
      throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5))
        .executor(Executors.newFixedThreadPool(4, daemon("loadtest-http")))
        .build();
    List<String> tokens = sessions(http, o);
    Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
    Map<String, LongAdder> errors = new ConcurrentHashMap<>();
    LongAdder bad = new LongAdder();
    AtomicLong issued = new AtomicLong();
    AtomicLong done = new AtomicLong();
    long start = System.nanoTime();
    long deadline = o.requests() > 0 ? Long.MAX_VALUE : start + o.duration().toNanos();
    List<long[]> latencies = new ArrayList<>();
    CountDownLatch finished = new CountDownLatch(o.clients());
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < o.clients(); c++) {
      long[][] mine = {new long[64]};
      int[] n = {0};
      int client = c;
      Thread t = new Thread(() -> {
        try {
          while (System.nanoTime() < deadline) {
            long k = issued.getAndIncrement();
            if (o.requests() > 0 && k >= o.requests()) {
              break;
            }
            String token = tokens.get((int) (k % tokens.size()));
            long t0 = System.nanoTime();
            try {
              HttpResponse<String> r = http.send(request(o, token, client, k),
                  HttpResponse.BodyHandlers.ofString());
              long ms = (System.nanoTime() - t0) / 1_000_000;
              if (n[0] == mine[0].length) {
                mine[0] = Arrays.copyOf(mine[0], n[0] * 2);
              }
              mine[0][n[0]++] = ms;
              int s = r.statusCode();
              statuses.computeIfAbsent(s, x -> new LongAdder()).increment();
              if (s >= 500 && !(s == 503 && r.headers().firstValue("Retry-After").isPresent())) {
                bad.increment();
              }
            } catch (IOException e) {
              errors.computeIfAbsent(e.getClass().getSimpleName(), x -> new LongAdder())
                  .increment();
            }
            done.incrementAndGet();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          synchronized (latencies) {
            latencies.add(Arrays.copyOf(mine[0], n[0]));
          }
          finished.countDown();
        }
      }, "loadtest-client-" + c);
      t.setDaemon(true);
      threads.add(t);
    }
    ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(
        daemon("loadtest-progress"));
    if (o.progress()) {
      ticker.scheduleAtFixedRate(() -> progressOut.print(bar(o, start, done.get(), errors)), 0,
          250, TimeUnit.MILLISECONDS);
    }
    threads.forEach(Thread::start);
    long bound = o.requests() > 0 ? 10 * 60 : o.duration().toSeconds() + 5 * 60;
    boolean allDone = finished.await(bound, TimeUnit.SECONDS);
    ticker.shutdownNow();
    if (o.progress()) {
      progressOut.println(bar(o, start, done.get(), errors));
    }
    if (!allDone) {
      threads.forEach(Thread::interrupt);
      errors.computeIfAbsent("ClientsStillRunning", x -> new LongAdder()).increment();
    }
    Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
    long[] all;
    synchronized (latencies) {
      all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
    }
    Map<Integer, Long> s = new TreeMap<>();
    statuses.forEach((k, v) -> s.put(k, v.sum()));
    Map<String, Long> e = new TreeMap<>();
    errors.forEach((k, v) -> e.put(k, v.sum()));
    return new Result(s, e, bad.sum(), all, elapsed);
  }

  private static HttpRequest request(Options o, String token, int client, long k) {
    String body = switch (o.path()) {
      case "/api/research" -> "{\"query\":\"exercise and blood pressure\"}";
      case "/api/export" -> "{\"format\":\"markdown\"}";
      default -> "{\"message\":\"Does sleep affect memory? (client " + client + ", request " + k
          + ")\",\"useRAG\":true}";
    };
    return HttpRequest.newBuilder(o.baseUrl().resolve(o.path().substring(1)))
        .timeout(Duration.ofSeconds(90))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer " + token)
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .build();
  }

  /** Obtains bearer tokens; stops early when the session endpoint rate-limits us. */
  private static List<String> sessions(HttpClient http, Options o)
      throws IOException, InterruptedException {
    List<String> tokens = new ArrayList<>();
    for (int i = 0; i < o.sessions(); i++) {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(o.baseUrl().resolve("api/session"))
          .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.noBody()).build(),
          HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 201) {
        JsonNode body = Json.MAPPER.readTree(r.body());
        tokens.add(body.path("token").asText());
      } else if (!tokens.isEmpty()) {
        break;
      } else {
        throw new IOException("POST /api/session answered " + r.statusCode() + ": " + r.body());
      }
    }
    return tokens;
  }

  private static String bar(Options o, long start, long done, Map<String, LongAdder> errors) {
    double elapsed = (System.nanoTime() - start) / 1e9;
    double fraction = o.requests() > 0 ? (double) done / o.requests()
        : Math.min(1.0, elapsed / o.duration().toSeconds());
    int width = 30;
    int filled = (int) Math.round(Math.min(1.0, fraction) * width);
    long errs = errors.values().stream().mapToLong(LongAdder::sum).sum();
    return String.format(Locale.ROOT, "\r[%s%s] %3.0f%%  %d requests  %.1f/s  %d errors",
        "#".repeat(filled), "-".repeat(width - filled), fraction * 100, done,
        elapsed > 0 ? done / elapsed : 0.0, errs);
  }

  static void report(Result r, PrintStream out) {
    long total = r.statuses().values().stream().mapToLong(Long::longValue).sum();
    out.printf(Locale.ROOT, "%n%d responses in %.1f s (%.1f/s)%n", total,
        r.elapsed().toMillis() / 1000.0, total / Math.max(0.001, r.elapsed().toMillis() / 1000.0));
    out.println();
    out.println("status  count   meaning");
    out.println("------  ------  -------");
    r.statuses().forEach((s, n) -> out.printf(Locale.ROOT, "%-6d  %6d  %s%n", s, n, meaning(s)));
    out.println();
    out.println("latency  p50      p90      p99      max");
    out.printf(Locale.ROOT, "ms       %-7d  %-7d  %-7d  %d%n", r.percentile(50), r.percentile(90),
        r.percentile(99), r.percentile(100));
    out.println();
    if (r.errors().isEmpty()) {
      out.println("connection errors: none");
    } else {
      out.println("connection errors:");
      r.errors().forEach((k, n) -> out.printf(Locale.ROOT, "  %-28s %d%n", k, n));
    }
    if (r.badServerErrors() > 0) {
      out.println(r.badServerErrors() + " server errors (5xx other than 503 with Retry-After)");
    }
    out.println(r.passed() ? "PASS: no crash (no bad 5xx, no connection errors)"
        : "FAIL: the service crashed or errored");
  }

  private static String meaning(int status) {
    return switch (status) {
      case 200 -> "answered";
      case 401 -> "unauthenticated";
      case 413 -> "too large";
      case 429 -> "rate limited or quota used up (expected under load)";
      case 503 -> "shed by the queue or downstream unavailable (with Retry-After)";
      default -> status >= 500 ? "server error" : "";
    };
  }

  private static int positive(String v, String flag) {
    try {
      int n = Integer.parseInt(v);
      if (n < 1) {
        throw new IllegalArgumentException(flag + " must be >= 1 but was " + v);
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + " must be a whole number but was " + v, e);
    }
  }

  static Duration duration(String v) {
    String s = v.trim().toLowerCase(Locale.ROOT);
    try {
      if (s.endsWith("ms")) {
        return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
      }
      if (s.endsWith("m")) {
        return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
      }
      return Duration.ofSeconds(Long.parseLong(s.endsWith("s") ? s.substring(0, s.length() - 1)
          : s));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--duration must look like 30s, 2m or 500ms but was " + v,
          e);
    }
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    AtomicLong n = new AtomicLong();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
