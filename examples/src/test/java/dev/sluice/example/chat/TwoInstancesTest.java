package dev.sluice.example.chat;

import dev.sluice.testing.RedisServer;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.sluice.NanoClock;
import dev.sluice.testing.ManualClock;
import dev.sluice.testing.TestDatabase;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two instances of the app, as two machines behind a load balancer run them: in one JVM, but
 * each with its own Jetty server, connection pool and (for Redis) Lettuce client, on one
 * PostgreSQL database. One client, 127.0.0.1, alternates between them over real sockets.
 *
 * <p>The rate limits of both instances run on one {@link ManualClock}, as they would share the
 * store server's clock: the test moves it by an emission interval instead of waiting for one, and
 * no pause of the machine can refill a bucket behind its back. (With a clock given, the stores
 * call their test-only twin: {@code sluice.rate_limit_acquire_at}, the Redis script with a time
 * argument; the server-clock paths are the stores' own modules' tests.)
 *
 * <p>The app's defaults are the original system's numbers, used as they are: chat 5 a minute per
 * IP, new sessions 10 a minute per IP, free plan 3 chats a day per user.
 */
class TwoInstancesTest {
  private static final Duration EMISSION_INTERVAL = Duration.ofSeconds(12); // 1 min / 5 chats
  /**
   * The bound on one Redis decision here: one no busy machine reaches. The store's 100 ms default
   * can pass on a loaded test machine (the first decision also loads the script), and the per-IP
   * rules would then fail open and count wrong.
   */
  private static final Duration PATIENT = Duration.ofSeconds(20);

  private final Deque<AutoCloseable> opened = new ArrayDeque<>();
  private TestDatabase db;

  @BeforeEach
  void createDatabase() {
    db = TestApps.database();
    opened.push(db);
  }

  @AfterEach
  void stopEverything() throws Exception {
    while (!opened.isEmpty()) {
      opened.pop().close();
    }
  }

  @Test
  void postgresStore_bothInstancesShareOnePerIpLimit_oneQuota_andTheSessions() throws Exception {
    sharedLimitScenario(AppConfig.LimitStore.POSTGRES);
  }

  @Test
  void redisStore_bothInstancesShareOnePerIpLimit_oneQuota_andTheSessions() throws Exception {
    String uri = TestRedis.uri();
    forgetLoopbackKeys(uri);
    sharedLimitScenario(AppConfig.LimitStore.parse(uri));
  }

