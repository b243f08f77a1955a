package dev.sluice.example.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/** Renders a conversation as Markdown or CSV (RFC 4180). Stateless and thread-safe. */
final class Exports {
  private Exports() {}

  static String markdown(List<ConversationStore.Entry> entries) {
    StringBuilder sb = new StringBuilder("# Conversation\n\n");
    if (entries.isEmpty()) {
      sb.append("_No messages yet._\n");
    }
    for (ConversationStore.Entry e : entries) {
      sb.append("## ").append(e.kind().equals("chat") ? "Question" : "Research").append(" (")
          .append(e.at()).append(")\n\n").append(e.question()).append("\n\n**Answer.** ")
          .append(e.answer()).append("\n\n");
      JsonNode sources = parse(e.sources());
      if (sources.size() > 0) {
        sb.append("Sources:\n\n");
        for (JsonNode s : sources) {
          sb.append("- [").append(s.path("title").asText()).append("](")
              .append(s.path("url").asText()).append("), ").append(s.path("journal").asText())
              .append(' ').append(s.path("pubdate").asText()).append('\n');
        }
        sb.append('\n');
      }
    }
    return sb.toString();
  }

  static String csv(List<ConversationStore.Entry> entries) {
    StringBuilder sb = new StringBuilder("time,kind,question,answer,sources\r\n");
    for (ConversationStore.Entry e : entries) {
      StringBuilder ids = new StringBuilder();
      for (JsonNode s : parse(e.sources())) {
        ids.append(ids.length() > 0 ? " " : "").append(s.path("uid").asText());
      }
      sb.append(e.at()).append(',').append(e.kind()).append(',').append(cell(e.question()))
          .append(',').append(cell(e.answer())).append(',').append(cell(ids.toString()))
          .append("\r\n");
    }
    return sb.toString();
  }

  /** Quotes a cell; a leading =, +, - or @ is prefixed with ' so spreadsheets do not run it. */
  static String cell(String s) {
    String v = s;
    if (!v.isEmpty() && "=+-@".indexOf(v.charAt(0)) >= 0) {
      v = "'" + v;
    }
    return "\"" + v.replace("\"", "\"\"") + "\"";
  }

  private static JsonNode parse(String json) {
    try {
      return Json.MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      return Json.MAPPER.createArrayNode();
    }
  }
}
