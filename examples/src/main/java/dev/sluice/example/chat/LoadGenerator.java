package dev.sluice.example.chat;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
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
 * request count, over real sockets (one connection per request, {@link SocketHttp}), with a
 * progress bar, then a table of status codes, the error codes of refusals, latency percentiles
 * and connection errors (type and message). Simulated users each get their own session; with
 * {@code --source-addresses N} they are spread over the loopback addresses 127.0.0.2 to
 * 127.0.0.(N+1) (Linux routes all of 127/8 to lo), so per-IP limits do not answer everything.
 *
 * <pre>
 * java -jar sluice-example-chat.jar loadtest --scenario browser-console
 * java -jar sluice-example-chat.jar loadtest --scenario overload --base-url http://127.0.0.1:8080/
 * java -jar sluice-example-chat.jar loadtest --clients 50 --duration 10s --path /api/research
 * </pre>
 *
 * <p>Scenarios: {@code browser-console} (the original's test: 10 concurrent chats by one user
 * from one address, expecting some 200, some 429 and no crash) and {@code overload} (200 clients
 * for 30 s: 50 users, each on 4 clients, from 25 loopback addresses). The exit status is 1 on any
 * 5xx other than a 503 carrying {@code Retry-After}, and on any connection error; 2 on bad
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
   * @param sessions simulated users, each with its own session (client {@code c} acts for user
   *     {@code c % sessions})
   * @param progress whether to draw a progress bar
   * @param sourceAddresses loopback addresses to send from (user {@code u} uses 127.0.0.(2 + u %
   *     N)); 1 sends from wherever the system chooses
   */
  public record Options(URI baseUrl, int clients, long requests, Duration duration, String path,
      int sessions, boolean progress, int sourceAddresses) {

    /**
     * Options sending from one address, the system's choice.
     *
     * @param baseUrl the app's base URL
     * @param clients concurrent clients
     * @param requests total requests, or 0 to run for {@code duration}
     * @param duration how long to run when {@code requests} is 0
     * @param path the API path to hit
     * @param sessions simulated users
     * @param progress whether to draw a progress bar
     */
    public Options(URI baseUrl, int clients, long requests, Duration duration, String path,
        int sessions, boolean progress) {
      this(baseUrl, clients, requests, duration, path, sessions, progress, 1);
    }
  }

  /**
   * What happened.
   *
   * @param statuses responses per HTTP status
   * @param reasons refusals per status and error code, such as {@code "429 quota_exceeded"}
   * @param errors connection errors per exception type and message
   * @param badServerErrors 5xx responses other than 503 with Retry-After
   * @param latenciesMillis every response's latency, sorted
   * @param elapsed the run's wall time
   */
  public record Result(Map<Integer, Long> statuses, Map<String, Long> reasons,
      Map<String, Long> errors, long badServerErrors, long[] latenciesMillis, Duration elapsed) {

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
          + " [--source-addresses N] [--no-progress]");
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
    } catch (IllegalArgumentException e) {
      err.println("loadtest: " + e.getMessage());
      return 2;
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
    int addresses;
    switch (scenario) {
      case "browser-console" -> {
        clients = 10;
        requests = 10;
        sessions = 1; // one browser, one user, one IP: like the original console test
        addresses = 1;
      }
      case "overload" -> {
        clients = 200;
        requests = 0;
        sessions = 50;
        addresses = 25;
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
        case "--source-addresses" -> addresses = positive(v, a);
        default -> throw new IllegalArgumentException("unknown flag " + a);
      }
    }
    if (addresses > 254) {
      throw new IllegalArgumentException("--source-addresses must be at most 254 but was "
          + addresses);
    }
    return new Options(base, clients, requests, duration, path, sessions, progress, addresses);
  }

  /**
   * Runs a load.
   *
   * @param o what to run
   * @param progressOut where the progress bar goes
   * @return the result
   * @throws IOException if no session could be had at all
   * @throws InterruptedException if interrupted
   * @throws IllegalArgumentException if several source addresses are asked for a base URL that
   *     is not on loopback
   */
  public static Result run(Options o, PrintStream progressOut)
      throws IOException, InterruptedException {
    List<InetAddress> from = sourceAddresses(o);
    List<User> users = sessions(o, from);
    Map<Integer, LongAdder> statuses = new ConcurrentHashMap<>();
    Map<String, LongAdder> reasons = new ConcurrentHashMap<>();
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
      User user = users.get(c % users.size());
      Thread t = new Thread(() -> {
        try {
          while (System.nanoTime() < deadline && !Thread.currentThread().isInterrupted()) {
            long k = issued.getAndIncrement();
            if (o.requests() > 0 && k >= o.requests()) {
              break;
            }
            long t0 = System.nanoTime();
            try {
              SocketHttp.Response r = SocketHttp.send(user.address(), o.baseUrl(), "POST",
                  target(o), body(o, client, k), REQUEST_TIMEOUT, "Content-Type",
                  "application/json", "Authorization", "Bearer " + user.token());
              long ms = (System.nanoTime() - t0) / 1_000_000;
              if (n[0] == mine[0].length) {
                mine[0] = Arrays.copyOf(mine[0], n[0] * 2);
              }
              mine[0][n[0]++] = ms;
              int s = r.status();
              statuses.computeIfAbsent(s, x -> new LongAdder()).increment();
              if (s >= 400) {
                reasons.computeIfAbsent(s + " " + errorCode(r), x -> new LongAdder()).increment();
              }
              if (s >= 500 && !(s == 503 && r.header("Retry-After").isPresent())) {
                bad.increment();
              }
            } catch (IOException e) {
              errors.computeIfAbsent(describe(e), x -> new LongAdder()).increment();
            }
            done.incrementAndGet();
          }
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
      errors.computeIfAbsent("ClientsStillRunning: clients had not finished after " + bound
          + " s", x -> new LongAdder()).increment();
    }
    Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
    long[] all;
    synchronized (latencies) {
      all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
    }
    Map<Integer, Long> s = new TreeMap<>();
    statuses.forEach((k, v) -> s.put(k, v.sum()));
    Map<String, Long> why = new TreeMap<>();
    reasons.forEach((k, v) -> why.put(k, v.sum()));
    Map<String, Long> e = new TreeMap<>();
    errors.forEach((k, v) -> e.put(k, v.sum()));
    return new Result(s, why, e, bad.sum(), all, elapsed);
  }

  /** How long one request may take: a chat waits up to 60 s in the queue, then its answer. */
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(90);

  /** One simulated user: a session, and the address it sends from (null: the system's). */
  private record User(String token, InetAddress address) {}

  private static List<InetAddress> sourceAddresses(Options o) throws IOException {
    List<InetAddress> from = new ArrayList<>();
    if (o.sourceAddresses() <= 1) {
      from.add(null);
      return from;
    }
    if (!InetAddress.getByName(o.baseUrl().getHost()).isLoopbackAddress()) {
      throw new IllegalArgumentException("--source-addresses needs a loopback --base-url, not "
          + o.baseUrl());
    }
    for (int i = 0; i < o.sourceAddresses(); i++) {
      from.add(InetAddress.getByAddress(new byte[] {127, 0, 0, (byte) (2 + i)}));
    }
    return from;
  }

  /** A connection error as its type and message, the way the report and the map key show it. */
  static String describe(IOException e) {
    String message = e.getMessage() == null ? "" : e.getMessage().replaceAll("\\s+", " ");
    if (message.length() > 160) {
      message = message.substring(0, 160) + "...";
    }
    return e.getClass().getSimpleName() + (message.isEmpty() ? "" : ": " + message);
  }

  private static String errorCode(SocketHttp.Response r) {
    try {
      String code = Json.MAPPER.readTree(r.body()).path("error").asText("");
      return code.isEmpty() ? "(no error code)" : code;
    } catch (IOException | RuntimeException e) {
      return "(not JSON)";
    }
  }

  private static String target(Options o) {
    return o.baseUrl().resolve(o.path().substring(1)).getRawPath();
  }

  private static byte[] body(Options o, int client, long k) {
    String body = switch (o.path()) {
      case "/api/research" -> "{\"query\":\"exercise and blood pressure\"}";
      case "/api/export" -> "{\"format\":\"markdown\"}";
      default -> "{\"message\":\"Does sleep affect memory? (client " + client + ", request " + k
          + ")\",\"useRAG\":true}";
    };
    return body.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Obtains one session per simulated user, each from its user's address; stops asking from an
   * address once the session endpoint rate-limits it.
   */
  private static List<User> sessions(Options o, List<InetAddress> from)
      throws IOException {
    List<User> users = new ArrayList<>();
    java.util.Set<InetAddress> limited = new java.util.HashSet<>();
    String last = "";
    for (int u = 0; u < o.sessions(); u++) {
      InetAddress address = from.get(u % from.size());
      if (address != null && limited.contains(address) || address == null && !limited.isEmpty()) {
        continue;
      }
      SocketHttp.Response r = SocketHttp.send(address, o.baseUrl(), "POST",
          o.baseUrl().resolve("api/session").getRawPath(), null, Duration.ofSeconds(30));
      if (r.status() == 201) {
        users.add(new User(Json.MAPPER.readTree(r.body()).path("token").asText(), address));
      } else {
        last = r.status() + ": " + r.text();
        limited.add(address == null ? InetAddress.getLoopbackAddress() : address);
      }
    }
    if (users.isEmpty()) {
      throw new IOException("POST /api/session answered " + last);
    }
    return users;
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

  /** The most distinct connection errors the report lists. */
  private static final int MAX_ERROR_KINDS = 5;

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
    if (!r.reasons().isEmpty()) {
      out.println("refusals (status and error code):");
      r.reasons().forEach((k, n) -> out.printf(Locale.ROOT, "  %-36s %d%n", k, n));
      out.println();
    }
    if (r.errors().isEmpty()) {
      out.println("connection errors: none");
    } else {
      out.println("connection errors (type: message):");
      int shown = 0;
      for (Map.Entry<String, Long> e : r.errors().entrySet()) {
        if (shown++ == MAX_ERROR_KINDS) {
          out.printf(Locale.ROOT, "  ... and %d more kinds%n", r.errors().size() - MAX_ERROR_KINDS);
          break;
        }
        out.printf(Locale.ROOT, "  %6d  %s%n", e.getValue(), e.getKey());
      }
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
