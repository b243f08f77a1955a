package dev.sluice.quota;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.sluice.RateLimiter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Very long keys. A PostgreSQL B-tree entry holds at most ~2,700 bytes: a longer subject, request
 * id or rate-limit key used to fail inside the database ("index row size … exceeds btree version
 * 4 maximum"), and a fail-open rule then let that user through with no limit. Subjects, quota
 * names and request ids now have documented maximums checked before any database call, and
 * accepted right up to them (with incompressible multi-byte text); long rate-limit keys are
 * stored by their SHA-256 and still counted one by one.
 */
class QuotaKeyLengthTest {
  private static QuotaDatabase pg;
  private static HikariDataSource pool;
  private static AtomicQuotaRepository quotas;

  @BeforeAll
  static void setUp() {
    pg = QuotaDatabase.get();
    pool = pg.pool("key-length", 2);
    quotas = AtomicQuotaRepository.create(pool);
  }

  @AfterAll
  static void tearDown() {
    if (pool != null) {
      pool.close();
    }
  }

  /**
   * Random text of exactly {@code bytes} bytes in UTF-8, from 2-byte letters (U+0100–U+07FF) and,
   * for odd lengths, one ASCII letter: it does not compress, as a real long id would not.
   */
  private static String text(long seed, int bytes) {
    SplittableRandom random = new SplittableRandom(seed);
    StringBuilder sb = new StringBuilder();
    if (bytes % 2 == 1) {
      sb.append((char) ('a' + random.nextInt(26)));
    }
    for (int i = 0; i < bytes / 2; i++) {
      sb.append((char) (0x100 + random.nextInt(0x700)));
    }
    String s = sb.toString();
    assertThat(s.getBytes(StandardCharsets.UTF_8)).hasSize(bytes);
    return s;
  }

  @Test
  void theLongestSubjectAndRequestIdAreConsumedRefundedAndRecorded() {
    String subject = text(System.nanoTime(), Keys.MAX_SUBJECT_BYTES);
    String requestId = text(System.nanoTime() + 1, Keys.MAX_REQUEST_ID_BYTES);

    assertThat(quotas.consume(subject, "chat", 1, requestId).used()).isEqualTo(1);
    assertThat(quotas.consume(subject, "chat", 1, requestId).used()).as("replayed").isEqualTo(1);
    assertThat(quotas.status(List.of(subject), "chat")).singleElement()
        .satisfies(s -> assertThat(s.used()).isEqualTo(1));
    assertThat(quotas.refund(subject, "chat", requestId)).isTrue();
    assertThat(quotas.consumeAll(List.of(new QuotaRequest(subject, "chat", 1, requestId))))
        .singleElement().satisfies(d -> assertThat(d.used()).isEqualTo(1));
  }

  @Test
  void aSubjectQuotaOrRequestIdOneByteTooLong_isRefusedBeforeAnyDatabaseCall() {
    String subject = text(7, Keys.MAX_SUBJECT_BYTES + 1);
    String requestId = text(8, Keys.MAX_REQUEST_ID_BYTES + 1);
    String quota = "q".repeat(Keys.MAX_QUOTA_BYTES + 1);

    assertThatThrownBy(() -> quotas.consume(subject, "chat"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("subject must be at most 1024 bytes in UTF-8 but was 1025 bytes");
    assertThatThrownBy(() -> quotas.consume("u", "chat", 1, requestId))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("requestId must be at most 512 bytes in UTF-8 but was 513 bytes");
    assertThatThrownBy(() -> quotas.consume("u", quota))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("quota must be at most 128 bytes in UTF-8 but was 129 bytes");
    assertThatThrownBy(() -> quotas.check(subject, "chat", 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> quotas.refund("u", "chat", requestId))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> quotas.status(List.of("u", subject), "chat"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new QuotaRequest(subject, "chat", 1, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("subject must be at most 1024 bytes");
    // A 4-byte character counts 4: 255 of them and 4 digits are the limit; 257 are over it.
    String emoji = "\uD83D\uDE00".repeat(255) + String.format("%04d", System.nanoTime() % 10_000);
    assertThat(emoji.getBytes(StandardCharsets.UTF_8)).hasSize(Keys.MAX_SUBJECT_BYTES);
    assertThat(quotas.consume(emoji, "chat").allowed()).isTrue();
    assertThatThrownBy(() -> quotas.consume("\uD83D\uDE00".repeat(257), "chat"))
        .hasMessage("subject must be at most 1024 bytes in UTF-8 but was 1028 bytes");
    assertThat(pg.queryLong("SELECT count(*) FROM sluice.subject WHERE octet_length(subject) > "
        + Keys.MAX_SUBJECT_BYTES)).isZero();
  }

  @Test
  void longRateLimitKeys_areStoredByTheirHashAndStillCountedOneByOne() {
    String namespace = QuotaDatabase.unique("long");
    try (PostgresRateLimitStore<String> store = PostgresRateLimitStore.create(pool, namespace)) {
      RateLimiter<String> limiter = RateLimiter.builder().name("long")
          .limit(2, Duration.ofMinutes(1)).build(store);
      String key = text(11, 6000);
      String sibling = key.substring(0, key.length() - 1) + "z"; // differs in its last char only

      assertThat(limiter.tryAcquire(key).allowed()).isTrue();
      assertThat(limiter.tryAcquire(key).allowed()).isTrue();
      assertThat(limiter.tryAcquire(key).allowed()).isFalse();
      assertThat(limiter.tryAcquire(sibling).allowed()).isTrue();
      String shortKey = text(12, Keys.MAX_RATE_LIMIT_KEY_BYTES);
      assertThat(limiter.tryAcquire(shortKey).allowed()).isTrue();

      assertThat(pg.queryLong("SELECT count(*) FROM sluice.rate_limit_state WHERE namespace = '"
          + namespace + "' AND key ~ '^sha256:[0-9a-f]{64}$'")).isEqualTo(2);
      assertThat(pg.queryLong("SELECT count(*) FROM sluice.rate_limit_state WHERE namespace = '"
          + namespace + "' AND octet_length(key) = " + Keys.MAX_RATE_LIMIT_KEY_BYTES))
          .as("a key at the limit is stored as it is").isEqualTo(1);
    }
  }

  @Test
  void textsPostgresCannotHold_areRefusedAsQuotaKeys_andHashedAsRateLimitKeys() {
    String nul = "user\u0000" + System.nanoTime();
    assertThatThrownBy(() -> quotas.consume(nul, "chat"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("subject must not contain U+0000 or an unpaired surrogate (PostgreSQL text"
            + " cannot hold them)");
    assertThatThrownBy(() -> quotas.consume("u", "chat", 1, "r\uD800"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("requestId must not contain U+0000 or an unpaired surrogate");

    String namespace = QuotaDatabase.unique("odd");
    try (PostgresRateLimitStore<String> store = PostgresRateLimitStore.create(pool, namespace)) {
      RateLimiter<String> limiter = RateLimiter.builder().name("odd")
          .limit(1, Duration.ofMinutes(1)).build(store);
      // Each its own counter: the driver would send "k?" for both unpaired surrogates.
      for (String key : List.of("k\u0000a", "k\u0000b", "k\uD800", "k\uDC00", "k?")) {
        assertThat(limiter.tryAcquire(key).allowed()).as("first of %s", key.codePoints().boxed().toList()).isTrue();
        assertThat(limiter.tryAcquire(key).allowed()).as("second of %s", key.codePoints().boxed().toList()).isFalse();
      }
      assertThat(pg.queryLong("SELECT count(*) FROM sluice.rate_limit_state WHERE namespace = '"
          + namespace + "'")).isEqualTo(5);
    }
  }

  @Test
  void aNamespaceOverItsLimit_failsWhenTheStoreIsBuilt() {
    assertThatThrownBy(() -> PostgresRateLimitStore.create(pool, "n".repeat(129)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("namespace must be at most 128 bytes in UTF-8 but was 129 bytes");
  }
}
