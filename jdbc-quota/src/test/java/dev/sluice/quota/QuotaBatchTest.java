package dev.sluice.quota;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue 13, batch: consumeAll decides each request atomically, in one round trip. */
class QuotaBatchTest {
  private static QuotaDatabase pg;
  private static HikariDataSource pool;
  private static QuotaFixtures fx;
  private static AtomicQuotaRepository quotas;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    pool = pg.pool("quota-batch", 12);
    fx = new QuotaFixtures(pg);
    quotas = AtomicQuotaRepository.create(pool);
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  @Test
  void consumeAll_manySubjectsAndUnits_answersInInputOrderAndRetriesCountOnce() {
    String plan = fx.plan(3, "day", "UTC");
    String a = fx.subjectOn(plan);
    String b = fx.subjectOn(plan);
    String newcomer = QuotaDatabase.unique("newcomer");
    QuotaFixtures.MutableClock clock = new QuotaFixtures.MutableClock("2030-05-06T10:00:00Z");
    AtomicQuotaRepository repo = AtomicQuotaRepository.builder(pool).clock(clock).build();
    List<QuotaRequest> batch = List.of(
        new QuotaRequest(b, "q", 2, "b-1"),
        new QuotaRequest(a, "q", 1, "a-1"),
        new QuotaRequest(newcomer, "chat", 1, null),
        new QuotaRequest(b, "q", 2, "b-2"),
        new QuotaRequest(a, "q", 2, "a-2"),
        new QuotaRequest(b, "q", 1, "b-3"));

    List<QuotaDecision> first = repo.consumeAll(batch);
    List<QuotaDecision> retried = repo.consumeAll(batch.subList(0, 2));

    Instant midnight = Instant.parse("2030-05-07T00:00:00Z");
    assertThat(first).containsExactly(
        new QuotaDecision(true, 2, 3, 1, midnight, "q"),
        new QuotaDecision(true, 1, 3, 2, midnight, "q"),
        new QuotaDecision(true, 1, 3, 2, midnight, "chat"),
        new QuotaDecision(false, 2, 3, 1, midnight, "q"),
        new QuotaDecision(true, 3, 3, 0, midnight, "q"),
        new QuotaDecision(true, 3, 3, 0, midnight, "q"));
    assertThat(retried).containsExactlyElementsOf(first.subList(0, 2));
    assertThat(fx.storedUsed(a)).isEqualTo(3);
    assertThat(fx.storedUsed(b)).isEqualTo(3);
    assertThat(fx.ledgerSum(b)).isEqualTo(3);
    assertThat(repo.consumeAll(List.of())).isEmpty();
  }

  @Test
  void consumeAll_racingSingleConsumesAndOtherBatches_grantsExactlyTheAllowance()
      throws Exception {
    String plan = fx.plan(40, "day", "UTC");
    List<String> subjects = List.of(fx.subjectOn(plan), fx.subjectOn(plan), fx.subjectOn(plan));
    int batchThreads = 4;
    int singleThreads = 6;
    int rounds = 12;
    ExecutorService workers = Executors.newFixedThreadPool(batchThreads + singleThreads);
    CyclicBarrier start = new CyclicBarrier(batchThreads + singleThreads);
    List<Future<List<List<QuotaDecision>>>> batches = new ArrayList<>();
    List<Future<Integer>> singles = new ArrayList<>();
    try {
      for (int t = 0; t < batchThreads; t++) {
        // Each thread lists the subjects in its own order: two batches meet on the same counters
        // in opposite orders, which must not deadlock.
        List<QuotaRequest> batch = new ArrayList<>();
        for (int i = 0; i < subjects.size(); i++) {
          String s = subjects.get((t + (t % 2 == 0 ? i : subjects.size() - i)) % subjects.size());
          batch.add(QuotaRequest.of(s, "q"));
          batch.add(new QuotaRequest(s, "q", 2, null));
        }
        batches.add(workers.submit(() -> {
          start.await(10, SECONDS);
          List<List<QuotaDecision>> answers = new ArrayList<>();
          for (int r = 0; r < rounds; r++) {
            answers.add(quotas.consumeAll(batch));
          }
          return answers;
        }));
      }
      for (int t = 0; t < singleThreads; t++) {
        String s = subjects.get(t % subjects.size());
        singles.add(workers.submit(() -> {
          start.await(10, SECONDS);
          int units = 0;
          for (int r = 0; r < rounds * 2; r++) {
            if (quotas.consume(s, "q").allowed()) {
              units++;
            }
          }
          return units;
        }));
      }

      long units = 0;
      for (Future<Integer> f : singles) {
        units += f.get(120, SECONDS);
      }
      for (Future<List<List<QuotaDecision>>> f : batches) {
        for (List<QuotaDecision> answer : f.get(120, SECONDS)) {
          assertThat(answer).hasSize(6);
          for (int i = 0; i < answer.size(); i += 2) {
            QuotaDecision one = answer.get(i);
            QuotaDecision two = answer.get(i + 1);
            units += (one.allowed() ? 1 : 0) + (two.allowed() ? 2 : 0);
            // The two requests of one subject are decided back to back under its row lock.
            assertThat(two.used()).isEqualTo(one.used() + (two.allowed() ? 2 : 0));
          }
        }
      }
      assertThat(units).isEqualTo(3 * 40);
    } finally {
      workers.shutdownNow();
    }
    for (String s : subjects) {
      assertThat(fx.storedUsed(s)).as(s).isEqualTo(40);
      assertThat(fx.ledgerRows(s)).as(s).isZero(); // no request ids: counted, not recorded
    }
  }

