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
import java.util.Arrays;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Set;
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
 * java -jar sluice-example-chat.jar loadtest --scenario browser-console
 * </pre>
 *
 * <p>Thread-safe; {@link #close()} stops everything it started.
 */
public final class ChatApp implements AutoCloseable {
  private final AppConfig config;
  private final Database db;
  private final Server server;
  private final SluiceWiring wiring;
  private final LiteratureStub stub;
  private final String adminToken;
  private final URI baseUri;

  private ChatApp(AppConfig config, Database db, Server server, SluiceWiring wiring,
      LiteratureStub stub, String adminToken, URI baseUri) {
    this.config = config;
    this.db = db;
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
    ChatApp app = start(config);
    Runtime.getRuntime().addShutdownHook(new Thread(app::close, "chat-shutdown"));
    System.out.println("Database: " + app.db.description());
    System.out.println("Literature: " + (config.literatureUrl() == null
        ? "built-in stub at " + app.baseUri.resolve("/stub/eutils/")
            + " (POST /stub/control {\"mode\":\"slow\"|\"failing\"|\"normal\"})"
        : config.literatureUrl()));
    if (config.adminToken() == null) {
      System.out.println("Admin token (X-Admin-Token, for POST /api/system-health and pro"
          + " sessions): " + app.adminToken);
    }
    System.out.println("Dashboard with the admin token: " + app.baseUri.resolve("/dashboard")
        + "#admin=" + app.adminToken);
    System.out.println("Sluice chat example running at " + app.baseUri + " (dashboard: "
        + app.baseUri.resolve("/dashboard") + ")");
    app.server.join();
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
    String adminToken = config.adminToken() != null ? config.adminToken() : randomToken();
    Database db = Database.open(config);
    try {
      Clock clock = Clock.systemUTC();
      SessionStore sessions = new SessionStore(db.dataSource(), clock);
      SluiceWiring wiring = new SluiceWiring(db.dataSource(), config.proChatsPerDay(),
          breakerClock);

      QueuedThreadPool threads = new QueuedThreadPool(200, 8);
      threads.setName("chat-http");
      Server server = new Server(threads);
      ServerConnector connector = new ServerConnector(server);
      connector.setHost(config.host());
      connector.setPort(config.port());
      server.addConnector(connector);
      ServletContextHandler context = new ServletContextHandler();
      context.setContextPath("/");
      server.setHandler(context);

      LiteratureStub stub = new LiteratureStub();
      URI[] base = new URI[1];
      URI literatureBase = config.literatureUrl();
      LiteratureClient literature = new LiteratureClient(
          () -> literatureBase != null ? literatureBase : base[0].resolve("/stub/eutils/"),
          wiring.literatureGuard, Duration.ofSeconds(2), literatureBase != null);
      ConversationStore conversations = new ConversationStore(db.dataSource());
      ApiServlet api = new ApiServlet(literature, conversations, new LiteratureErrors(),
          wiring.errors, wiring.quotas);

      Set<String> protectedPaths = Set.of("/api/chat", "/api/research", "/api/export");
      filter(context, new ErrorCountingFilter(wiring.errors));
      filter(context, wiring.ipFilter);
      filter(context, new AuthFilter(sessions, protectedPaths));
      filter(context, wiring.filter);
      servlet(context, "/api/chat", api);
      servlet(context, "/api/research", api);
      servlet(context, "/api/export", api);
      servlet(context, "/api/session", new SessionServlet(sessions, adminToken));
      servlet(context, "/api/system-health", HealthServlet.builder(wiring.health)
          .adminToken(adminToken)
          .queue(wiring.queue)
          .circuitBreakers(wiring.literatureBreaker)
          .build());
      servlet(context, "/stub/*", stub);
      servlet(context, "/", new StaticServlet());

      server.start();
      int port = connector.getLocalPort();
      String host = config.host().equals("0.0.0.0") ? "127.0.0.1" : config.host();
      URI uri = URI.create("http://" + (host.contains(":") ? "[" + host + "]" : host) + ":"
          + port + "/");
      base[0] = URI.create("http://127.0.0.1:" + port + "/");
      return new ChatApp(config, db, server, wiring, stub, adminToken, uri);
    } catch (Exception | Error e) {
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
   * @return the token {@code X-Admin-Token} must carry
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
    db.close();
  }
}
