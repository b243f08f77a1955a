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
  void exports_csvQuotesCellsAndDefusesFormulas() {
    assertThat(Exports.cell("a \"b\", c")).isEqualTo("\"a \"\"b\"\", c\"");
    assertThat(Exports.cell("=HYPERLINK(1)")).isEqualTo("\"'=HYPERLINK(1)\"");
    assertThat(Exports.csv(List.of())).isEqualTo("time,kind,question,answer,sources\r\n");
  }
}
