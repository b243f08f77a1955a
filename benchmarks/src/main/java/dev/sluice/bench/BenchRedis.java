package dev.sluice.bench;

import dev.sluice.testing.RedisServer;
import java.io.IOException;

/**
 * The Redis server the Redis tables run against, chosen once per JVM.
 *
 * <ol>
 *   <li>{@value #BENCH_URL} (system property, else environment), such as
 *       {@code redis://127.0.0.1:6379}: that server.
 *   <li>else {@value #TEST_URL}, the Redis tests' setting: that server.
 *   <li>else a {@code redis-server} from the {@code PATH}, started on a free loopback port with
 *       persistence off ({@code --save "" --appendonly no}) and stopped when the JVM exits.
 *       {@link Tables} starts it once and hands its URL to every forked JVM of a table, so all
 *       rows of a table share one server.
 *   <li>else {@link #uri()} fails, saying what to set.
 * </ol>
 *
 * <p>The benchmarks write only keys under {@code sluice:rl:bench-*} and {@code bench:*}, every one
 * with an expiry, so a shared server is left as it was within a minute.
 */
final class BenchRedis {
  /** The benchmarks' own setting: {@value}. */
  static final String BENCH_URL = "SLUICE_BENCH_REDIS_URL";
  /** The Redis tests' setting, used when {@value #BENCH_URL} is not set: {@value}. */
  static final String TEST_URL = "SLUICE_TEST_REDIS_URL";

  private static String uri;
  private static String description;
  private static RedisServer started;

  private BenchRedis() {}

  /**
   * Says which server {@link #uri()} uses (or would use), without starting one.
   *
   * @return a description for the results
   */
  static synchronized String choice() {
    if (description != null) {
      return description;
    }
    String configured = configured();
    if (configured != null) {
      return describeConfigured(configured);
    }
    String binary = RedisServer.findBinary().orElse(null);
    return binary == null ? "none: no " + BENCH_URL + ", no " + TEST_URL + ", no redis-server"
        : "a redis-server started from " + binary + " (persistence off)";
  }

  /**
   * The server of this JVM, started on first use if none is configured.
   *
   * @return a {@code redis://} URI
   * @throws IllegalStateException if no server is configured and none could be started, saying
   *     what to set
   */
  static synchronized String uri() {
    if (uri != null) {
      return uri;
    }
    String configured = configured();
    if (configured != null) {
      uri = configured;
      description = describeConfigured(configured);
      return uri;
    }
    String binary = RedisServer.findBinary().orElse(null);
    if (binary == null) {
      throw new IllegalStateException("no Redis for the Redis benchmarks: set " + BENCH_URL
          + "=redis://host:6379 (or " + TEST_URL + "), or put redis-server on the PATH"
          + " (Debian: apt-get install redis-server)");
    }
    try {
      uri = start();
    } catch (IOException e) {
      throw new IllegalStateException("no Redis for the Redis benchmarks: redis-server ("
          + binary + ") did not start: " + e.getMessage() + "; set " + BENCH_URL
          + "=redis://host:6379 to use a running server", e);
    }
    description = "a redis-server started at " + uri + " from " + binary + " (persistence off)";
    return uri;
  }

  /**
   * Whether this JVM started the server {@link #uri()} returned (then its URL must be handed to
   * forked JVMs).
   *
   * @return true if a redis-server was started here
   */
  static synchronized boolean startedHere() {
    return started != null;
  }

  private static String configured() {
    String url = setting(BENCH_URL);
    return url != null ? url : setting(TEST_URL);
  }

  private static String describeConfigured(String url) {
    String which = setting(BENCH_URL) != null ? BENCH_URL : TEST_URL;
    return which + " " + url.replaceAll(":[^:@/]*@", ":***@");
  }

  private static String start() throws IOException {
    RedisServer server = RedisServer.start();
    started = server;
    Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "bench-redis-stop"));
    return server.uri();
  }

  private static String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name);
    }
    return value == null || value.isBlank() ? null : value.trim();
  }
}
