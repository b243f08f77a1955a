package dev.sluice.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;

/** Runs on the server TestPostgres chooses: SLUICE_TEST_JDBC_URL, else embedded PostgreSQL. */
class TestPostgresTest {

  @Test
  void createDatabase_isFreshAndUsable_andCloseDropsIt() throws Exception {
    TestPostgres pg = TestPostgres.shared();
    assertThat(TestPostgres.shared()).as("one server per JVM").isSameAs(pg);
    String name;
    try (TestDatabase db = pg.createDatabase()) {
      name = db.name();
      assertThat(name).matches("sluice_test_[0-9a-f]{12}");
      db.execute("CREATE TABLE t (v int)", "INSERT INTO t VALUES (41), (1)");
      try (Connection c = db.dataSource().getConnection();
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT current_database(), sum(v) FROM t")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo(name);
        assertThat(rs.getInt(2)).isEqualTo(42);
      }
    }
    try (Connection c = java.sql.DriverManager.getConnection(pg.serverUrl());
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(
            "SELECT count(*) FROM pg_database WHERE datname = '" + name + "'")) {
      rs.next();
      assertThat(rs.getInt(1)).as("dropped on close").isZero();
    }
  }

  @Test
  void twoDatabases_areDistinct() {
    TestPostgres pg = TestPostgres.shared();
    try (TestDatabase a = pg.createDatabase(); TestDatabase b = pg.createDatabase()) {
      assertThat(a.name()).isNotEqualTo(b.name());
      a.execute("CREATE TABLE only_in_a (v int)");
      assertThatThrownBy(() -> b.execute("SELECT * FROM only_in_a"))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith("SELECT * FROM only_in_a: ")
          .hasMessageContaining("only_in_a");
    }
  }

  @Test
  void execute_refusedStatement_isNamedInTheError() {
    try (TestDatabase db = TestPostgres.shared().createDatabase()) {
      assertThatThrownBy(() -> db.execute("SELEC 1"))
          .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("SELEC 1: ");
    }
  }

  @Test
  void withDatabase_replacesOnlyTheDatabase_andRefusesOtherUrls() {
    assertThat(TestPostgres.withDatabase("jdbc:postgresql://h:5432/postgres?user=u&password=p",
        "x")).isEqualTo("jdbc:postgresql://h:5432/x?user=u&password=p");
    assertThat(TestPostgres.withDatabase("jdbc:postgresql://h/db", "x"))
        .isEqualTo("jdbc:postgresql://h/x");
    assertThatThrownBy(() -> TestPostgres.withDatabase("jdbc:mysql://h/db?password=secret", "x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("not a jdbc:postgresql://host[:port]/database[?params] URL:"
            + " jdbc:mysql://h/db?password=***");
  }
}
