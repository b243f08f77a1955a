package dev.sluice.servlet.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A strict reader for the small JSON objects the admin endpoint accepts, such as
 * {@code {"action":"reset-queue"}}: RFC 8259 syntax, a top-level object, and its members' string
 * values (members of other types are checked for syntax and skipped). Thread-safe (stateless).
 */
public final class JsonObjectReader {
  private final String text;
  private int pos;

  private JsonObjectReader(String text) {
    this.text = text;
  }

  /**
   * Parses a JSON object and returns its string-valued members.
   *
   * @param text the JSON text
   * @return member name to string value, for string members only
   * @throws IllegalArgumentException naming the position and problem if the text is not one JSON
   *     object
   */
  public static Map<String, String> stringMembers(String text) {
    JsonObjectReader r = new JsonObjectReader(text);
    r.skipSpace();
    Map<String, String> out = new LinkedHashMap<>();
    r.object(out, 0);
    r.skipSpace();
    if (r.pos != text.length()) {
      throw r.error("unexpected text after the object");
    }
    return out;
  }

  private void object(Map<String, String> out, int depth) {
    if (depth > 32) {
      throw error("nesting too deep");
    }
    expect('{');
    skipSpace();
    if (peek() == '}') {
      pos++;
      return;
    }
    while (true) {
      skipSpace();
      String name = string();
      skipSpace();
      expect(':');
      skipSpace();
      if (peek() == '"') {
        String value = string();
        if (out != null) {
          out.put(name, value);
        }
      } else {
        value(depth);
      }
      skipSpace();
      char c = next();
      if (c == '}') {
        return;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or '}'");
      }
    }
  }

  private void value(int depth) {
    char c = peek();
    switch (c) {
      case '{' -> object(null, depth + 1);
      case '[' -> array(depth + 1);
      case '"' -> string();
      case 't' -> literal("true");
      case 'f' -> literal("false");
      case 'n' -> literal("null");
      default -> number();
    }
  }

  private void array(int depth) {
    if (depth > 32) {
      throw error("nesting too deep");
    }
    expect('[');
    skipSpace();
    if (peek() == ']') {
      pos++;
      return;
    }
    while (true) {
      skipSpace();
      value(depth);
      skipSpace();
      char c = next();
      if (c == ']') {
        return;
      }
      if (c != ',') {
        pos--;
        throw error("expected ',' or ']'");
      }
    }
  }

  private void literal(String word) {
    if (!text.startsWith(word, pos)) {
      throw error("expected " + word);
    }
    pos += word.length();
  }

  private void number() {
    int start = pos;
    if (peek() == '-') {
      pos++;
    }
    int digits = 0;
    while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
      pos++;
      digits++;
    }
    if (digits == 0) {
      pos = start;
      throw error("expected a value");
    }
    if (pos < text.length() && text.charAt(pos) == '.') {
      pos++;
      while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
        pos++;
      }
    }
    if (pos < text.length() && (text.charAt(pos) == 'e' || text.charAt(pos) == 'E')) {
      pos++;
      if (pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
        pos++;
      }
      while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
        pos++;
      }
    }
  }

  private String string() {
    expect('"');
    StringBuilder sb = new StringBuilder();
    while (true) {
      char c = next();
      if (c == '"') {
        return sb.toString();
      }
      if (c < 0x20) {
        pos--;
        throw error("control character in a string");
      }
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      char e = next();
      switch (e) {
        case '"', '\\', '/' -> sb.append(e);
        case 'b' -> sb.append('\b');
        case 'f' -> sb.append('\f');
        case 'n' -> sb.append('\n');
        case 'r' -> sb.append('\r');
        case 't' -> sb.append('\t');
        case 'u' -> {
          if (pos + 4 > text.length()) {
            throw error("short \\u escape");
          }
          try {
            sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
          } catch (NumberFormatException x) {
            throw error("bad \\u escape");
          }
          pos += 4;
        }
        default -> {
          pos--;
          throw error("bad escape");
        }
      }
    }
  }

  private void skipSpace() {
    while (pos < text.length()) {
      char c = text.charAt(pos);
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        return;
      }
      pos++;
    }
  }

  private char peek() {
    if (pos >= text.length()) {
      throw error("unexpected end of input");
    }
    return text.charAt(pos);
  }

  private char next() {
    char c = peek();
    pos++;
    return c;
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException(what + " at position " + pos);
  }
}
