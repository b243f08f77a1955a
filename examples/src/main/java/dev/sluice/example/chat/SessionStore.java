package dev.sluice.example.chat;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * Issues and checks the app's bearer tokens. A token is 32 random bytes, base64url; only its
 * SHA-256 is stored ({@code chat_app.sessions}). Each session is a new user on a plan; the plan is
 * also written to the quota schema ({@code sluice.subject}) so the quota follows it.
 *
 * <p>Thread-safe.
 */
final class SessionStore {
  /** How long a token stays valid. */
  static final Duration LIFETIME = Duration.ofDays(1);

  private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

  private final DataSource db;
  private final SecureRandom random = new SecureRandom();
  private final Clock clock;

  /** A session: who the token belongs to and on which plan. */
  record Session(String token, String userId, String plan, Instant expiresAt) {}

  SessionStore(DataSource db, Clock clock) {
    this.db = Objects.requireNonNull(db, "db");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Issues a token for a new user.
   *
   * @param plan {@code free} or {@code pro}
   * @return the session, holding the only copy of the token
   * @throws SQLException if the database failed
   */
  Session issue(String plan) throws SQLException {
    byte[] raw = new byte[32];
    random.nextBytes(raw);
    String token = B64.encodeToString(raw);
    byte[] id = new byte[9];
    random.nextBytes(id);
    String userId = "u_" + B64.encodeToString(id);
    Instant expires = clock.instant().plus(LIFETIME);
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement subject = c.prepareStatement(
              "INSERT INTO sluice.subject (subject, plan) VALUES (?, ?)"
                  + " ON CONFLICT (subject) DO UPDATE SET plan = excluded.plan");
          PreparedStatement session = c.prepareStatement(
              "INSERT INTO chat_app.sessions (token_sha256, user_id, plan, expires_at)"
                  + " VALUES (?, ?, ?, ?)")) {
        subject.setString(1, userId);
        subject.setString(2, plan);
        subject.executeUpdate();
        session.setBytes(1, sha256(token));
        session.setString(2, userId);
        session.setString(3, plan);
        session.setTimestamp(4, Timestamp.from(expires));
        session.executeUpdate();
        c.commit();
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      }
    }
    return new Session(token, userId, plan, expires);
  }

  /**
   * Finds the live session of a token.
   *
   * @param token the bearer token as the client sent it
   * @return the session (without the token), or empty when unknown or expired
   * @throws SQLException if the database failed
   */
  Optional<Session> find(String token) throws SQLException {
    if (token == null || token.length() != 43) {
      return Optional.empty();
    }
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement(
            "SELECT user_id, plan, expires_at FROM chat_app.sessions"
                + " WHERE token_sha256 = ? AND expires_at > ?")) {
      ps.setBytes(1, sha256(token));
      ps.setTimestamp(2, Timestamp.from(clock.instant()));
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        return Optional.of(new Session(null, rs.getString(1), rs.getString(2),
            rs.getTimestamp(3).toInstant()));
      }
    }
  }

  static byte[] sha256(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
