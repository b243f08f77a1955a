package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.RateLimitDecision;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class RateLimitHeadersTest {
  private static final long MINUTE = Duration.ofMinutes(1).toNanos();

  @Test
  void headers_useStructuredFieldSyntax() {
    RateLimitDecision refused = new RateLimitDecision(
        false, 5, 0, 12_000_000_000L, 60_000_000_000L, MINUTE, "chat");
    assertThat(RateLimitHeaders.policy(List.of(refused))).isEqualTo("\"chat\";q=5;w=60");
    assertThat(RateLimitHeaders.state(List.of(refused))).isEqualTo("\"chat\";r=0;t=60");
  }

  @Test
  void headers_listSeveralPoliciesAndRoundSecondsUp() {
    RateLimitDecision ip = new RateLimitDecision(true, 5, 3, 0, 24_000_000_001L, MINUTE, "chat-ip");
    RateLimitDecision user = new RateLimitDecision(
        true, 10, 9, 0, 6_000_000_000L, Duration.ofSeconds(90).toNanos(), "chat-user");
    assertThat(RateLimitHeaders.policy(List.of(ip, user)))
        .isEqualTo("\"chat-ip\";q=5;w=60, \"chat-user\";q=10;w=90");
    assertThat(RateLimitHeaders.state(List.of(ip, user)))
        .isEqualTo("\"chat-ip\";r=3;t=25, \"chat-user\";r=9;t=6");
  }

  @Test
  void sfString_escapesQuotesAndReplacesNonAscii() {
    assertThat(RateLimitHeaders.sfString("a\"b\\c\u00e9\n")).isEqualTo("\"a\\\"b\\\\c__\"");
  }
}
