package dev.sluice.quota;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

class QuotaSchemaTest {

  @Test
  void scripts_listEveryShippedFileInOrder() throws IOException {
    List<String> files;
    try (Stream<Path> sql = Files.list(Path.of("..", "sql"))) {
      files = sql.map(p -> p.getFileName().toString()).filter(n -> n.matches("V\\d+__.*\\.sql"))
          .sorted().toList();
    }
    assertThat(QuotaSchema.scripts()).containsExactlyElementsOf(files);
    for (String script : files) {
      assertThat(QuotaSchema.read(script)).isEqualTo(
          Files.readString(Path.of("..", "sql", script)));
    }
  }

  @Test
  void migrate_twice_secondRunIsANoOp() throws Exception {
    QuotaDatabase pg = QuotaDatabase.get();
    DataSource fresh = QuotaDatabase.dataSource(pg.freshDatabaseUrl(), null);

    List<String> first = QuotaSchema.migrate(fresh);
    List<String> second = QuotaSchema.migrate(fresh);

    assertThat(first).containsExactlyElementsOf(QuotaSchema.scripts());
    assertThat(second).isEmpty();
  }

  @Test
  void migrate_fourInstancesAtOnce_applyEachScriptExactlyOnce() throws Exception {
    QuotaDatabase pg = QuotaDatabase.get();
    DataSource fresh = QuotaDatabase.dataSource(pg.freshDatabaseUrl(), null);
    ExecutorService threads = Executors.newFixedThreadPool(4);
    try {
      CyclicBarrier start = new CyclicBarrier(4);
      List<Future<List<String>>> futures = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        futures.add(threads.submit(() -> {
          start.await(10, SECONDS);
          return QuotaSchema.migrate(fresh);
        }));
      }
      List<String> applied = new ArrayList<>();
      for (Future<List<String>> f : futures) {
        applied.addAll(f.get(120, SECONDS));
      }
      assertThat(applied).containsExactlyInAnyOrderElementsOf(QuotaSchema.scripts());
    } finally {
      threads.shutdownNow();
    }
    assertThat(AtomicQuotaRepository.create(fresh).consume("first-user", "chat").limit())
        .isEqualTo(3);
  }

  @Test
  void scripts_runAgainByHand_areIdempotentAndKeepAnOperatorsChange() throws Exception {
    QuotaDatabase pg = QuotaDatabase.get();
    String url = pg.freshDatabaseUrl();
    QuotaSchema.migrate(QuotaDatabase.dataSource(url, null));
    try (var c = QuotaDatabase.dataSource(url, null).getConnection();
        var s = c.createStatement()) {
      s.execute("UPDATE sluice.plan_quota SET allowance = 5 WHERE plan = 'free'");
      for (String script : QuotaSchema.scripts()) {
        s.execute(QuotaSchema.read(script));
      }
      try (var rs = s.executeQuery(
          "SELECT allowance FROM sluice.plan_quota WHERE plan = 'free' AND quota = 'chat'")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(5);
      }
    }
  }

  @Test
  void migrate_recordedScriptChanged_failsLoudly() throws Exception {
    QuotaDatabase pg = QuotaDatabase.get();
    String url = pg.freshDatabaseUrl();
    DataSource fresh = QuotaDatabase.dataSource(url, null);
    QuotaSchema.migrate(fresh);
    try (var c = fresh.getConnection(); var s = c.createStatement()) {
      s.execute("UPDATE sluice.schema_history SET checksum = 'tampered'"
          + " WHERE script = 'V2__sluice_atomic_quota_functions.sql'");
    }

    assertThatThrownBy(() -> QuotaSchema.migrate(fresh))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("V2__sluice_atomic_quota_functions.sql");
  }
}
