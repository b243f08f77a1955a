package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 13, ecosystem: the Flyway setup the README shows, with real Flyway, next to an
 * application's own V1–V4 (src/test/resources/db/app) on a fresh database.
 */
class FlywayTest {
  private static QuotaDatabase pg;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
  }

  /** The README's setup: Sluice's scripts get their own Flyway, schema and history table. */
  private static Flyway sluiceFlyway(DataSource dataSource) {
    return Flyway.configure()
        .dataSource(dataSource)
        .schemas("sluice")
        .table("flyway_schema_history")
        .locations("classpath:" + QuotaSchema.LOCATION)
        .load();
  }

  private static Flyway appFlyway(DataSource dataSource) {
    return Flyway.configure().dataSource(dataSource).locations("classpath:db/app").load();
  }

  @Test
  void secondFlywayForSchemaSluice_besideTheApplicationsOwnV1ToV4_migratesBothAndReRunsAsNoOps()
      throws Exception {
    DataSource db = QuotaDatabase.dataSource(pg.freshDatabaseUrl(), null);

    MigrateResult app = appFlyway(db).migrate();
    MigrateResult sluice = sluiceFlyway(db).migrate();
    MigrateResult appAgain = appFlyway(db).migrate();
    MigrateResult sluiceAgain = sluiceFlyway(db).migrate();

    assertThat(app.migrationsExecuted).isEqualTo(4);
    assertThat(sluice.migrationsExecuted).isEqualTo(QuotaSchema.scripts().size());
    assertThat(appAgain.migrationsExecuted).isZero();
    assertThat(sluiceAgain.migrationsExecuted).isZero();
    try (Connection c = db.getConnection(); Statement s = c.createStatement()) {
      assertThat(text(s, "SELECT string_agg(version, ',' ORDER BY installed_rank)"
          + " FROM public.flyway_schema_history WHERE success")).isEqualTo("1,2,3,4");
      assertThat(text(s, "SELECT string_agg(script, ',' ORDER BY installed_rank)"
          + " FROM sluice.flyway_schema_history WHERE success AND version IS NOT NULL"))
          .isEqualTo(String.join(",", QuotaSchema.scripts()));
      assertThat(text(s, "SELECT email FROM app_user")).isEqualTo("alice@example.org");
    }
    AtomicQuotaRepository quotas = AtomicQuotaRepository.create(db);
    assertThat(quotas.consume("alice", "chat").remaining()).isEqualTo(2);
    assertThat(sluiceFlyway(db).validateWithResult().validationSuccessful).isTrue();
  }

  @Test
  void oneFlywayWithBothLocations_failsOnTwoMigrationsAtVersion1() throws Exception {
    DataSource db = QuotaDatabase.dataSource(pg.freshDatabaseUrl(), null);
    Flyway both = Flyway.configure().dataSource(db)
        .locations("classpath:db/app", "classpath:" + QuotaSchema.LOCATION).load();

    assertThatThrownBy(both::migrate).hasMessageContaining("more than one migration with version 1");
  }

  private static String text(Statement s, String sql) throws Exception {
    try (ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
