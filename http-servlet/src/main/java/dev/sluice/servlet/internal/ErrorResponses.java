package dev.sluice.servlet.internal;

import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/** Writes the adapter's JSON error responses. Thread-safe (stateless). */
public final class ErrorResponses {
  private ErrorResponses() {}

  /**
   * Writes a JSON error that no cache may store.
   *
   * @param response the response, not yet committed
   * @param status the HTTP status
   * @param retryAfterSeconds the {@code Retry-After} value, or a negative number for none
   * @param json the body, already valid JSON
   * @throws IOException if the client went away
   */
  public static void write(HttpServletResponse response, int status, long retryAfterSeconds,
      String json) throws IOException {
    if (response.isCommitted()) {
      return;
    }
    response.resetBuffer();
    response.setStatus(status);
    response.setHeader("Cache-Control", "no-store");
    if (retryAfterSeconds >= 0) {
      response.setHeader("Retry-After", Long.toString(retryAfterSeconds));
    }
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    response.setContentType("application/json;charset=utf-8");
    response.setContentLength(body.length);
    response.getOutputStream().write(body);
    response.flushBuffer();
  }

  /**
   * Builds {@code {"error":…,"message":…}} plus extra members.
   *
   * @param error the machine-readable code
   * @param message the human-readable message
   * @param extra further members as name/value pairs, values already JSON
   * @return the body
   */
  public static String body(String error, String message, Object... extra) {
    StringBuilder sb = new StringBuilder(128).append("{\"error\":").append(Json.quote(error))
        .append(",\"message\":").append(Json.quote(message));
    for (int i = 0; i + 1 < extra.length; i += 2) {
      sb.append(',').append(Json.quote(String.valueOf(extra[i]))).append(':').append(extra[i + 1]);
    }
    return sb.append('}').toString();
  }
}
