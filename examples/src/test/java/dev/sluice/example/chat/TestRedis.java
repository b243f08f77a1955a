package dev.sluice.example.chat;

import dev.sluice.testing.RedisServer;
import java.io.IOException;
import org.junit.jupiter.api.Assumptions;

/**
 * The Redis server the app's tests run against, as the sluice-redis tests find theirs (this is a
 * trimmed copy of {@code redis/src/test/.../TestRedis.java}: that module publishes no test jar,
 * and sluice-testing has no Redis helper):
 *
 * <ul>
 *   <li>{@code SLUICE_TEST_REDIS_URL} (system property, else environment) set: that server;
 *   <li>otherwise a {@code redis-server} on the {@code PATH}, started on a free loopback port with
 *       persistence off and stopped at exit;
 *   <li>otherwise the calling test is skipped with the reason printed (it fails under
 *       {@code CI=true}).
 * </ul>
 *
 * <p>{@link #startOwnServer()} starts a server the calling test may stop; it needs
 * {@code redis-server} on the PATH whatever the setting.
 */
final class TestRedis {
  private TestRedis() {}

  /** The URI of this run's shared server; skips the calling test if there is none. */
  static String uri() {
    try {
      return RedisServer.sharedUri();
    } catch (IllegalStateException e) {
      return skip(e.getMessage());
    }
  }

  /**
   * Starts a redis-server of the calling test's own on a free loopback port; skips the test if
   * there is no redis-server on the PATH (fails under {@code CI=true}).
   *
   * @param extraArgs more server arguments, such as {@code --cluster-enabled yes}
   */
  static RedisServer startOwnServer(String... extraArgs) throws IOException {
    if (RedisServer.findBinary().isEmpty()) {
      skip("no redis-server on the PATH");
    }
    return RedisServer.start(extraArgs);
  }

  /** Skips the calling test with the reason printed; fails it under {@code CI=true}. */
  private static <T> T skip(String reason) {
    if ("true".equals(System.getenv("CI"))) {
      throw new IllegalStateException(reason);
    }
    System.err.println("SKIPPING app tests on Redis: " + reason);
    return Assumptions.abort("SKIPPED: " + reason);
  }
}
