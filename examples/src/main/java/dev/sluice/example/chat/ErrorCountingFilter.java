package dev.sluice.example.chat;

import dev.sluice.ErrorTracker;
import dev.sluice.servlet.ClientAborts;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Outermost filter: counts each API response as a success or a server error in the {@link
 * ErrorTracker} under {@code "api"}, for the health report's error rate. A queued request is
 * counted when it completes.
 *
 * <p>Two outcomes are not server errors and are kept out of the rate: a client abort (the client
 * hung up while its body arrived or its answer was written; {@link ClientAborts}), counted apart
 * in {@link ApiTraffic}, and a 503 carrying {@code Retry-After}, which is the app shedding load on
 * purpose (queue full, literature paced or unavailable) and telling the client when to return.
 * Otherwise any client within its limits could make the instance look unhealthy to a load
 * balancer.
 *
 * <p>Thread-safe.
 */
final class ErrorCountingFilter implements Filter {
  private static final Logger LOG = LoggerFactory.getLogger(ErrorCountingFilter.class);
  private static final String ABORTED = ErrorCountingFilter.class.getName() + ".aborted";
  private static final String DISPATCHED = ErrorCountingFilter.class.getName() + ".dispatched";

  private final ErrorTracker errors;
  private final ApiTraffic traffic;

  ErrorCountingFilter(ErrorTracker errors, ApiTraffic traffic) {
    this.errors = errors;
    this.traffic = traffic;
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest request = (HttpServletRequest) req;
    HttpServletResponse response = (HttpServletResponse) res;
    String path = ApiRoutes.path(request);
    boolean counted = ApiRoutes.isApi(path) && !path.equals(ApiRoutes.Route.HEALTH.path);
    DispatcherType type = request.getDispatcherType();
    if (!counted || (type != DispatcherType.REQUEST && type != DispatcherType.ASYNC)) {
      chain.doFilter(req, res);
      return;
    }
    if (type == DispatcherType.ASYNC) {
      request.setAttribute(DISPATCHED, Boolean.TRUE);
    }
    try {
      chain.doFilter(req, res);
    } catch (Throwable failure) {
      if (!ClientAborts.isClientAbort(failure)) {
        if (type == DispatcherType.REQUEST) {
          errors.recordFailure("api");
        }
        throw failure;
      }
      LOG.debug("client aborted {} {}", request.getMethod(), path, failure);
      if (type == DispatcherType.ASYNC) {
        request.setAttribute(ABORTED, Boolean.TRUE); // counted when the exchange completes
      } else {
        traffic.clientAborted();
      }
      answerIfStillOpen(response);
      return;
    }
    if (type == DispatcherType.ASYNC) {
      return; // a queued request's handler ran; the listener added at REQUEST time counts it
    }
    if (request.isAsyncStarted()) {
      request.getAsyncContext().addListener(new Outcome(request, response));
    } else {
      record(response);
    }
  }

  /**
   * A client that only half-closed may still read; one that left never sees this. The exchange
   * is over either way, and it is the client's doing: never a 500.
   */
  private static void answerIfStillOpen(HttpServletResponse response) {
    if (response.isCommitted()) {
      return;
    }
    try {
      response.resetBuffer();
      response.setHeader("Connection", "close");
      Json.error(response, 400, "incomplete_request",
          "The connection ended before the request was complete.");
    } catch (IOException | RuntimeException e) {
      LOG.debug("client gone", e);
    }
  }

  private void record(HttpServletResponse response) {
    int status = response.getStatus();
    boolean shed = status == 503 && response.getHeader("Retry-After") != null;
    errors.record("api", status < 500 || shed);
  }

  /** Counts a request that went asynchronous (queued) when it completes. */
  private final class Outcome implements AsyncListener {
    private final HttpServletRequest request;
    private final HttpServletResponse response;
    private volatile boolean aborted;

    Outcome(HttpServletRequest request, HttpServletResponse response) {
      this.request = request;
      this.response = response;
    }

    @Override
    public void onComplete(AsyncEvent event) {
      if (aborted || request.getAttribute(ABORTED) != null) {
        traffic.clientAborted();
      } else if (request.getAttribute(DISPATCHED) != null || response.getStatus() != 200) {
        record(response);
      }
      // Else the request left the queue with no answer and no handler run: its client went away
      // while it waited, which the Sluice filter counts as abandoned. Not an error, not a success.
    }

    @Override
    public void onTimeout(AsyncEvent event) {}

    @Override
    public void onError(AsyncEvent event) {
      if (ClientAborts.isClientAbort(event.getThrowable())) {
        aborted = true;
      }
    }

    @Override
    public void onStartAsync(AsyncEvent event) {
      event.getAsyncContext().addListener(this);
    }
  }
}
