package dev.sluice.redis;

import dev.sluice.testing.RedisServer;
import java.io.IOException;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds the Redis server the tests run against, once per JVM.
 *
 * <ul>
 *   <li>{@code SLUICE_TEST_REDIS_URL} (environment or system property) set, such as
 *       {@code redis://127.0.0.1:6379}: that server. Tests use namespaces of their own and leave
 *       only keys that expire.
 *   <li>otherwise a {@code redis-server} on the {@code PATH}, started by the tests on a free
 *       loopback port with persistence off ({@code --save "" --appendonly no}) and stopped at exit.
 *   <li>otherwise every Redis test is skipped with the reason (and fails under {@code CI=true}).
 * </ul>
 *
 * <p>Tests that stop, restart or pause a server ({@link #startOwnServer}) always start one of their
 * own, and are skipped (failing under {@code CI=true}) without {@code redis-server} on the PATH.
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
    System.err.println("SKIPPING Redis tests: " + reason);
    return Assumptions.abort("SKIPPED: " + reason);
  }
}
