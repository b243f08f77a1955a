package dev.sluice.example.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AppConfigTest {

  @Test
  void parse_defaults_areLoopback8080EmbeddedDatabaseAndTheStub() {
    AppConfig c = AppConfig.parse(new String[0], Map.of());
    assertThat(c.host()).isEqualTo("127.0.0.1");
    assertThat(c.port()).isEqualTo(8080);
    assertThat(c.dbUrl()).isNull();
    assertThat(c.literatureUrl()).isNull();
    assertThat(c.proChatsPerDay()).isEqualTo(100);
  }

  @Test
  void parse_flagsWinOverTheEnvironment() {
    AppConfig c = AppConfig.parse(new String[] {"--port", "0", "--db-url=jdbc:postgresql://db/x",
        "--literature-url", "ncbi"}, Map.of("PORT", "9000", "SLUICE_DB_URL", "jdbc:other",
        "SLUICE_PRO_CHATS", "50"));
    assertThat(c.port()).isZero();
    assertThat(c.dbUrl()).isEqualTo("jdbc:postgresql://db/x");
    assertThat(c.literatureUrl()).isEqualTo(AppConfig.NCBI);
    assertThat(c.proChatsPerDay()).isEqualTo(50);
  }

  @Test
  void parse_rejectsUnknownFlagsAndBadNumbers() {
    assertThatThrownBy(() -> AppConfig.parse(new String[] {"--prot", "1"}, Map.of()))
        .hasMessageContaining("--prot");
    assertThatThrownBy(() -> AppConfig.parse(new String[] {"--port", "x"}, Map.of()))
        .hasMessageContaining("port");
    assertThatThrownBy(() -> AppConfig.parse(new String[] {"--port"}, Map.of()))
        .hasMessageContaining("needs a value");
  }

  @Test
  void parse_rateLimitStore_defaultsToMemory_andReadsTheFlagOrTheEnvironment() {
    assertThat(AppConfig.parse(new String[0], Map.of()).rateLimitStore())
        .isEqualTo(AppConfig.LimitStore.MEMORY);
    assertThat(AppConfig.defaults().rateLimitStore()).isEqualTo(AppConfig.LimitStore.MEMORY);
    assertThat(AppConfig.parse(new String[] {"--rate-limit-store", "postgres"}, Map.of())
        .rateLimitStore()).isEqualTo(AppConfig.LimitStore.POSTGRES);
    AppConfig.LimitStore redis = AppConfig.parse(new String[0],
        Map.of("SLUICE_RATE_LIMIT_STORE", "redis://cache.internal:6380")).rateLimitStore();
    assertThat(redis.kind()).isEqualTo(AppConfig.LimitStore.Kind.REDIS);
    assertThat(redis.redisUri().getHost()).isEqualTo("cache.internal");
    assertThat(redis.redisUri().getPort()).isEqualTo(6380);
    assertThat(redis.shared()).isTrue();
    assertThat(AppConfig.parse(new String[] {"--rate-limit-store=memory"},
        Map.of("SLUICE_RATE_LIMIT_STORE", "postgres")).rateLimitStore())
        .as("the flag wins").isEqualTo(AppConfig.LimitStore.MEMORY);
  }

  @Test
  void parse_rateLimitStore_hidesARedisPassword() {
    AppConfig.LimitStore redis = AppConfig.LimitStore.parse("rediss://:s3cret@cache:6379/0");
    assertThat(redis.toString()).isEqualTo("rediss://***@cache:6379/0").doesNotContain("s3cret");
    assertThat(redis.redisUri().toString()).contains("s3cret");
  }

  @Test
  void parse_rateLimitStore_rejectsOtherValues_namingTheFlagAndTheAcceptedForms() {
    for (String bad : new String[] {"mysql", "redis", "http://cache:6379", "redis://",
        "redis://:6379", "redis://host:port"}) {
      assertThatThrownBy(() -> AppConfig.parse(new String[] {"--rate-limit-store", bad}, Map.of()))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--rate-limit-store")
          .hasMessageContaining("memory, postgres or redis://host:port");
    }
  }

  @Test
  void exports_csvQuotesCellsAndDefusesFormulas() {
    assertThat(Exports.cell("a \"b\", c")).isEqualTo("\"a \"\"b\"\", c\"");
    assertThat(Exports.cell("=HYPERLINK(1)")).isEqualTo("\"'=HYPERLINK(1)\"");
    assertThat(Exports.csv(List.of())).isEqualTo("time,kind,question,answer,sources\r\n");
  }
}