  /**
   * The same request ids sent at once as single consumes and inside batches that hold other
   * counters of the same subjects (a client retrying through both paths): V8 writes a request id's
   * ledger row before any counter lock, batches all of theirs first, so nothing deadlocks, and
   * each request id is charged exactly once.
   */
  @Test
  void sameRequestIdsRacingThroughBatchesAndSingles_neverDeadlockAndChargeEachIdOnce()
      throws Exception {
    String plan = fx.plan(1000, "day", "UTC");
    List<String> subjects = List.of(fx.subjectOn(plan), fx.subjectOn(plan));
    int ids = 30;
    int threads = 8;
    ExecutorService workers = Executors.newFixedThreadPool(threads);
    CyclicBarrier start = new CyclicBarrier(threads);
    List<Future<?>> done = new ArrayList<>();
    try {
      for (int t = 0; t < threads; t++) {
        boolean batching = t % 2 == 0;
        boolean reversed = t % 4 < 2;
        done.add(workers.submit(() -> {
          start.await(10, SECONDS);
          for (int k = 0; k < ids; k++) {
            String id = "id-" + (reversed ? ids - 1 - k : k);
            if (batching) {
              List<QuotaRequest> batch = new ArrayList<>();
              for (String s : subjects) {
                batch.add(QuotaRequest.of(s, "q")); // holds s's counter before the id's turn
                batch.add(new QuotaRequest(s, "q", 1, id));
              }
              assertThat(quotas.consumeAll(batch)).allMatch(QuotaDecision::allowed);
            } else {
              for (String s : subjects) {
                assertThat(quotas.consume(s, "q", 1, id).allowed()).isTrue();
              }
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(120, SECONDS);
      }
    } finally {
      workers.shutdownNow();
    }
    int anonymous = threads / 2 * ids; // one per subject per batch
    for (String s : subjects) {
      assertThat(fx.ledgerRows(s)).as(s).isEqualTo(ids);
      assertThat(fx.ledgerSum(s)).as(s).isEqualTo(ids);
      assertThat(fx.storedUsed(s)).as(s).isEqualTo(ids + anonymous);
    }
  }

  @Test
  void consumeAll_undefinedQuotaInTheBatch_consumesNothingOfIt() {
    String subject = fx.subjectOn(fx.plan(3, "day", "UTC"));

    assertThatThrownBy(() -> quotas.consumeAll(List.of(QuotaRequest.of(subject, "q"),
        QuotaRequest.of(subject, "no-such-quota"))))
        .isInstanceOf(QuotaConfigurationException.class)
        .hasMessageContaining("no-such-quota");
    assertThat(fx.storedUsed(subject)).isZero();
    assertThat(fx.ledgerRows(subject)).isZero();
  }

  @Test
  void quotaRequest_invalidArguments_throwNamingTheArgument() {
    assertThatThrownBy(() -> QuotaRequest.of(" ", "q"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("subject");
    assertThatThrownBy(() -> new QuotaRequest("u", "q", 0, null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("amount");
    assertThatThrownBy(() -> new QuotaRequest("u", "q", 1, ""))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("requestId");
    assertThatThrownBy(() -> quotas.consumeAll(null)).isInstanceOf(NullPointerException.class);
  }
}
