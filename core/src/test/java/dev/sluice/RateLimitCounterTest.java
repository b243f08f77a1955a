package dev.sluice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RateLimitCounterTest {
  private final ManualClock clock = new ManualClock();
  private final RateLimitCounter counter =
      RateLimitCounter.create("chat", Duration.ofMinutes(1), clock);

  private RateLimiter<String> chat(int perMinute) {
    return counter.wrap(RateLimiter.builder().name("chat")
        .limit(perMinute, Duration.ofMinutes(1)).clock(clock).build());
  }

  @Test
  void oneClientHammeringItsLimit_scores100_andStillReportsRequestFigures() {
    RateLimiter<String> chat = chat(6);
    for (int i = 0; i < 300; i++) {
      chat.tryAcquire("203.0.113.7");
    }
    ComponentHealth c = HealthContributors.rateLimiter(counter).check();
    assertThat(c.name()).isEqualTo("ratelimit:chat");
    assertThat(c.score()).isEqualTo(100);
    assertThat(c.recommendations()).isEmpty();
    assertThat(c.figures()).containsExactly(
        entry("requests", 300L), entry("allowed", 6L), entry("rejected", 294L),
        entry("rejectedPercent", 98.0), entry("clients", 1L), entry("rejectedClients", 1L),
        entry("rejectedClientsPercent", 100.0));
  }

  @Test
  void oneClientHammering_amongNinetyNineOrdinaryClients_staysHealthy() {
    RateLimiter<String> chat = chat(6);
    for (int i = 0; i < 300; i++) {
      chat.tryAcquire("203.0.113.7");
    }
    for (int i = 0; i < 99; i++) {
      assertThat(chat.tryAcquirePermit("10.0.0." + i)).isTrue();
    }
    RateLimitCounter.Snapshot s = counter.snapshot();
    assertThat(s).isEqualTo(new RateLimitCounter.Snapshot("chat", 399, 294, 100, 1));
    ComponentHealth c = HealthContributors.rateLimiter(counter).check();
    // 1 % of clients against a 10 % target: 100 - 15 * 0.1.
    assertThat(c.score()).isEqualTo(98);
    assertThat(c.recommendations()).isEmpty();
  }

  @Test
  void fiftyClientsEachRefused_degradesTheReport_withARecommendation() {
    RateLimiter<String> chat = chat(1);
    for (int i = 0; i < 50; i++) {
      assertThat(chat.tryAcquire("10.1.0." + i).allowed()).isTrue();
      assertThat(chat.tryAcquire("10.1.0." + i).allowed()).isFalse();
    }
    assertThat(counter.snapshot())
        .isEqualTo(new RateLimitCounter.Snapshot("chat", 100, 50, 50, 50));
    HealthReport r = HealthMonitor.builder()
        .add(HealthContributors.rateLimiter(counter), 0.5).build().report();
    assertThat(r.components().get(0).score()).isZero();
    assertThat(r.score()).isEqualTo(50);
    assertThat(r.status()).isEqualTo(HealthStatus.DEGRADED);
    assertThat(r.recommendations()).containsExactly(
        "50 of 50 clients (100.0 %) of 'chat' were rate-limited over the last 60 s (target "
            + "< 10.0 %): if the traffic is legitimate, raise the limit; if it is an attack from "
            + "many addresses, block it upstream");
  }

  @Test
  void aTenthOfClientsRefused_isAtTheTarget_degraded84() {
    RateLimiter<String> chat = chat(1);
    for (int i = 0; i < 100; i++) {
      chat.tryAcquire("user-" + i);
      if (i % 10 == 0) {
        chat.tryAcquire("user-" + i);
      }
    }
    ComponentHealth c = HealthContributors.rateLimiter(counter).check();
    assertThat(c.figures()).containsEntry("clients", 100L).containsEntry("rejectedClients", 10L)
        .containsEntry("rejectedPercent", 9.1);
    assertThat(c.score()).isEqualTo(84);
    assertThat(c.recommendations()).hasSize(1);
  }

  @Test
  void fewerClientsThanTheMinimum_neverDegrade_evenWhenAllAreRefused() {
    RateLimiter<String> chat = chat(1);
    for (int i = 0; i < 19; i++) {
      chat.tryAcquire("k" + i);
      chat.tryAcquire("k" + i);
    }
    assertThat(HealthContributors.rateLimiter(counter).check().score()).isEqualTo(100);
    chat.tryAcquire("k19");
    chat.tryAcquire("k19");
    assertThat(HealthContributors.rateLimiter(counter).check().score()).isZero();
    assertThat(HealthContributors.rateLimiter(counter, 0.1, 21).check().score()).isEqualTo(100);
  }

  @Test
  void refusals_leaveTheWindow_afterItsLength() {
    RateLimiter<String> chat = chat(1);
    for (int i = 0; i < 50; i++) {
      chat.tryAcquire("old-" + i);
      chat.tryAcquire("old-" + i);
    }
    clock.advance(Duration.ofSeconds(30));
    for (int i = 0; i < 30; i++) {
      chat.tryAcquire("new-" + i);
    }
    assertThat(counter.snapshot())
        .isEqualTo(new RateLimitCounter.Snapshot("chat", 130, 50, 80, 50));
    // The window moves in 5 s steps: 60 s after the first bucket opened, it is gone.
    clock.advance(Duration.ofSeconds(30));
    assertThat(counter.snapshot())
        .isEqualTo(new RateLimitCounter.Snapshot("chat", 30, 0, 30, 0));
    assertThat(HealthContributors.rateLimiter(counter).check().score()).isEqualTo(100);
    clock.advance(Duration.ofSeconds(30));
    assertThat(counter.snapshot()).isEqualTo(new RateLimitCounter.Snapshot("chat", 0, 0, 0, 0));
    assertThat(counter.stats()).isEqualTo(new ErrorStats("chat", 0, 0));
  }

  @Test
  void aMillionDistinctKeys_doNotGrowTheCounter_andAreEstimatedWithinTenPercent() {
    long before = counter.stateBytes();
    for (int key = 0; key < 1_000_000; key++) {
      counter.record(key, key % 2 == 0);
    }
    assertThat(counter.stateBytes()).isEqualTo(before).isLessThan(64 * 1024);
    RateLimitCounter.Snapshot s = counter.snapshot();
    assertThat(s.requests()).isEqualTo(1_000_000);
    assertThat(s.rejected()).isEqualTo(500_000);
    // The sketch's standard error is about 3 %; ten per cent is over three standard errors.
    assertThat(s.clients()).isBetween(900_000L, 1_100_000L);
    assertThat(s.rejectedClients()).isBetween(450_000L, 550_000L);
    assertThat(HealthContributors.rateLimiter(counter).check().score()).isZero();
  }

  @Test
  void stats_countsAllowedAsSuccessesAndRefusedAsFailures() {
    RateLimiter<String> chat = chat(5);
    for (int i = 0; i < 10; i++) {
      chat.tryAcquire("user-" + (i % 2));
    }
    for (int i = 0; i < 10; i++) {
      chat.tryAcquirePermit("user-1");
    }
    chat.tryAcquire("user-2", 5);
    chat.tryAcquire("user-2", 1);
    assertThat(counter.stats()).isEqualTo(new ErrorStats("chat", 11, 11));
    assertThat(counter.snapshot().clients()).isEqualTo(3);
    assertThat(counter.snapshot().rejectedClients()).isEqualTo(2);
  }

  @Test
  void badArguments_areRejectedNamingTheArgument() {
    assertThatThrownBy(() -> counter.record(null, true))
        .isInstanceOf(NullPointerException.class).hasMessage("key");
    assertThatThrownBy(() -> counter.record("k", (RateLimitDecision) null))
        .isInstanceOf(NullPointerException.class).hasMessage("decision");
    assertThatThrownBy(() -> HealthContributors.rateLimiter(counter, 0.1, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minClients must be >= 1 but was 0");
    assertThatThrownBy(() -> HealthContributors.rateLimiter(counter, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxRejectedShare must be in (0, 1] but was 0.0");
  }

  private static java.util.Map.Entry<String, Object> entry(String key, Object value) {
    return java.util.Map.entry(key, value);
  }
}
