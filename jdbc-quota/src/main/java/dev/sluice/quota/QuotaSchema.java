package dev.sluice.quota;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * Installs the shipped PostgreSQL schema: the scripts {@code V1__…sql} to {@code V9__…sql} found on
 * the class path at {@value #LOCATION} (in the {@code sluice-jdbc-quota} jar), applied in order.
 *
 * <pre>{@code
 * QuotaSchema.migrate(dataSource);   // at start-up, before the first consume
 * }</pre>
 *
 * <p>{@link #migrate(DataSource)} holds a PostgreSQL advisory lock while it works, so two
 * instances starting at once apply each script once; each script runs in its own transaction
 * together with its row in {@code sluice.schema_history}, so a re-run is a no-op. A recorded
 * script whose content has changed is an error, as in Flyway. The scripts are idempotent in
 * themselves too.
 *
 * <p><b>Flyway users</b> can skip this class and give Sluice's scripts a Flyway of their own,
 * with schema {@code sluice} and its own history table there ({@code sluice.flyway_schema_history}),
 * run next to the application's Flyway. Adding {@code classpath:db/sluice} to the application's
 * own {@code locations} does not work: its {@code V1__…} and Sluice's {@code V1__…} are then two
 * migrations at version 1.
 *
 * <pre>{@code
 * Flyway.configure().dataSource(dataSource)            // the application's own migrations
 *     .load().migrate();
 * Flyway.configure().dataSource(dataSource)            // Sluice's
 *     .schemas("sluice").table("flyway_schema_history")
 *     .locations("classpath:db/sluice")
 *     .load().migrate();
 * }</pre>
 *
 * <p>Liquibase or hand-run installs can apply the same files, in order, with {@code psql}.
 *
 * <p>Thread-safe (stateless).
 */
public final class QuotaSchema {
  /** The class path folder of the shipped scripts. */
  public static final String LOCATION = "db/sluice";

  /** The shipped scripts, in the order they are applied. */
  static final List<String> SCRIPTS = List.of(
      "V1__sluice_quota_schema.sql",
      "V2__sluice_atomic_quota_functions.sql",
      "V3__sluice_rate_limit_store.sql",
      "V4__sluice_maintenance.sql",
      "V5__sluice_plan_time_zone_check.sql",
      "V6__sluice_quota_windows_and_clock.sql",
      "V7__sluice_one_statement_consume.sql",
      "V8__sluice_cached_limit_consume.sql",
      "V9__sluice_lock_timeout.sql");

  /** Arbitrary but fixed: the advisory lock key of Sluice migrations ("sluice" in ASCII). */
  static final long LOCK_KEY = 0x736c75696365L;

  private QuotaSchema() {}

  /**
   * The shipped scripts' file names, in the order they are applied.
   *
   * @return the names, under {@link #LOCATION}
   */
  public static List<String> scripts() {
    return SCRIPTS;
  }

  /**
   * Applies the shipped scripts that this database has not recorded yet, in order, under an
   * advisory lock.
   *
   * @param dataSource a data source whose user may create the schema {@code sluice} (the
   *     database owner, or a role with {@code CREATE} on the database); the functions will be
   *     owned by that user
   * @return the scripts applied by this call, empty when the schema was already current
   * @throws NullPointerException if {@code dataSource} is null
   * @throws IllegalStateException if a recorded script differs from the shipped one
   * @throws UncheckedIOException if a script cannot be read from the class path
   * @throws QuotaSchemaException if the database failed; scripts applied before the failure stay
   *     applied and recorded
   */
  public static List<String> migrate(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    List<String> applied = new ArrayList<>();
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      try (Statement s = c.createStatement()) {
        s.execute("SELECT pg_advisory_lock(" + LOCK_KEY + ")");
      }
      try {
        createHistory(c);
        for (String script : SCRIPTS) {
          String sql = read(script);
          String checksum = sha256(sql);
          String recorded = recordedChecksum(c, script);
          if (recorded != null) {
            if (!recorded.equals(checksum)) {
              throw new IllegalStateException("sluice.schema_history records " + script
                  + " with checksum " + recorded + " but the shipped script has " + checksum
                  + ": a shipped migration must never change");
            }
            continue;
          }
          apply(c, script, sql, checksum);
          applied.add(script);
        }
      } finally {
        try (Statement s = c.createStatement()) {
          s.execute("SELECT pg_advisory_unlock(" + LOCK_KEY + ")");
        }
      }
    } catch (SQLException e) {
      throw new QuotaSchemaException("Sluice schema migration failed after applying " + applied
          + ": " + e.getMessage(), e);
    }
    return applied;
  }

  private static void createHistory(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA IF NOT EXISTS sluice;"
          + " CREATE TABLE IF NOT EXISTS sluice.schema_history ("
          + " script text PRIMARY KEY, checksum text NOT NULL,"
          + " installed_by text NOT NULL DEFAULT current_user,"
          + " installed_at timestamptz NOT NULL DEFAULT clock_timestamp());"
          + " REVOKE ALL ON sluice.schema_history FROM PUBLIC");
    }
  }

  private static String recordedChecksum(Connection c, String script) throws SQLException {
    try (PreparedStatement p =
        c.prepareStatement("SELECT checksum FROM sluice.schema_history WHERE script = ?")) {
      p.setString(1, script);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  private static void apply(Connection c, String script, String sql, String checksum)
      throws SQLException {
    c.setAutoCommit(false);
    try {
      try (Statement s = c.createStatement()) {
        s.execute(sql);
      }
      try (PreparedStatement p = c.prepareStatement(
          "INSERT INTO sluice.schema_history (script, checksum) VALUES (?, ?)")) {
        p.setString(1, script);
        p.setString(2, checksum);
        p.executeUpdate();
      }
      c.commit();
    } catch (SQLException | RuntimeException e) {
      c.rollback();
      throw e;
    } finally {
      c.setAutoCommit(true);
    }
  }

  static String read(String script) {
    String path = "/" + LOCATION + "/" + script;
    try (InputStream in = QuotaSchema.class.getResourceAsStream(path)) {
      if (in == null) {
        throw new UncheckedIOException(new IOException("missing class path resource " + path));
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + path, e);
    }
  }

  private static String sha256(String text) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(digest.digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }
}
