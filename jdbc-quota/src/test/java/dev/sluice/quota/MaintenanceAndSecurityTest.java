package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.QuotaStoreException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class MaintenanceAndSecurityTest {
  /** The grants the README documents for an application role. */
  private static final String APP_GRANTS = "GRANT USAGE ON SCHEMA sluice TO %1$s;"
      + " GRANT EXECUTE ON FUNCTION"
      + " sluice.consume_quota(text, text, integer, text),"
      + " sluice.consume_quota_all(text[], text[], integer[], text[]),"
      + " sluice.check_quota(text, text, integer),"
      + " sluice.refund_quota(text, text, text),"
      + " sluice.quota_status(text[], text),"
      + " sluice.reset_expired_quota_windows(),"
      + " sluice.rate_limit_acquire(text, text, bigint, bigint) TO %1$s";
  private static final String OPS_GRANTS = "GRANT USAGE ON SCHEMA sluice TO %1$s;"
      + " GRANT EXECUTE ON FUNCTION sluice.check_system_load(),"
      + " sluice.cleanup_old_sessions(interval),"
      + " sluice.emergency_cleanup_connections(),"
      + " sluice.emergency_cleanup_connections(interval) TO %1$s";

  private static QuotaDatabase pg;
  private final List<String> roles = new ArrayList<>();
  private final List<Connection> connections = new ArrayList<>();

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
  }

  @AfterEach
  void dropRoles() throws SQLException {
    for (Connection c : connections) {
      c.close();
    }
    for (String role : roles) {
      pg.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '"
          + role + "'");
      pg.execute("DROP OWNED BY " + role + "; DROP ROLE " + role);
    }
  }

  private String role(String grants) {
    String role = QuotaDatabase.unique("sluice_t");
    roles.add(role);
    // The password is for servers without trust authentication (Testcontainers).
    pg.execute("CREATE ROLE " + role + " LOGIN PASSWORD '" + role + "'");
    if (grants != null) {
      pg.execute(String.format(grants, role));
    }
    return role;
  }

  /**
   * Opens a session as the role (null: the superuser) and leaves it idle inside a transaction;
   * returns its pid.
   */
  private int idleInTransaction(String role) throws SQLException {
    Connection c = pg.dataSource(role).getConnection();
    connections.add(c);
    c.setAutoCommit(false);
    try (Statement s = c.createStatement(); var rs = s.executeQuery("SELECT pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static boolean alive(int pid) {
    return pg.queryLong("SELECT count(*) FROM pg_stat_activity WHERE pid = " + pid) == 1;
  }

  @Test
  void functions_roleWithoutGrants_cannotCallAnyOfThem() {
    String stranger = role(null);
    AtomicQuotaRepository asStranger = AtomicQuotaRepository.create(pg.dataSource(stranger));

    assertThatThrownBy(() -> asStranger.consume("u", "chat"))
        .isInstanceOfSatisfying(QuotaStoreException.class, e -> {
          assertThat(e.outcomeKnown()).isTrue();
          assertThat(Failures.sqlCause(e).getSQLState()).isEqualTo("42501");
        });
    for (String call : List.of(
        "SELECT * FROM sluice.consume_quota('u', 'chat')",
        "SELECT * FROM sluice.consume_quota_all(ARRAY['u'], ARRAY['chat'])",
        "SELECT * FROM sluice.check_quota('u', 'chat')",
        "SELECT sluice.refund_quota('u', 'chat', 'r')",
        "SELECT * FROM sluice.quota_status(ARRAY['u'], 'chat')",
        "SELECT sluice.reset_expired_quota_windows()",
        "SELECT * FROM sluice.rate_limit_acquire('n', 'k', 1, 1)",
        "SELECT * FROM sluice.check_system_load()",
        "SELECT * FROM sluice.cleanup_old_sessions('1 day')",
        "SELECT * FROM sluice.emergency_cleanup_connections()",
        "SELECT * FROM sluice.emergency_cleanup_connections('1 minute')",
        "SELECT count(*) FROM sluice.quota_usage")) {
      assertThatThrownBy(() -> run(stranger, call)).as(call)
          .isInstanceOfSatisfying(SQLException.class,
              e -> assertThat(e.getSQLState()).isEqualTo("42501"));
    }
  }

  @Test
  void functions_publicHasNoExecuteOnAnySluiceFunction() {
    assertThat(pg.queryLong("SELECT count(*) FROM pg_proc p"
        + " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'sluice'"
        + " AND has_function_privilege('public', p.oid, 'EXECUTE')")).isZero();
    assertThat(pg.queryLong("SELECT count(*) FROM pg_proc p"
        + " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'sluice'"
        + " AND p.prosecdef AND NOT coalesce(array_to_string(p.proconfig, ',')"
        + " LIKE '%search_path=pg_catalog, pg_temp%', false)")).isZero();
  }

  @Test
  void appRole_withDocumentedGrants_consumesButCannotWriteQuotaRows() throws SQLException {
    String app = role(APP_GRANTS);
    AtomicQuotaRepository asApp = AtomicQuotaRepository.create(pg.dataSource(app));
    String user = QuotaDatabase.unique("user");

    assertThat(asApp.consume(user, "chat").allowed()).isTrue();
    assertThat(asApp.consumeAll(List.of(QuotaRequest.of(user, "chat"))))
        .singleElement().satisfies(d -> assertThat(d.used()).isEqualTo(2));
    assertThat(asApp.check(user, "chat", 1).allowed()).isTrue();
    assertThat(asApp.status(user, "chat"))
        .hasValueSatisfying(s -> assertThat(s.used()).isEqualTo(2));
    assertThat(PostgresRateLimitStore.create(pg.dataSource(app), "app").acquire("k", 1, 1)
        .allowed()).isTrue();
    for (String write : List.of(
        "UPDATE sluice.quota_usage SET used = 0",
        "INSERT INTO sluice.subject (subject) VALUES ('intruder')",
        "UPDATE sluice.plan_quota SET allowance = 1000",
        "DELETE FROM sluice.quota_ledger",
        "SELECT * FROM sluice.emergency_cleanup_connections()",
        "SELECT * FROM sluice.emergency_cleanup_connections('1 minute')")) {
      assertThatThrownBy(() -> run(app, write)).as(write)
          .isInstanceOfSatisfying(SQLException.class,
              e -> assertThat(e.getSQLState()).isEqualTo("42501"));
    }
  }

  @Test
  void appRole_withDocumentedGrants_cannotChooseTheTimeOfAnyCall() {
    String app = role(APP_GRANTS);
    String user = QuotaDatabase.unique("user");

    // Issue 13: with the V2 grants an application could consume tomorrow's allowance today.
    assertThatThrownBy(() -> run(app, "SELECT * FROM sluice.consume_quota('" + user
        + "', 'chat', 1, NULL, clock_timestamp() + interval '1 day')"))
        .isInstanceOfSatisfying(SQLException.class,
            e -> assertThat(e.getSQLState()).isEqualTo("42883")); // no such function
    for (String call : List.of(
        "SELECT * FROM sluice.consume_quota_at('" + user + "', 'chat', 1, NULL, now())",
        "SELECT * FROM sluice.consume_quota_all_at(ARRAY['" + user + "'], ARRAY['chat'], NULL,"
            + " NULL, now())",
        "SELECT * FROM sluice.check_quota_at('" + user + "', 'chat', 1, now())",
        "SELECT sluice.refund_quota_at('" + user + "', 'chat', 'r', now())",
        "SELECT * FROM sluice.quota_status_at(ARRAY['" + user + "'], 'chat', now())",
        "SELECT sluice.reset_expired_quota_windows_at(now())",
        "SELECT * FROM sluice.rate_limit_acquire_at('n', 'k', 1, 1, 0)",
        "SELECT * FROM sluice.quota_window('day', 'UTC', now())",
        "SELECT * FROM sluice.quota_counter('u', 'chat', now(), now())")) {
      assertThatThrownBy(() -> run(app, call)).as(call)
          .isInstanceOfSatisfying(SQLException.class,
              e -> assertThat(e.getSQLState()).isEqualTo("42501"));
    }
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.quota_usage WHERE subject = '" + user
        + "'")).isZero();
  }

  @Test
  void migrate_roleGrantedTheOldTimeTakingFunctions_keepsItsRightsOnTheReplacements()
      throws Exception {
    String url = pg.freshDatabaseUrl();
    String app = role(null);
    try (Connection c = QuotaDatabase.dataSource(url, null).getConnection();
        Statement s = c.createStatement()) {
      for (String script : QuotaSchema.scripts().subList(0, 4)) {
        s.execute(QuotaSchema.read(script));
      }
      s.execute(String.format("GRANT USAGE ON SCHEMA sluice TO %1$s; GRANT EXECUTE ON FUNCTION"
          + " sluice.consume_quota(text, text, integer, text, timestamptz),"
          + " sluice.refund_quota(text, text, text, timestamptz),"
          + " sluice.quota_status(text[], text, timestamptz),"
          + " sluice.reset_expired_quota_windows(timestamptz),"
          + " sluice.rate_limit_acquire(text, text, bigint, bigint, bigint) TO %1$s", app));
      try {
        for (String script : QuotaSchema.scripts().subList(4, QuotaSchema.scripts().size())) {
          s.execute(QuotaSchema.read(script));
        }

        AtomicQuotaRepository asApp =
            AtomicQuotaRepository.create(QuotaDatabase.dataSource(url, app));
        assertThat(asApp.consume("u", "chat", 1, "r").allowed()).isTrue();
        assertThat(asApp.check("u", "chat", 2)).satisfies(d -> {
          assertThat(d.allowed()).isTrue();
          assertThat(d.used()).isOne();
        });
        assertThat(asApp.consumeAll(List.of(QuotaRequest.of("v", "chat")))).singleElement()
            .satisfies(d -> assertThat(d.allowed()).isTrue());
        assertThat(asApp.refund("u", "chat", "r")).isTrue();
        assertThat(asApp.status("u", "chat"))
            .hasValueSatisfying(st -> assertThat(st.used()).isZero());
        assertThat(asApp.resetExpiredWindows()).isZero();
        assertThat(PostgresRateLimitStore.create(QuotaDatabase.dataSource(url, app), "n")
            .acquire("k", 1, 1).allowed()).isTrue();
        try (ResultSet rs = s.executeQuery("SELECT string_agg(p.proname, ', ') FROM pg_proc p"
            + " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'sluice'"
            + " AND oidvectortypes(p.proargtypes) LIKE '%timestamp%'"
            + " AND p.proname NOT LIKE '%\\_at'"
            + " AND p.proname NOT IN ('quota_window', 'quota_counter', 'quota_window_carried',"
            + " 'quota_keep_window')")) {
          rs.next();
          assertThat(rs.getString(1)).as("functions without _at that still take a time").isNull();
        }
      } finally {
        s.execute("DROP OWNED BY " + app);
      }
    }
  }

  @Test
  void emergencyCleanup_withoutArgument_leavesSessionsIdleForLessThanFiveMinutes()
      throws SQLException {
    String ops = role(OPS_GRANTS);
    int idle = idleInTransaction(ops);

    List<EndedSession> viaJava =
        QuotaMaintenance.create(pg.dataSource(ops)).emergencyCleanupConnections();
    try (Connection c = pg.dataSource(ops).getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT count(*) FROM"
            + " sluice.emergency_cleanup_connections()")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
    }

    assertThat(viaJava).isEmpty();
    assertThat(alive(idle)).isTrue();
    assertThat(pg.queryText("SELECT pg_get_functiondef("
        + "'sluice.emergency_cleanup_connections()'::regprocedure)")).contains("'5 minutes'");
  }

  @Test
  void emergencyCleanup_endsOnlyTheCallersOwnIdleTransactions() throws SQLException {
    String ops = role(OPS_GRANTS);
    String other = role(OPS_GRANTS);
    int opsIdle = idleInTransaction(ops);
    int otherIdle = idleInTransaction(other);
    int superuserIdle = idleInTransaction(null);
    QuotaMaintenance asOps = QuotaMaintenance.create(pg.dataSource(ops));

    List<EndedSession> ended = asOps.emergencyCleanupConnections(Duration.ZERO);

    assertThat(ended).singleElement().satisfies(s -> {
      assertThat(s.pid()).isEqualTo(opsIdle);
      assertThat(s.user()).isEqualTo(ops);
      assertThat(s.terminated()).isTrue();
    });
    assertThat(alive(otherIdle)).isTrue();
    assertThat(alive(superuserIdle)).isTrue();
    assertThat(asOps.emergencyCleanupConnections(Duration.ZERO)).isEmpty();
  }

  @Test
  void emergencyCleanup_calledByASuperuser_neverEndsSuperuserSessions() throws SQLException {
    int pid = idleInTransaction(null);

    List<EndedSession> ended =
        QuotaMaintenance.create(pg.dataSource()).emergencyCleanupConnections(Duration.ZERO);

    assertThat(ended).extracting(EndedSession::pid).doesNotContain(pid);
    assertThat(alive(pid)).isTrue();
  }

  @Test
  void emergencyCleanup_sessionIdleForLessThanThreshold_isLeftAlone() throws SQLException {
    String ops = role(OPS_GRANTS);
    int idle = idleInTransaction(ops);

    List<EndedSession> ended = QuotaMaintenance.create(pg.dataSource(ops))
        .emergencyCleanupConnections(Duration.ofHours(1));

    assertThat(ended).isEmpty();
    assertThat(alive(idle)).isTrue();
  }

  @Test
  void checkSystemLoad_reportsEveryFigureWithStatusAndRecommendations() throws SQLException {
    String ops = role(OPS_GRANTS);
    idleInTransaction(ops);

    List<LoadMetric> load =
        QuotaMaintenance.create(pg.dataSource(ops)).checkSystemLoad();

    assertThat(load).extracting(LoadMetric::metric).contains("connections_total",
        "max_connections", "connections_idle_in_transaction",
        "oldest_idle_in_transaction_seconds", "lock_waits", "longest_query_seconds",
        "cache_hit_ratio_percent");
    assertThat(load).allSatisfy(m -> {
      assertThat(m.status()).isIn("ok", "warning", "critical");
      assertThat(m.recommendation().isPresent()).isEqualTo(!m.ok());
    });
    assertThat(load).filteredOn(m -> m.metric().equals("connections_idle_in_transaction"))
        .singleElement().satisfies(m -> assertThat(m.value()).isGreaterThanOrEqualTo(1));
  }

  @Test
  void cleanupOldSessions_deletesEndedHistoryButKeepsTheCurrentWindow() {
    String plan = QuotaDatabase.unique("plan");
    pg.execute("INSERT INTO sluice.plan VALUES ('" + plan + "');"
        + " INSERT INTO sluice.plan_quota (plan, quota, allowance) VALUES ('" + plan
        + "', 'q', 5)");
    String oldUser = QuotaDatabase.unique("old");
    String newUser = QuotaDatabase.unique("new");
    pg.execute("INSERT INTO sluice.subject (subject, plan) VALUES ('" + oldUser + "', '" + plan
        + "'), ('" + newUser + "', '" + plan + "')");
    Clock longAgo = Clock.fixed(Instant.parse("2001-02-03T04:05:06Z"), ZoneOffset.UTC);
    AtomicQuotaRepository.builder(pg.dataSource()).clock(longAgo).build()
        .consume(oldUser, "q", 1, "old-request");
    AtomicQuotaRepository current = AtomicQuotaRepository.create(pg.dataSource());
    current.consume(newUser, "q", 1, "new-request");
    pg.execute("INSERT INTO sluice.rate_limit_state VALUES ('" + plan + "', 'full', 0, true,"
        + " clock_timestamp() - interval '1 second'), ('" + plan + "', 'owing', 0, true,"
        + " clock_timestamp() + interval '1 hour')");

    QuotaMaintenance ops = QuotaMaintenance.create(pg.dataSource());
    CleanupResult result = ops.cleanupOldSessions(Duration.ofDays(30));

    assertThat(result.ledgerRowsDeleted()).isGreaterThanOrEqualTo(1);
    assertThat(result.quotaRowsDeleted()).isGreaterThanOrEqualTo(1);
    assertThat(result.rateLimitKeysDeleted()).isGreaterThanOrEqualTo(1);
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.quota_ledger WHERE subject IN ('"
        + oldUser + "', '" + newUser + "')")).isOne();
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.rate_limit_state WHERE namespace = '"
        + plan + "'")).isOne();
    assertThat(current.consume(newUser, "q", 1, "new-request").used()).isOne();
    assertThatThrownBy(() -> ops.cleanupOldSessions(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  private static void run(String role, String sql) throws SQLException {
    try (Connection c = pg.dataSource(role).getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}