  /** The failure shared stores fix: in memory, each instance allows its own 5 a minute. */
  @Test
  void memoryStore_eachInstanceCountsOnItsOwn_soOneClientGetsTwiceTheLimit() throws Exception {
    ManualClock limits = new ManualClock();
    AppConfig config = TestApps.config(db);
    Http a = new Http(start(config, limits).baseUri());
    Http b = new Http(start(config, limits).baseUri());
    List<String> users = List.of(a.token(), b.token(), a.token(), b.token(), a.token());

    List<Integer> statuses = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      statuses.add((i % 2 == 0 ? a : b).chat(users.get(i / 2 % 5), "sleep " + i).statusCode());
    }
    assertThat(statuses).as("5 per instance, 10 in all")
        .containsExactly(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 429, 429);
  }

  private void sharedLimitScenario(AppConfig.LimitStore store) throws Exception {
    ManualClock limits = new ManualClock();
    AppConfig config = TestApps.config(db).withRateLimitStore(store);
    ChatApp appA = start(config, limits);
    ChatApp appB = start(config, limits);
    assertThat(appA.baseUri().getPort()).isNotEqualTo(appB.baseUri().getPort());
    Http a = new Http(appA.baseUri());
    Http b = new Http(appB.baseUri());

    // Sessions live in the shared database: each token below is used on the other instance
    // than the one that issued it, and also on its own.
    String fromB0 = b.token();
    String fromA = a.token();
    String fromB1 = b.token();
    List<String> users = List.of(fromB0, fromA, fromB1);

    // Per IP: 5 chats a minute from 127.0.0.1 in all, whichever instance answers. Three users
    // take turns, so none reaches the quota (3 a day) among the 5 allowed: the refusals are the
    // per-IP limit.
    List<Integer> statuses = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      HttpResponse<String> r = (i % 2 == 0 ? a : b).chat(users.get(i % 3), "sleep " + i);
      statuses.add(r.statusCode());
      if (r.statusCode() != 200) {
        errors.add(Http.json(r).path("error").asText());
        assertThat(r.headers().firstValue("Retry-After")).isPresent();
      }
    }
    assertThat(statuses).as("5 in all across both instances, then refused on both")
        .containsExactly(200, 200, 200, 200, 200, 429, 429, 429);
    assertThat(errors).containsOnly("rate_limited");

    // One emission interval later on the shared clock: exactly one more chat, on either instance.
    limits.advance(EMISSION_INTERVAL);
    HttpResponse<String> refilled = b.chat(fromB1, "refilled");
    assertThat(refilled.statusCode()).as(refilled.body()).isEqualTo(200);
    HttpResponse<String> again = a.chat(fromB1, "again");
    assertThat(again.statusCode()).isEqualTo(429);
    assertThat(Http.json(again).path("error").asText()).isEqualTo("rate_limited");

    // Per user: 3 chats a day in all, across both instances. A minute later the per-IP bucket is
    // full again (5), enough for the 3 allowed and 2 refused here.
    limits.advance(Duration.ofMinutes(1));
    String quotaUser = b.token();
    for (int i = 1; i <= 3; i++) {
      HttpResponse<String> ok = (i % 2 == 1 ? a : b).chat(quotaUser, "quota " + i);
      assertThat(ok.statusCode()).as(ok.body()).isEqualTo(200);
      assertThat(Http.json(ok).path("quota").path("remaining").asLong()).isEqualTo(3 - i);
    }
    for (Http instance : List.of(b, a)) {
      HttpResponse<String> over = instance.chat(quotaUser, "one more");
      assertThat(over.statusCode()).isEqualTo(429);
      JsonNode body = Http.json(over);
      assertThat(body.path("error").asText()).isEqualTo("quota_exceeded");
      assertThat(body.path("used").asLong()).isEqualTo(3);
      assertThat(body.path("limit").asLong()).isEqualTo(3);
    }

    // Each instance's health report shows the store; their decisions add up to every request
    // the per-IP limits saw: 4 sessions and 8 + 2 + 5 chats.
    JsonNode storeA = storeHealth(a);
    JsonNode storeB = storeHealth(b);
    for (JsonNode s : List.of(storeA, storeB)) {
      assertThat(s.path("figures").path("store").asText()).isEqualTo(store.toString());
      assertThat(s.path("figures").path("shared").asBoolean()).isTrue();
      assertThat(s.path("figures").path("failures").asLong()).isZero();
      assertThat(s.path("figures").path("failing").asBoolean()).isFalse();
      assertThat(s.path("score").asInt()).isEqualTo(100);
    }
    assertThat(storeA.path("figures").path("decisions").asLong()
        + storeB.path("figures").path("decisions").asLong()).isEqualTo(4 + 8 + 2 + 5);
  }

  /**
   * The per-IP rules fail open: with Redis gone, chats still go through (behind authentication,
   * the quota in PostgreSQL and the queue), and the health report says the store is failing:
   * degraded, not down.
   */
  @Test
  void redisStore_whenRedisStops_perIpLimitsFailOpen_andTheHealthReportShowsTheStore()
      throws Exception {
    RedisServer redis = TestRedis.startOwnServer();
    opened.push(redis::stop);
    ManualClock limits = new ManualClock();
    ChatApp app = start(TestApps.config(db)
        .withRateLimitStore(AppConfig.LimitStore.parse(redis.uri())), limits);
    Http http = new Http(app.baseUri());
    String token = http.token();
    assertThat(http.chat(token, "before").statusCode()).isEqualTo(200);

    redis.stop();
    HttpResponse<String> during = http.chat(token, "during");
    assertThat(during.statusCode()).as("fails open: " + during.body()).isEqualTo(200);
    assertThat(app.wiring().ipFilter.stats().storeFailures()).isEqualTo(1);

    HttpResponse<String> health = http.get("/api/system-health", "Authorization",
        "Bearer " + TestApps.ADMIN);
    JsonNode report = Http.json(health);
    assertThat(health.statusCode()).as("degraded answers 200").isEqualTo(200);
    assertThat(report.path("status").asText()).isEqualTo("degraded");
    JsonNode store = component(report, "rate-limit-store");
    assertThat(store.path("score").asInt()).isZero();
    JsonNode figures = store.path("figures");
    assertThat(figures.path("store").asText()).isEqualTo(redis.uri());
    assertThat(figures.path("decisions").asLong()).as("the session and the first chat")
        .isEqualTo(2);
    assertThat(figures.path("failures").asLong()).isEqualTo(1);
    assertThat(figures.path("failing").asBoolean()).isTrue();
    assertThat(figures.path("lastFailure").asText()).contains("Redis rate-limit store 'chat'");
    assertThat(figures.path("pingError").asText()).isNotEmpty();
    assertThat(store.path("recommendations").toString())
        .contains("per-IP limits let requests through unlimited");
  }

  private ChatApp start(AppConfig config, NanoClock limits) throws Exception {
    ChatApp app = ChatApp.start(config, NanoClock.system(),
        new LimitStores.Overrides(limits, PATIENT), Map.of(), SluiceWiring.MAX_QUEUED);
    opened.push(app);
    return app;
  }

  private static JsonNode storeHealth(Http http) throws Exception {
    HttpResponse<String> r = http.get("/api/system-health", "Authorization",
        "Bearer " + TestApps.ADMIN);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonNode store = component(Http.json(r), "rate-limit-store");
    assertThat(store.isMissingNode()).as(r.body()).isFalse();
    return store;
  }

  private static JsonNode component(JsonNode report, String name) {
    for (JsonNode c : report.path("components")) {
      if (c.path("name").asText().equals(name)) {
        return c;
      }
    }
    return MissingNode.getInstance();
  }

  /**
   * Deletes the app's keys for 127.0.0.1 from an earlier run on the same server (an external
   * {@code SLUICE_TEST_REDIS_URL}): written on another clock, they would refuse this run.
   */
  private static void forgetLoopbackKeys(String uri) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      List<String> keys = connection.sync().keys("sluice:rl:*:{127.0.0.1}");
      if (!keys.isEmpty()) {
        connection.sync().del(keys.toArray(new String[0]));
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(5));
    }
  }
}
