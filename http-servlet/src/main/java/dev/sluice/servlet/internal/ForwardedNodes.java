package dev.sluice.servlet.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits forwarding headers into their hops, left to right, without judging them: an empty or
 * malformed hop comes back as it is (or as {@code ""}) so the caller stops its walk there, which
 * can only make a key stricter. Thread-safe (stateless).
 */
public final class ForwardedNodes {
  private ForwardedNodes() {}

  /**
   * The hops of {@code X-Forwarded-For}, over all its header lines in order.
   *
   * @param values the header's values
   * @return one entry per comma-separated hop, empty ones included
   */
  public static List<String> xForwardedFor(List<String> values) {
    List<String> hops = new ArrayList<>();
    for (String value : values) {
      // -1 keeps trailing empty hops: an empty hop must stop the walk, not vanish.
      for (String hop : value.split(",", -1)) {
        hops.add(hop);
      }
    }
    return hops;
  }

  /**
   * The {@code for=} node of each RFC 7239 {@code Forwarded} element, over all header lines in
   * order. Commas and semicolons inside quoted strings do not split. An element without a
   * {@code for} parameter, or with more than one, gives {@code ""}.
   *
   * @param values the header's values
   * @return one node per element, still quoted if it was
   */
  public static List<String> forwardedFor(List<String> values) {
    List<String> nodes = new ArrayList<>();
    for (String value : values) {
      String node = null;
      int fors = 0;
      int pairStart = 0;
      boolean quoted = false;
      int n = value.length();
      for (int i = 0; i <= n; i++) {
        char c = i < n ? value.charAt(i) : ',';
        if (quoted) {
          if (c == '\\') {
            i++;
          } else if (c == '"') {
            quoted = false;
          }
          if (i < n) {
            continue;
          }
          c = ','; // an unterminated quote runs to the end; the node then fails to parse
        }
        if (c == '"') {
          quoted = true;
        } else if (c == ';' || c == ',') {
          int eq = value.indexOf('=', pairStart);
          if (eq >= 0 && eq < i && value.substring(pairStart, eq).trim().equalsIgnoreCase("for")) {
            node = value.substring(eq + 1, i);
            fors++;
          }
          pairStart = i + 1;
          if (c == ',') {
            nodes.add(fors == 1 ? node : "");
            node = null;
            fors = 0;
          }
        }
      }
    }
    return nodes;
  }
}
