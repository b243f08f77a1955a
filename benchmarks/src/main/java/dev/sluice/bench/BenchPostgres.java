package dev.sluice.bench;

import dev.sluice.quota.QuotaSchema;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * The PostgreSQL server the quota benchmarks run against, chosen once per JVM, with a freshly
 * dropped and recreated database {@value #DATABASE} holding Sluice's shipped schema, a plan that
 * never refuses, the raw counter table and Bucket4j's table.
 *
 * <ol>
 *   <li>{@code SLUICE_BENCH_POSTGRES=embedded} (environment or system property): embedded
 *       PostgreSQL (io.zonky.test), whatever else is configured. The CI smoke test uses this.
 *   <li>{@code SLUICE_BENCH_JDBC_URL} set: that server (a URL of any database on it; the user must
 *       be allowed to create databases).
 *   <li>something answers on 127.0.0.1:5432: that server, as {@code postgres} on database
 *       {@code test} (trust authentication).
 *   <li>otherwise: embedded PostgreSQL, with {@code fsync} and {@code synchronous_commit} off as in
 *       the project's tests. When run as root, zonky starts it under {@code unshare -U}.
 * </ol>
 *
 * <p>On any server, database {@value #DATABASE} gets {@code synchronous_commit = off} (set on the
 * database, nothing else changes): a commit then does not wait for its WAL flush, so the tables
 * measure the work each call makes the server do rather than the disk's flush latency, which is
 * the same for every row of a table and on a shared machine mostly measures the neighbours.
 * {@code SLUICE_BENCH_SYNC_COMMIT=on} keeps the server's setting.
 */
final class BenchPostgres {
  static final String DATABASE = "sluice_bench";
  /** Allowance of the benchmark plan: no run consumes that many, so every call is allowed. */
  static final int NEVER_REFUSES = Integer.MAX_VALUE;

  private static final String LOCAL_URL = "jdbc:postgresql://127.0.0.1:5432/test?user=postgres";
  private static final Pattern URL =
      Pattern.compile("^(jdbc:postgresql://[^/]*/)([^?]*)(\\?.*)?$");
  private static BenchPostgres instance;

  /** Which server, for the results. */
  final String description;
  /** The URL of database {@value #DATABASE}. */
  final String url;

  private BenchPostgres(String description, String url) {
    this.description = description;
    this.url = url;
  }

  /**
   * Says which server {@link #get()} would use, without starting or touching it.
   *
   * @return a description for the results
   */
  static String choice() {
    String forced = setting("SLUICE_BENCH_POSTGRES");
    String external = setting("SLUICE_BENCH_JDBC_URL");
    if ("embedded".equalsIgnoreCase(forced)) {
      return "embedded PostgreSQL (zonky, SLUICE_BENCH_POSTGRES=embedded; fsync and"
          + " synchronous_commit off)";
    }
    if (external != null) {
      return "SLUICE_BENCH_JDBC_URL " + external.replaceAll("password=[^&]*", "password=***")
          + commits();
    }
    if (localAnswers()) {
      return "the local server at 127.0.0.1:5432 (user postgres, trust auth)" + commits();
    }
    return "embedded PostgreSQL (zonky; nothing answered on 127.0.0.1:5432; fsync and"
        + " synchronous_commit off)";
  }

  /**
   * The server of this JVM: chosen, started if embedded, and given a fresh {@value #DATABASE}.
   *
   * @return the server
   */
  static synchronized BenchPostgres get() {
    if (instance == null) {
      try {
        instance = start();
      } catch (SQLException e) {
        throw new IllegalStateException("PostgreSQL for the quota benchmarks: " + e, e);
      } catch (IOException e) {
        throw new UncheckedIOException("PostgreSQL for the quota benchmarks could not start", e);
      }
    }
    return instance;
  }

  private static BenchPostgres start() throws SQLException, IOException {
    String forced = setting("SLUICE_BENCH_POSTGRES");
    String external = setting("SLUICE_BENCH_JDBC_URL");
    String serverUrl;
    if (!"embedded".equalsIgnoreCase(forced) && external != null) {
      serverUrl = external;
    } else if (!"embedded".equalsIgnoreCase(forced) && localAnswers()) {
      serverUrl = LOCAL_URL;
    } else {
      EmbeddedPostgres epg = EmbeddedPostgres.builder()
          .setServerConfig("max_connections", "100")
          .setServerConfig("fsync", "off")
          .setServerConfig("synchronous_commit", "off")
          .start();
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        try {
          epg.close();
        } catch (IOException e) {
          System.err.println("embedded PostgreSQL did not stop: " + e);
        }
      }));
      serverUrl = epg.getJdbcUrl("postgres", "postgres");
    }
    try (Connection c = DriverManager.getConnection(serverUrl);
        Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + DATABASE + " WITH (FORCE)");
      s.execute("CREATE DATABASE " + DATABASE);
      if (!"on".equalsIgnoreCase(setting("SLUICE_BENCH_SYNC_COMMIT"))) {
        s.execute("ALTER DATABASE " + DATABASE + " SET synchronous_commit = off");
      }
    }
    BenchPostgres pg = new BenchPostgres(choice(), withDatabase(serverUrl, DATABASE));
    PGSimpleDataSource ds = new PGSimpleDataSource();
    ds.setURL(pg.url);
    QuotaSchema.migrate(ds);
    pg.execute("INSERT INTO sluice.plan (plan, description) VALUES ('bench', 'never refuses')",
        "INSERT INTO sluice.plan_quota (plan, quota, allowance, window_unit, time_zone)"
            + " VALUES ('bench', 'bench', " + NEVER_REFUSES + ", 'month', 'UTC')",
        // The physical limit: one guarded counter row per subject, one statement per consume.
        "CREATE TABLE bench_counter (subject text PRIMARY KEY, used integer NOT NULL"
            + " CHECK (used >= 0), lim integer NOT NULL, updated_at timestamptz NOT NULL)",
        // Bucket4j's documented table for its PostgreSQL proxy managers.
        "CREATE TABLE bucket (id bigint PRIMARY KEY, state bytea, expires_at bigint)");
    return pg;
  }

  /**
   * Empties every table the benchmarks write and seeds {@code subjects} subjects ({@code s0},
   * {@code s1}, ...) on the never-refusing plan, each with a counter row, so that the measured
   * calls take the update path.
   *
   * @param subjects how many subjects
   */
  void reset(int subjects) {
    execute("TRUNCATE sluice.quota_ledger, sluice.quota_usage, sluice.subject_quota_override,"
            + " sluice.subject, bench_counter, bucket",
        "INSERT INTO sluice.subject (subject, plan) SELECT 's' || i, 'bench'"
            + " FROM generate_series(0, " + (subjects - 1) + ") i",
        // Labelled with the plan's unit and zone (V7), as the first consume would label them.
        "INSERT INTO sluice.quota_usage (subject, quota, window_start, window_end, used,"
            + " updated_at, window_unit, time_zone) SELECT 's' || i, 'bench', w.window_start,"
            + " w.window_end, 0, clock_timestamp(), 'month', 'UTC'"
            + " FROM generate_series(0, " + (subjects - 1) + ") i,"
            + " sluice.quota_window('month', 'UTC', clock_timestamp()) w",
        "INSERT INTO bench_counter (subject, used, lim, updated_at) SELECT 's' || i, 0, "
            + NEVER_REFUSES + ", clock_timestamp() FROM generate_series(0, " + (subjects - 1)
            + ") i",
        "VACUUM ANALYZE sluice.subject, sluice.quota_usage, sluice.quota_ledger, bench_counter,"
            + " bucket");
  }

  /** Runs statements on {@value #DATABASE}. */
  void execute(String... sql) {
    try (Connection c = DriverManager.getConnection(url);
        Statement s = c.createStatement()) {
      for (String statement : sql) {
        s.execute(statement);
      }
    } catch (SQLException e) {
      throw new IllegalStateException("benchmark setup failed: " + e.getMessage(), e);
    }
  }

  private static String commits() {
    return "on".equalsIgnoreCase(setting("SLUICE_BENCH_SYNC_COMMIT"))
        ? ", synchronous_commit as the server sets it"
        : ", database " + DATABASE + " with synchronous_commit = off";
  }

  private static boolean localAnswers() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", 5432), 300);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name);
    }
    return value == null || value.isBlank() ? null : value;
  }

  private static String withDatabase(String jdbcUrl, String db) {
    Matcher m = URL.matcher(jdbcUrl);
    if (!m.matches()) {
      throw new IllegalArgumentException("not a jdbc:postgresql://host/db URL: " + jdbcUrl);
    }
    return m.group(1) + db + (m.group(3) == null ? "" : m.group(3));
  }
}
