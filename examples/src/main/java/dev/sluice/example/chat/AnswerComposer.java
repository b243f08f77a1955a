package dev.sluice.example.chat;

import java.util.List;

/**
 * Writes an answer from retrieved records, without a language model: which records were found,
 * the newest first, with their journals and years. Stateless and thread-safe.
 */
final class AnswerComposer {
  private AnswerComposer() {}

  static String compose(String question, List<LiteratureClient.Source> sources, boolean useRag) {
    if (!useRag) {
      return "Retrieval is off (useRAG: false), so this answer cites nothing. Ask again with"
          + " retrieval on to see what the literature says about: \"" + question + "\".";
    }
    if (sources.isEmpty()) {
      return "No records matched \"" + question + "\". Try other words, such as a condition,"
          + " a treatment or an outcome.";
    }
    StringBuilder sb = new StringBuilder();
    sb.append("Found ").append(sources.size()).append(sources.size() == 1 ? " record" : " records")
        .append(" on \"").append(question).append("\". ");
    LiteratureClient.Source top = sources.get(0);
    sb.append("The most relevant is \"").append(top.title()).append("\" (")
        .append(top.journal()).append(", ").append(year(top.pubdate())).append(")");
    if (!top.authors().isEmpty()) {
      sb.append(" by ").append(top.authors().get(0))
          .append(top.authors().size() > 1 ? " et al" : "");
    }
    sb.append('.');
    if (sources.size() > 1) {
      sb.append(" Also relevant: ");
      for (int i = 1; i < sources.size(); i++) {
        LiteratureClient.Source s = sources.get(i);
        sb.append(i > 1 ? "; " : "").append('"').append(s.title()).append("\" (")
            .append(year(s.pubdate())).append(')');
      }
      sb.append('.');
    }
    sb.append(" Read the sources before drawing conclusions.");
    return sb.toString();
  }

  static String year(String pubdate) {
    return pubdate == null || pubdate.length() < 4 ? "n.d." : pubdate.substring(0, 4);
  }
}
