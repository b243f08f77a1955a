package dev.sluice.redis;

import dev.sluice.testing.RedisServer;
import dev.sluice.testing.Await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RateLimiter;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.time.Duration;
import java.util.UUID;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The store on Redis Cluster through Lettuce's cluster client: a one-node cluster owning every
 * slot, started by the test, which is enough to show the script's key is routed by its slot and
 * that the hash tag is the key text.
 */
class RedisClusterRateLimitStoreTest {
  private RedisServer server;
  private RedisClusterClient cluster;

  @AfterEach
  void tearDown() {
    if (cluster != null) {
      cluster.shutdown(Duration.ZERO, Duration.ofSeconds(5));
    }
    if (server != null) {
      server.stop();
    }
  }

  @Test
  void tryAcquire_onACluster_decidesByTheKeysSlotAndKeepsEachKeysLimit() throws Exception {
    server = TestRedis.startOwnServer(
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
    assignAllSlots(server.uri());
    cluster = RedisClusterClient.create(server.uri());
    StatefulRedisClusterConnection<String, String> connection = cluster.connect();
    String ns = "cluster_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
    RedisRateLimitStore<String> store = RedisRateLimitStore.<String>builder(connection, ns)
        .commandTimeout(Duration.ofSeconds(20)).build();
    RateLimiter<String> limiter = RateLimiter.builder().name("cluster")
        .limit(3, Duration.ofHours(1)).build(store);

    for (String key : new String[] {"203.0.113.9", "user:42", "2001:db8::/64"}) {
      for (int i = 0; i < 3; i++) {
        assertThat(limiter.tryAcquire(key).allowed()).as("%s call %d", key, i).isTrue();
      }
      assertThat(limiter.tryAcquire(key).allowed()).as(key).isFalse();
      assertThat(SlotHash.getSlot(store.redisKey(key))).isEqualTo(SlotHash.getSlot(key));
    }
  }

  /** Gives the one node every slot and waits (at most 30 s) for the cluster to say it is ok. */
  private static void assignAllSlots(String uri) throws InterruptedException {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      assertThat(c.sync().clusterAddSlots(IntStream.range(0, SlotHash.SLOT_COUNT).toArray()))
          .isEqualTo("OK");
      Await.until(() -> c.sync().clusterInfo().contains("cluster_state:ok"),
          Duration.ofSeconds(30), "cluster_state:ok");
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(5));
    }
  }
}
