package dev.sluice.example.chat;

import dev.sluice.ErrorTracker;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;

/**
 * Outermost filter: counts each API response as a success or an error (5xx, or an exception) in
 * the {@link ErrorTracker} under {@code "api"}, for the health report's error rate. A queued
 * request is counted when it completes. Thread-safe.
 */
final class ErrorCountingFilter implements Filter {
  private final ErrorTracker errors;

  ErrorCountingFilter(ErrorTracker errors) {
    this.errors = errors;
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest request = (HttpServletRequest) req;
    HttpServletResponse response = (HttpServletResponse) res;
    boolean counted = request.getDispatcherType() == DispatcherType.REQUEST
        && request.getRequestURI().startsWith("/api/")
        && !request.getRequestURI().equals("/api/system-health");
    if (!counted) {
      chain.doFilter(req, res);
      return;
    }
    boolean ok = false;
    try {
      chain.doFilter(req, res);
      ok = true;
    } finally {
      if (!ok) {
        errors.recordFailure("api");
      } else if (request.isAsyncStarted()) {
        request.getAsyncContext().addListener(new AsyncListener() {
          @Override
          public void onComplete(AsyncEvent event) {
            record(response.getStatus());
          }

          @Override
          public void onTimeout(AsyncEvent event) {}

          @Override
          public void onError(AsyncEvent event) {}

          @Override
          public void onStartAsync(AsyncEvent event) {}
        });
      } else {
        record(response.getStatus());
      }
    }
  }

  private void record(int status) {
    errors.record("api", status < 500);
  }
}
