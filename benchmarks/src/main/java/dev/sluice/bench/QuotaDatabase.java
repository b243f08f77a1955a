package dev.sluice.bench;

import dev.sluice.quota.QuotaSchema;
import dev.sluice.testing.TestDatabase;
import dev.sluice.testing.TestPostgres;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * The database the quota benchmarks run against: one fresh database per JVM on the server
 * {@link TestPostgres} (sluice-testing) finds or starts, holding Sluice's shipped schema, a plan
 * that never refuses, the raw counter table and Bucket4j's table.
 *
 * <p>Which server, first match wins:
 *
 * <ol>
 *   <li>{@code SLUICE_BENCH_POSTGRES=embedded} (environment or system property): embedded
 *       PostgreSQL (io.zonky.test). The CI smoke test uses this. It cannot be combined with
 *       {@code SLUICE_TEST_JDBC_URL} in the environment, which TestPostgres would prefer.
 *   <li>{@code SLUICE_BENCH_JDBC_URL}, else {@code SLUICE_TEST_JDBC_URL}: that server (a URL of
 *       any database on it; the user must be allowed to create databases).
 *   <li>something answers on 127.0.0.1:5432: that server, as {@code postgres} on database
 *       {@code test} (trust authentication).
 *   <li>otherwise: embedded PostgreSQL, with {@code fsync} and {@code synchronous_commit} off as in
 *       the project's tests. When run as root, zonky starts it under {@code unshare -U}.
 * </ol>
 *
 * <p>The database is {@code sluice_test_<random>} ({@link TestPostgres#createDatabase()}), dropped
 * when the JVM exits (an embedded server goes with the JVM). It gets
 * {@code synchronous_commit = off} (set on the database, nothing else changes): a commit then
 * does not wait for its WAL flush, so the tables measure the work each call makes the server do
 * rather than the disk's flush latency, which is the same for every row of a table and on a
 * shared machine mostly measures the neighbours. {@code SLUICE_BENCH_SYNC_COMMIT=on} keeps the
 * server's setting.
 */
final class QuotaDatabase {
  /** Allowance of the benchmark plan: no run consumes that many, so every call is allowed. */
  static final int NEVER_REFUSES = Integer.MAX_VALUE;

  private static final String LOCAL_URL = "jdbc:postgresql://127.0.0.1:5432/test?user=postgres";
  private static QuotaDatabase instance;

  /** The database. */
  final TestDatabase db;

  private QuotaDatabase(TestDatabase db) {
    this.db = db;
  }

  /**
   * Says which server {@link #get()} would use, without starting or touching it.
   *
   * @return a description for the results
   */
  static String choice() {
    String url = serverUrl();
    if (url == null) {
      return "embedded PostgreSQL (zonky" + ("embedded".equalsIgnoreCase(
          setting("SLUICE_BENCH_POSTGRES")) ? ", SLUICE_BENCH_POSTGRES=embedded" : ", nothing"
          + " answered on 127.0.0.1:5432") + "; fsync and synchronous_commit off)";
    }
    String which = setting("SLUICE_BENCH_JDBC_URL") != null ? "SLUICE_BENCH_JDBC_URL "
        : setting(TestPostgres.JDBC_URL_SETTING) != null ? TestPostgres.JDBC_URL_SETTING + " "
        : "the local server at ";
    return which + url.replaceAll("password=[^&]*", "password=***") + commits();
  }

  /**
   * The database of this JVM: the server chosen (started if embedded) and a fresh database made.
   *
   * @return the database
   * @throws IllegalStateException if PostgreSQL cannot be reached or started, or the user may not
   *     create databases
   */
  static synchronized QuotaDatabase get() {
    if (instance == null) {
      String url = serverUrl();
      if (url == null) {
        String inEnvironment = System.getenv(TestPostgres.JDBC_URL_SETTING);
        if (inEnvironment != null && !inEnvironment.isBlank()) {
          throw new IllegalStateException("SLUICE_BENCH_POSTGRES=embedded, but "
              + TestPostgres.JDBC_URL_SETTING + " is set in the environment; unset one of them");
        }
        System.clearProperty(TestPostgres.JDBC_URL_SETTING);
      } else {
        // TestPostgres reads the system property before the environment.
        System.setProperty(TestPostgres.JDBC_URL_SETTING, url);
      }
      TestPostgres server = TestPostgres.shared();
      TestDatabase db = server.createDatabase();
      if (!db.name().startsWith("sluice_test_")) {
        throw new IllegalStateException("the quota benchmarks need a fresh database, but the"
            + " user of " + server.description() + " may not create databases");
      }
      if (!server.isEmbedded()) {
        Runtime.getRuntime().addShutdownHook(new Thread(db::close, "bench-database-drop"));
      }
      if (!"on".equalsIgnoreCase(setting("SLUICE_BENCH_SYNC_COMMIT"))) {
        db.execute("ALTER DATABASE " + db.name() + " SET synchronous_commit = off");
      }
      QuotaSchema.migrate(db.dataSource());
      db.execute("INSERT INTO sluice.plan (plan, description) VALUES ('bench', 'never refuses')",
          "INSERT INTO sluice.plan_quota (plan, quota, allowance, window_unit, time_zone)"
              + " VALUES ('bench', 'bench', " + NEVER_REFUSES + ", 'month', 'UTC')",
          // The physical limit: one guarded counter row per subject, one statement per consume.
          "CREATE TABLE bench_counter (subject text PRIMARY KEY, used integer NOT NULL"
              + " CHECK (used >= 0), lim integer NOT NULL, updated_at timestamptz NOT NULL)",
          // Bucket4j's documented table for its PostgreSQL proxy managers.
          "CREATE TABLE bucket (id bigint PRIMARY KEY, state bytea, expires_at bigint)");
      instance = new QuotaDatabase(db);
    }
    return instance;
  }

  /**
   * The JDBC URL of the database, with the server's credentials.
   *
   * @return the URL
   */
  String url() {
    return db.url();
  }

  /**
   * Empties every table the benchmarks write and seeds {@code subjects} subjects ({@code s0},
   * {@code s1}, ...) on the never-refusing plan, each with a counter row, so that the measured
   * calls take the update path.
   *
   * @param subjects how many subjects
   */
  void reset(int subjects) {
    db.execute("TRUNCATE sluice.quota_ledger, sluice.quota_usage, sluice.subject_quota_override,"
            + " sluice.subject, bench_counter, bucket",
        "INSERT INTO sluice.subject (subject, plan) SELECT 's' || i, 'bench'"
            + " FROM generate_series(0, " + (subjects - 1) + ") i",
        // Labelled with the plan's unit, zone, limit and configuration version (V8), as the
        // first consume would label them.
        "INSERT INTO sluice.quota_usage (subject, quota, window_start, window_end, used,"
            + " updated_at, window_unit, time_zone, lim, config_version) SELECT 's' || i, 'bench',"
            + " w.window_start, w.window_end, 0, clock_timestamp(), 'month', 'UTC', "
            + NEVER_REFUSES + ", v.version FROM generate_series(0, " + (subjects - 1) + ") i,"
            + " sluice.quota_window('month', 'UTC', clock_timestamp()) w,"
            + " sluice.quota_config_version v",
        "INSERT INTO bench_counter (subject, used, lim, updated_at) SELECT 's' || i, 0, "
            + NEVER_REFUSES + ", clock_timestamp() FROM generate_series(0, " + (subjects - 1)
            + ") i",
        "VACUUM ANALYZE sluice.subject, sluice.quota_usage, sluice.quota_ledger, bench_counter,"
            + " bucket");
  }

  /** The server URL to hand TestPostgres, or null for embedded. */
  private static String serverUrl() {
    if ("embedded".equalsIgnoreCase(setting("SLUICE_BENCH_POSTGRES"))) {
      return null;
    }
    String bench = setting("SLUICE_BENCH_JDBC_URL");
    if (bench != null) {
      return bench;
    }
    String test = setting(TestPostgres.JDBC_URL_SETTING);
    if (test != null) {
      return test;
    }
    return localAnswers() ? LOCAL_URL : null;
  }

  private static String commits() {
    return "on".equalsIgnoreCase(setting("SLUICE_BENCH_SYNC_COMMIT"))
        ? ", synchronous_commit as the server sets it"
        : ", a fresh database with synchronous_commit = off";
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
}
