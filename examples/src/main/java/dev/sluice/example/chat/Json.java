package dev.sluice.example.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/** JSON in and out of the servlets, through Jackson, with JSON error bodies. Thread-safe. */
final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper()
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  /** The largest request body read, in bytes. */
  static final int MAX_BODY = 16 * 1024;

  private Json() {}

  /** A request the client got wrong; answered with its status and a JSON error. */
  static final class BadRequest extends Exception {
    private static final long serialVersionUID = 1L;
    final int status;
    final String error;

    BadRequest(int status, String error, String message) {
      super(message);
      this.status = status;
      this.error = error;
    }
  }

  /**
   * Reads a JSON object body.
   *
   * @throws BadRequest 415 if not JSON, 413 if larger than {@link #MAX_BODY}, 400 if malformed or
   *     not an object
   */
  static ObjectNode readObject(HttpServletRequest request) throws IOException, BadRequest {
    String type = request.getContentType();
    if (type != null && !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/json")) {
      throw new BadRequest(415, "unsupported_media_type", "send Content-Type: application/json");
    }
    if (request.getContentLengthLong() > MAX_BODY) {
      throw new BadRequest(413, "too_large", "the request body is larger than " + MAX_BODY
          + " bytes");
    }
    byte[] body;
    try (InputStream in = request.getInputStream()) {
      body = in.readNBytes(MAX_BODY + 1);
    }
    if (body.length > MAX_BODY) {
      throw new BadRequest(413, "too_large", "the request body is larger than " + MAX_BODY
          + " bytes");
    }
    if (body.length == 0) {
      throw new BadRequest(400, "bad_request", "the request body is empty; send a JSON object");
    }
    JsonNode node;
    try {
      node = MAPPER.readTree(new String(body, StandardCharsets.UTF_8));
    } catch (JsonProcessingException e) {
      throw new BadRequest(400, "bad_json", "malformed JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw new BadRequest(400, "bad_json", "the body must be a JSON object");
    }
    return (ObjectNode) node;
  }

  /**
   * A required text field.
   *
   * @throws BadRequest 400 when missing, not text, blank or not storable ({@link #storable});
   *     413 when longer than {@code maxChars}
   */
  static String requiredText(JsonNode body, String field, int maxChars) throws BadRequest {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      throw new BadRequest(400, "missing_field", "field '" + field + "' is required");
    }
    if (!v.isTextual() || v.asText().isBlank()) {
      throw new BadRequest(400, "bad_field", "field '" + field + "' must be a non-empty string");
    }
    String s = v.asText().strip();
    if (s.length() > maxChars) {
      throw new BadRequest(413, "too_large", "field '" + field + "' is longer than " + maxChars
          + " characters");
    }
    return storable(field, s);
  }

  /**
   * Refuses text PostgreSQL cannot store: a NUL character (a {@code text} value cannot hold one)
   * or a lone UTF-16 surrogate (a JSON escape of half a surrogate pair lets one through; it has
   * no UTF-8 form). Checked when the request is read, before any outbound call or database write.
   *
   * @throws BadRequest 400 naming the field and what is wrong with it
   */
  static String storable(String field, String s) throws BadRequest {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\0') {
        throw new BadRequest(400, "bad_field", "field '" + field
            + "' contains a NUL character (\\u0000), which cannot be stored");
      }
      if (Character.isHighSurrogate(c) && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new BadRequest(400, "bad_field", "field '" + field
            + "' contains an unpaired UTF-16 surrogate, which is not valid text");
      }
    }
    return s;
  }

  static ObjectNode object() {
    return MAPPER.createObjectNode();
  }

  static void write(HttpServletResponse response, int status, JsonNode body) throws IOException {
    response.setStatus(status);
    response.setContentType("application/json");
    response.setCharacterEncoding("UTF-8");
    response.setHeader("Cache-Control", "no-store");
    byte[] bytes = MAPPER.writeValueAsBytes(body);
    // No Content-Length: the container buffers the body and sends it when the request completes,
    // after the filters' work (a quota refund, a released permit) is done. A length written in
    // full would send the answer at once, and a client could then race the refund.
    response.getOutputStream().write(bytes);
  }

  static void error(HttpServletResponse response, int status, String error, String message)
      throws IOException {
    ObjectNode body = object().put("error", error).put("message", message);
    write(response, status, body);
  }

  static void error(HttpServletResponse response, BadRequest e) throws IOException {
    error(response, e.status, e.error, e.getMessage());
  }
}
