package dev.sluice.example.chat;

import dev.sluice.NanoClock;
import dev.sluice.servlet.HealthServlet;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The reference chat app: embedded Jetty 12 with the chat API, the pages, the health endpoint and
 * the literature stub, every Sluice layer wired by {@link SluiceWiring}, on PostgreSQL (embedded
 * by default).
 *
 * <pre>
 * java -jar sluice-example-chat.jar [--port 8080] [--db-url jdbc:postgresql://...]
 *     [--rate-limit-store memory|postgres|redis://host:port]
 * java -jar sluice-example-chat.jar loadtest --scenario browser-console
 * </pre>
 *
 * <p>Thread-safe; {@link #close()} stops everything it started.
 */
public final class ChatApp implements AutoCloseable {
  /** Connections the kernel holds for the acceptor (the kernel caps it at somaxconn). */
  static final int ACCEPT_QUEUE = 1024;

  private final AppConfig config;
  private final Database db;
  private final LimitStores limitStores;
  private final Server server;
  private final SluiceWiring wiring;
  private final LiteratureStub stub;
  private final String adminToken;
  private final URI baseUri;

  private ChatApp(AppConfig config, Database db, LimitStores limitStores, Server server,
      SluiceWiring wiring, LiteratureStub stub, String adminToken, URI baseUri) {
    this.config = config;
    this.db = db;
    this.limitStores = limitStores;
    this.server = server;
    this.wiring = wiring;
    this.stub = stub;
    this.adminToken = adminToken;
    this.baseUri = baseUri;
  }

  /**
   * Runs the app until the process ends, or the load generator with {@code loadtest ...}.
   *
   * @param args flags (see {@link AppConfig}), or {@code loadtest} and its flags
   * @throws Exception if the app cannot start
   */
  public static void main(String[] args) throws Exception {
    if (args.length > 0 && args[0].equals("loadtest")) {
      System.exit(LoadGenerator.run(Arrays.copyOfRange(args, 1, args.length), System.out,
          System.err));
      return;
    }
    AppConfig config;
    try {
      config = AppConfig.parse(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("sluice-example-chat: " + e.getMessage());
      System.exit(2);
      return;
    }
    ChatApp app;
    try {
      app = start(config);
    } catch (IllegalStateException e) {
      // The database or the rate-limit store could not be reached: say which, without a trace.
      System.err.println("sluice-example-chat: " + e.getMessage());
      System.exit(1);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(app::close, "chat-shutdown"));
    banner(app, config.literatureUrl(), config.adminToken() == null)
        .forEach(System.out::println);
    app.server.join();
  }

  /**
   * What the app prints when it starts: where it runs, its database, its literature service and
   * how to send the admin token (the random one only when none was configured).
   *
   * @param app the running app
   * @param literatureUrl the configured literature service, or null for the built-in stub
   * @param showToken whether to print the admin token itself
   * @return the lines
   */
  static List<String> banner(ChatApp app, URI literatureUrl, boolean showToken) {
    List<String> lines = new ArrayList<>();
    lines.add("Database: " + app.db.description());
    lines.add("Rate limits: " + app.limitStores.description()
        + (app.config.rateLimitStore() == AppConfig.LimitStore.POSTGRES
            && app.config.dbUrl() == null
            ? "; the embedded PostgreSQL belongs to this process only: give every instance the"
                + " same --db-url to share" : ""));
    lines.add("Literature: " + (literatureUrl == null
        ? "built-in stub at " + app.baseUri.resolve("/stub/eutils/")
            + " (POST /stub/control {\"mode\":\"slow\"|\"failing\"|\"normal\"})"
        : literatureUrl));
    if (showToken) {
      lines.add("Admin token (send it as Authorization: Bearer <token> to /api/system-health and"
          + " to POST /api/session for a pro session): " + app.adminToken);
    }
    lines.add("Dashboard with the admin token: " + app.baseUri.resolve("/dashboard")
        + "#admin=" + app.adminToken);
    lines.add("Sluice chat example running at " + app.baseUri + " (dashboard: "
        + app.baseUri.resolve("/dashboard") + ")");
    return lines;
  }

  /**
   * Starts the app.
   *
   * @param config the settings
   * @return the running app
   * @throws Exception if the database or the web server cannot start
   */
  public static ChatApp start(AppConfig config) throws Exception {
    return start(config, NanoClock.system());
  }

  /**
   * Starts the app with the literature breaker on a given clock (tests move it forward).
   *
   * @param config the settings
   * @param breakerClock the breaker's clock
   * @return the running app
   * @throws Exception if the database or the web server cannot start
   */
  static ChatApp start(AppConfig config, NanoClock breakerClock) throws Exception {
    return start(config, breakerClock, Map.of(), SluiceWiring.MAX_QUEUED);
  }

  /**
   * Starts the app with extra servlets (tests add one that fails, to see how failures look).
   *
   * @param config the settings
   * @param breakerClock the breaker's clock
   * @param extraServlets servlets by exact path, behind the same filters as the API
   * @param maxQueued requests that may wait in the queue (tests shed at once with 0)
   * @return the running app
   * @throws Exception if the database or the web server cannot start
   */
  static ChatApp start(AppConfig config, NanoClock breakerClock,
      Map<String, HttpServlet> extraServlets, int maxQueued) throws Exception {
    return start(config, breakerClock, LimitStores.Overrides.NONE, extraServlets, maxQueued);
  }

  /**
   * Starts the app with its rate limits on a given clock (tests move it instead of waiting) and,
   * for Redis, a given bound on each decision.
   *
   * @param config the settings
   * @param breakerClock the breaker's clock
   * @param limits the limits' clock and Redis timeout, see {@link LimitStores.Overrides}
   * @param extraServlets servlets by exact path, behind the same filters as the API
   * @param maxQueued requests that may wait in the queue (tests shed at once with 0)
   * @return the running app
   * @throws Exception if the database, the rate-limit store or the web server cannot start
   */
  static ChatApp start(AppConfig config, NanoClock breakerClock, LimitStores.Overrides limits,
      Map<String, HttpServlet> extraServlets, int maxQueued) throws Exception {
    String adminToken = config.adminToken() != null ? config.adminToken() : randomToken();
    Database db = Database.open(config);
    LimitStores limitStores = null;
    try {
      limitStores = LimitStores.open(config.rateLimitStore(), db.dataSource(), limits);
      Clock clock = Clock.systemUTC();
      SessionStore sessions = new SessionStore(db.dataSource(), clock);
      SluiceWiring wiring = new SluiceWiring(db.dataSource(), limitStores,
          config.proChatsPerDay(), breakerClock, maxQueued);

      QueuedThreadPool threads = new QueuedThreadPool(200, 8);
      threads.setName("chat-http");
      Server server = new Server(threads);
      ServerConnector connector = new ServerConnector(server);
      connector.setHost(config.host());
      connector.setPort(config.port());
      // The JDK's default backlog of 50 drops connections when many clients connect at once
      // while the one acceptor thread waits for a core; the kernel caps this at somaxconn.
      connector.setAcceptQueueSize(ACCEPT_QUEUE);
      server.addConnector(connector);
      server.setErrorHandler(JsonErrors.server());
      ServletContextHandler context = new ServletContextHandler();
      context.setContextPath("/");
      context.setErrorHandler(JsonErrors.servlets());
      server.setHandler(context);

      LiteratureStub stub = new LiteratureStub();
      URI[] base = new URI[1];
      URI literatureBase = config.literatureUrl();
      LiteratureClient literature = new LiteratureClient(
          () -> literatureBase != null ? literatureBase : base[0].resolve("/stub/eutils/"),
          wiring.literatureGuard, Duration.ofSeconds(2), literatureBase != null);
      ConversationStore conversations = new ConversationStore(db.dataSource());
      ApiServlet api = new ApiServlet(literature, conversations, new LiteratureErrors(),
          wiring.errors, wiring.quotas, wiring.traffic);

      // Outermost first. Unknown paths and wrong methods end at ApiRoutes, before they cost a
      // per-IP limit, a token lookup, quota or a queue place.
      filter(context, new CloseOnRefusal());
      filter(context, new ErrorCountingFilter(wiring.errors, wiring.traffic));
      filter(context, new ApiRoutes());
      filter(context, wiring.ipFilter);
      filter(context, new AuthFilter(sessions));
      filter(context, wiring.filter);
      servlet(context, ApiRoutes.Route.CHAT.path, api);
      servlet(context, ApiRoutes.Route.RESEARCH.path, api);
      servlet(context, ApiRoutes.Route.EXPORT.path, api);
      servlet(context, ApiRoutes.Route.SESSION.path, new SessionServlet(sessions, adminToken));
      servlet(context, ApiRoutes.Route.HEALTH.path, HealthServlet.builder(wiring.health)
          .adminToken(adminToken)
          .queue(wiring.queue)
          .circuitBreakers(wiring.literatureBreaker)
          .rateLimiters(wiring.sessionPerIp, wiring.chatPerIp, wiring.researchPerIp,
              wiring.exportPerIp)
          .build());
      servlet(context, "/metrics", new MetricsServlet(wiring, adminToken));
      servlet(context, "/stub/*", stub);
      servlet(context, "/", new StaticServlet());
      extraServlets.forEach((path, extra) -> servlet(context, path, extra));

      server.start();
      int port = connector.getLocalPort();
      String host = config.host().equals("0.0.0.0") ? "127.0.0.1" : config.host();
      URI uri = URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":"
          + port + "/");
      base[0] = URI.create("http://127.0.0.1:" + port + "/");
      return new ChatApp(config, db, limitStores, server, wiring, stub, adminToken, uri);
    } catch (Exception | Error e) {
      if (limitStores != null) {
        limitStores.close();
      }
      db.close();
      throw e;
    }
  }

  private static void filter(ServletContextHandler context, Filter filter) {
    FilterHolder holder = new FilterHolder(filter);
    holder.setAsyncSupported(true);
    context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
  }

  private static void servlet(ServletContextHandler context, String path, HttpServlet servlet) {
    ServletHolder holder = new ServletHolder(servlet);
    holder.setAsyncSupported(true);
    context.addServlet(holder, path);
  }

  private static String randomToken() {
    byte[] raw = new byte[24];
    new SecureRandom().nextBytes(raw);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
  }

  /**
   * Where the app answers.
   *
   * @return the base URI, ending in {@code /}
   */
  public URI baseUri() {
    return baseUri;
  }

  /**
   * The admin token.
   *
   * @return the token, sent as {@code Authorization: Bearer <token>}
   */
  public String adminToken() {
    return adminToken;
  }

  SluiceWiring wiring() {
    return wiring;
  }

  LiteratureStub stub() {
    return stub;
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      System.err.println("web server did not stop cleanly: " + e);
    }
    wiring.queue.close();
    limitStores.close();
    db.close();
  }
}
