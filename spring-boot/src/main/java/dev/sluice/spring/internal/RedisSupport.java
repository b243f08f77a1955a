package dev.sluice.spring.internal;

import dev.sluice.RateLimitStore;
import dev.sluice.redis.RedisRateLimitStore;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import org.springframework.beans.factory.ListableBeanFactory;

/**
 * Everything that names {@code sluice-redis}'s and Lettuce's classes, so the starter loads them
 * only when the Redis store is configured (the module is an optional dependency).
 *
 * <p>The connection is the application's {@code StatefulRedisConnection<String, String>} bean
 * when there is one; otherwise one connection from the application's {@code RedisClient} bean,
 * or from a client made for {@code sluice.store.redis.uri}. What this class opens it closes.
 *
 * <p>Thread-safe once built.
 */
public final class RedisSupport implements AutoCloseable {
  /** The class whose presence means {@code sluice-redis} is on the class path. */
  public static final String MARKER = "dev.sluice.redis.RedisRateLimitStore";

  private final StatefulRedisConnection<String, String> connection;
  private final boolean ownsConnection;
  private final RedisClient ownClient;
  private final Duration commandTimeout;
  private final String prefix;

  private RedisSupport(StatefulRedisConnection<String, String> connection, boolean owns,
      RedisClient ownClient, Duration commandTimeout, String prefix) {
    this.connection = connection;
    this.ownsConnection = owns;
    this.ownClient = ownClient;
    this.commandTimeout = commandTimeout;
    this.prefix = prefix;
  }

  /**
   * Finds or opens the connection.
   *
   * @param beans the application's beans
   * @param uri {@code sluice.store.redis.uri}, or null
   * @param commandTimeout {@code sluice.store.redis.command-timeout}
   * @param prefix {@code sluice.store.redis.prefix}
   * @return the support object, to be closed at shutdown
   * @throws IllegalStateException if there is no connection, client or URI
   */
  @SuppressWarnings("unchecked")
  public static RedisSupport open(ListableBeanFactory beans, String uri, Duration commandTimeout,
      String prefix) {
    StatefulRedisConnection<String, String> existing =
        beans.getBeanProvider(StatefulRedisConnection.class).getIfUnique();
    if (existing != null) {
      return new RedisSupport(existing, false, null, commandTimeout, prefix);
    }
    RedisClient client = beans.getBeanProvider(RedisClient.class).getIfUnique();
    if (client != null) {
      return new RedisSupport(client.connect(), true, null, commandTimeout, prefix);
    }
    if (uri == null || uri.isBlank()) {
      throw new IllegalStateException("sluice.store.type=redis needs sluice.store.redis.uri "
          + "(such as redis://localhost:6379), or a Lettuce RedisClient or "
          + "StatefulRedisConnection<String, String> bean");
    }
    RedisClient own = RedisClient.create(uri);
    try {
      return new RedisSupport(own.connect(), true, own, commandTimeout, prefix);
    } catch (RuntimeException e) {
      own.shutdown();
      throw new IllegalStateException("sluice.store.redis.uri: cannot connect to Redis at "
          + uri.replaceAll(":[^:@/]*@", ":***@") + ": " + e.getMessage(), e);
    }
  }

  /**
   * A Redis store for one limiter.
   *
   * @param namespace the limiter's name
   * @return the store
   */
  public RateLimitStore<String> store(String namespace) {
    return RedisRateLimitStore.<String>builder(connection, namespace)
        .prefix(prefix)
        .commandTimeout(commandTimeout)
        .build();
  }

  @Override
  public void close() {
    if (ownsConnection) {
      connection.close();
    }
    if (ownClient != null) {
      ownClient.shutdown();
    }
  }
}
