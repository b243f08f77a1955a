package dev.sluice.example.chat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's error pages, as the app's JSON: {@code {"error":"not_found","message":"..."}} for
 * every status, whatever the client accepts, with no stack trace, exception text, servlet name
 * or echoed URI. Two instances cover every source of an error: {@link #server()} for what Jetty
 * refuses before any servlet runs (a malformed or ambiguous URI, headers too large), {@link
 * #servlets()} for {@code sendError} and exceptions that escape a servlet. Jetty logs an escaping
 * exception once, with its stack trace, on the server side only.
 *
 * <p>Thread-safe (stateless).
 */
final class JsonErrors {
  private JsonErrors() {}

  /**
   * The server-wide handler, for errors raised before a request reaches the servlet context.
   *
   * @return the handler for {@code Server.setErrorHandler}
   */
  static org.eclipse.jetty.server.handler.ErrorHandler server() {
    return new org.eclipse.jetty.server.handler.ErrorHandler() {
      @Override
      public boolean errorPageForMethod(String method) {
        return true;
      }

      @Override
      protected boolean generateAcceptableResponse(Request request, Response response,
          Callback callback, String contentType, List<Charset> charsets, int code,
          String message, Throwable cause) throws java.io.IOException {
        return super.generateAcceptableResponse(request, response, callback, "application/json",
            List.of(StandardCharsets.UTF_8), code, message, null);
      }

      @Override
      protected void writeErrorJson(Request request, PrintWriter writer, int code,
          String message, Throwable cause) {
        writer.write(body(code));
      }
    };
  }

  /**
   * The servlet context's handler, for {@code sendError} and exceptions escaping a servlet.
   *
   * @return the handler for {@code ServletContextHandler.setErrorHandler}
   */
  static org.eclipse.jetty.ee10.servlet.ErrorHandler servlets() {
    return new org.eclipse.jetty.ee10.servlet.ErrorHandler() {
      @Override
      public boolean errorPageForMethod(String method) {
        return true;
      }

      @Override
      protected boolean generateAcceptableResponse(Request request, Response response,
          Callback callback, String contentType, List<Charset> charsets, int code,
          String message, Throwable cause) throws java.io.IOException {
        return super.generateAcceptableResponse(request, response, callback, "application/json",
            List.of(StandardCharsets.UTF_8), code, message, null);
      }

      @Override
      protected void writeErrorJson(Request request, PrintWriter writer, int code,
          String message, Throwable cause) {
        writer.write(body(code));
      }
    };
  }

  /**
   * The body for a status: a stable error code and a sentence a page can show.
   *
   * @param code the HTTP status
   * @return the JSON text
   */
  static String body(int code) {
    String error;
    String message;
    switch (code) {
      case 400 -> {
        error = "bad_request";
        message = "The request is malformed.";
      }
      case 404 -> {
        error = "not_found";
        message = "Nothing is at this path.";
      }
      case 405 -> {
        error = "method_not_allowed";
        message = "This path does not answer that method.";
      }
      case 408 -> {
        error = "request_timeout";
        message = "The request did not arrive in time.";
      }
      case 413 -> {
        error = "too_large";
        message = "The request is too large.";
      }
      case 414 -> {
        error = "uri_too_long";
        message = "The request URI is too long.";
      }
      case 431 -> {
        error = "headers_too_large";
        message = "The request headers are too large.";
      }
      case 500 -> {
        error = "internal_error";
        message = "Something went wrong on our side; please try again.";
      }
      case 503 -> {
        error = "unavailable";
        message = "The service is unavailable; please try again.";
      }
      default -> {
        String reason = HttpStatus.getMessage(code);
        error = reason == null ? "error" : reason.toLowerCase(java.util.Locale.ROOT)
            .replaceAll("[^a-z0-9]+", "_").replaceAll("^_|_$", "");
        message = code >= 500 ? "The server could not answer; please try again."
            : "The request was refused (" + code + ").";
      }
    }
    ObjectNode body = Json.object().put("error", error).put("message", message);
    return body.toString();
  }
}
