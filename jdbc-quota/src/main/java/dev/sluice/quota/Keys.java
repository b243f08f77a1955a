package dev.sluice.quota;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * What texts the quota tables may be keyed by. A PostgreSQL B-tree entry holds at most about
 * 2,700 bytes: a longer subject, request id or rate-limit key used to fail inside the database
 * ("index row size … exceeds btree version 4 maximum 2704"), which a fail-open rule then answered
 * by letting the request through, so a user with a very long id (one who chose it at sign-up,
 * say) had no limit at all. Subjects, quota names and request ids are now checked before
 * any database call; rate-limit keys, which nobody but the store reads, are stored by their
 * SHA-256 when long. The three limits together stay under the ledger's unique index's maximum.
 * The same goes for texts PostgreSQL cannot hold at all: U+0000 (an error in the database, so the
 * same bypass) and unpaired surrogates (the driver sends {@code ?} for them, so two distinct keys
 * would share one counter). Stateless and thread-safe.
 */
final class Keys {
  /** The longest subject, in UTF-8 bytes (an e-mail address is at most 254). */
  static final int MAX_SUBJECT_BYTES = 1024;
  /** The longest quota name, in UTF-8 bytes. */
  static final int MAX_QUOTA_BYTES = 128;
  /** The longest request id, in UTF-8 bytes (a UUID is 36). */
  static final int MAX_REQUEST_ID_BYTES = 512;
  /** Rate-limit key texts longer than this, in UTF-8 bytes, are stored by their SHA-256. */
  static final int MAX_RATE_LIMIT_KEY_BYTES = 512;
  /** The longest rate-limit namespace, in UTF-8 bytes (checked when the store is built). */
  static final int MAX_NAMESPACE_BYTES = 128;
  /** What {@link #utf8Length} answers for a text PostgreSQL cannot store as it is. */
  static final int UNSTORABLE = -1;

  private Keys() {}

  static void requireSubject(String subject) {
    requireText(subject, "subject", MAX_SUBJECT_BYTES);
  }

  static void requireQuota(String quota) {
    requireText(quota, "quota", MAX_QUOTA_BYTES);
  }

  /** A request id is optional: null passes; blank or too long does not. */
  static void requireRequestId(String requestId) {
    if (requestId != null) {
      if (requestId.isBlank()) {
        throw new IllegalArgumentException("requestId must be null or non-blank but was blank");
      }
      requireLength(requestId, "requestId", MAX_REQUEST_ID_BYTES);
    }
  }

  private static void requireText(String value, String name) {
    if (value == null || value.isBlank()) {
      throw new IllegalArgumentException(
          name + " must be non-blank but was " + (value == null ? "null" : "'" + value + "'"));
    }
  }

  /** Non-blank and at most {@code maxBytes} in UTF-8. */
  static void requireText(String value, String name, int maxBytes) {
    requireText(value, name);
    requireLength(value, name, maxBytes);
  }

  private static void requireLength(String value, String name, int maxBytes) {
    int bytes = utf8Length(value);
    if (bytes == UNSTORABLE) {
      // The value itself is not echoed: it may be anything a client sent, and very long.
      throw new IllegalArgumentException(name + " must not contain U+0000 or an unpaired"
          + " surrogate (PostgreSQL text cannot hold them)");
    }
    if (bytes > maxBytes) {
      throw new IllegalArgumentException(name + " must be at most " + maxBytes
          + " bytes in UTF-8 but was " + bytes + " bytes");
    }
  }

  /**
   * The text a rate-limit key is stored under: the key text itself, or, when it is longer than
   * {@link #MAX_RATE_LIMIT_KEY_BYTES} in UTF-8 or holds what PostgreSQL text cannot (U+0000, an
   * unpaired surrogate, which the driver would turn into {@code ?} and so merge distinct keys),
   * {@code "sha256:"} and the hex SHA-256 of its UTF-16 code units (distinct keys stay distinct: a
   * short key equal to another key's stored text would take a SHA-256 preimage).
   */
  static String rateLimitKey(String text) {
    int bytes = utf8Length(text);
    if (bytes != UNSTORABLE && bytes <= MAX_RATE_LIMIT_KEY_BYTES) {
      return text;
    }
    // The code units themselves: String.getBytes would replace an unpaired surrogate with '?'.
    byte[] units = new byte[text.length() * 2];
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      units[2 * i] = (byte) (c >>> 8);
      units[2 * i + 1] = (byte) c;
    }
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(units);
      return "sha256:" + HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /**
   * The UTF-8 length of {@code s}, or {@link #UNSTORABLE} when it holds U+0000 or an unpaired
   * surrogate, in one pass over the chars.
   */
  static int utf8Length(String s) {
    int n = s.length();
    int bytes = 0;
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (c == 0) {
        return UNSTORABLE;
      } else if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (!Character.isSurrogate(c)) {
        bytes += 3;
      } else if (Character.isHighSurrogate(c) && i + 1 < n
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        return UNSTORABLE;
      }
    }
    return bytes;
  }
}
