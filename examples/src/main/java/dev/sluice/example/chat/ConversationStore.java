package dev.sluice.example.chat;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/** Each user's questions and answers ({@code chat_app.messages}), for export. Thread-safe. */
final class ConversationStore {
  /** One exchange. */
  record Entry(String kind, String question, String answer, String sources, Instant at) {}

  private final DataSource db;

  ConversationStore(DataSource db) {
    this.db = db;
  }

  void add(String userId, String kind, String question, String answer, String sources)
      throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("INSERT INTO chat_app.messages"
            + " (user_id, kind, question, answer, sources) VALUES (?, ?, ?, ?, ?)")) {
      ps.setString(1, userId);
      ps.setString(2, kind);
      ps.setString(3, question);
      ps.setString(4, answer);
      ps.setString(5, sources);
      ps.executeUpdate();
    }
  }

  List<Entry> list(String userId, int max) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT kind, question, answer, sources,"
            + " created_at FROM chat_app.messages WHERE user_id = ? ORDER BY id LIMIT ?")) {
      ps.setString(1, userId);
      ps.setInt(2, max);
      List<Entry> out = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(new Entry(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
              rs.getTimestamp(5).toInstant()));
        }
      }
      return out;
    }
  }
}
