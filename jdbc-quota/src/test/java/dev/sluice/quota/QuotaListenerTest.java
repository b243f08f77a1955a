package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.QuotaDecision;
import dev.sluice.QuotaListener;
import dev.sluice.QuotaStoreException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue 16: AtomicQuotaRepository reports consumes, refusals, refunds and store failures. */
class QuotaListenerTest {
  private static QuotaDatabase pg;
  private static HikariDataSource pool;
  private static QuotaFixtures fx;

  private final List<String> events = Collections.synchronizedList(new ArrayList<>());

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    pool = pg.pool("quota-listener", 2);
    fx = new QuotaFixtures(pg);
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  private QuotaListener recorder(String who) {
    return new QuotaListener() {
      @Override
      public void onConsumed(String subject, String quota, QuotaDecision d) {
        events.add(who + " consumed " + quota + " used=" + d.used());
      }

      @Override
      public void onRefused(String subject, String quota, QuotaDecision d) {
        events.add(who + " refused " + quota + " used=" + d.used());
      }

      @Override
      public void onRefunded(String subject, String quota) {
        events.add(who + " refunded " + quota);
      }

      @Override
      public void onStoreFailure(String subject, String quota, RuntimeException failure) {
        events.add(who + " storeFailure " + subject + " " + quota + " "
            + failure.getClass().getSimpleName());
      }
    };
  }

  @Test
  void consumesRefusalsAndRefunds_areReportedOnce_inOrder_toEachListener() {
    AtomicQuotaRepository quotas = AtomicQuotaRepository.create(pool);
    AtomicInteger thrown = new AtomicInteger();
    quotas.addListener(new QuotaListener() {
      @Override
      public void onConsumed(String subject, String quota, QuotaDecision decision) {
        thrown.incrementAndGet();
        throw new IllegalStateException("listener bug");
      }
    });
    quotas.addListener(recorder("a"));
    quotas.addListener(recorder("b"));
    String subject = fx.subjectOn(fx.plan(2, "day", "UTC"));

    assertThat(quotas.consume(subject, "q", 1, "r1").allowed()).isTrue();
    assertThat(quotas.consume(subject, "q", 1, "r1").allowed()).isTrue(); // idempotent replay
    assertThat(quotas.consume(subject, "q", 1, "r2").allowed()).isTrue();
    assertThat(quotas.consume(subject, "q", 1, "r3").allowed()).isFalse();
    assertThat(quotas.refund(subject, "q", "r2")).isTrue();
    assertThat(quotas.refund(subject, "q", "r2")).isFalse(); // nothing given back: not reported
    quotas.check(subject, "q", 1); // a dry run reports nothing
    List<QuotaDecision> batch = quotas.consumeAll(List.of(
        new QuotaRequest(subject, "q", 1, null), new QuotaRequest(subject, "q", 1, null)));
    assertThat(batch).extracting(QuotaDecision::allowed).containsExactly(true, false);

    assertThat(events).containsExactly(
        "a consumed q used=1", "b consumed q used=1",
        "a consumed q used=1", "b consumed q used=1",
        "a consumed q used=2", "b consumed q used=2",
        "a refused q used=2", "b refused q used=2",
        "a refunded q", "b refunded q",
        "a consumed q used=2", "b consumed q used=2",
        "a refused q used=2", "b refused q used=2");
    assertThat(thrown).hasValue(4);
  }

  @Test
  void storeFailure_isReported_andStillThrown() {
    AtomicQuotaRepository stranger = AtomicQuotaRepository.create(
        QuotaDatabase.dataSource(pg.url(), "sluice_no_such_role_" + System.nanoTime()));
    stranger.addListener(recorder("a"));

    assertThatThrownBy(() -> stranger.consume("u", "chat", 1, null))
        .isExactlyInstanceOf(QuotaStoreException.class);
    assertThatThrownBy(() -> stranger.refund("u", "chat", "r1"))
        .isExactlyInstanceOf(QuotaStoreException.class);
    assertThatThrownBy(() -> stranger.check("u", "chat", 1))
        .isExactlyInstanceOf(QuotaStoreException.class);

    assertThat(events).containsExactly("a storeFailure u chat QuotaStoreException",
        "a storeFailure u chat QuotaStoreException");
  }

  @Test
  void addListener_rejectsNull() {
    assertThatThrownBy(() -> AtomicQuotaRepository.create(pool).addListener(null))
        .isInstanceOf(NullPointerException.class).hasMessage("listener");
  }
}
