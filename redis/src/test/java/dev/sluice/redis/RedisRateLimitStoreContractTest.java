package dev.sluice.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.NanoClock;
import dev.sluice.RateLimitStore;
import dev.sluice.RateLimitStoreException;
import dev.sluice.contract.RateLimitStoreContract;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The contract kit on Redis. Each instance is its own {@link RedisClient} (its own event loops
 * and connection), as two application processes would have.
 */
class RedisRateLimitStoreContractTest extends RateLimitStoreContract {
  /** Generous: the races run 32 threads on a small machine; timeouts have tests of their own. */
  private static final Duration TIMEOUT = Duration.ofSeconds(20);
  private final List<RedisClient> clients = new ArrayList<>();

  @Override
  protected Instance openInstance() {
    RedisClient client = RedisClient.create(TestRedis.uri());
    StatefulRedisConnection<String, String> connection = client.connect();
    return new Instance() {
      @Override
      public RateLimitStore<String> store(String namespace, NanoClock clock) {
        return RedisRateLimitStore.<String>builder(connection, namespace)
            .commandTimeout(TIMEOUT).clock(clock).build();
      }

      @Override
      public void close() {
        connection.close();
        client.shutdown(Duration.ZERO, Duration.ofSeconds(5));
      }
    };
  }

  /** A store whose connection was closed by the application, its client still running. */
  @Override
  protected RateLimitStore<String> unreachableStore() {
    RedisClient client = RedisClient.create(TestRedis.uri());
    clients.add(client);
    StatefulRedisConnection<String, String> connection = client.connect();
    RateLimitStore<String> store = RedisRateLimitStore.create(connection, namespace("closed"));
    connection.close();
    return store;
  }

  /** Lettuce throws from the call itself once its client is shut down: still a store failure. */
  @Test
  void acquireAsync_afterTheClientWasShutDown_completesExceptionally() {
    RedisClient client = RedisClient.create(TestRedis.uri());
    RateLimitStore<String> store = RedisRateLimitStore.create(client.connect(), namespace("shut"));
    client.shutdown(Duration.ZERO, Duration.ofSeconds(5));

    assertThat(store.acquireAsync("k", 1_000, 5_000).toCompletableFuture())
        .failsWithin(Duration.ofSeconds(5))
        .withThrowableOfType(ExecutionException.class)
        .withCauseInstanceOf(RateLimitStoreException.class);
  }

  @AfterEach
  void closeClients() {
    for (RedisClient client : clients) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(5));
    }
    clients.clear();
  }
}
