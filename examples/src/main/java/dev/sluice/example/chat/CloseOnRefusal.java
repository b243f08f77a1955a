package dev.sluice.example.chat;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;

/**
 * Outermost filter: an error status (4xx, 5xx) answered to a request that carries a body says
 * {@code Connection: close}. Such answers are mostly refusals made before the body was read (a
 * rate limit, a missing token, a wrong method); Jetty then cannot reuse the connection and
 * closes it after the response, but the response it already committed did not say so. A
 * keep-alive client would send its next request on the dead connection and fail with "header
 * parser received no bytes" or a broken pipe: the load generator's once-in-five connection
 * error. Saying it in the response lets every client open a fresh connection instead.
 *
 * <p>Thread-safe (stateless).
 */
final class CloseOnRefusal implements Filter {

  @Override
  public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest request = (HttpServletRequest) req;
    boolean body = request.getContentLengthLong() > 0
        || request.getHeader("Transfer-Encoding") != null;
    if (request.getDispatcherType() != DispatcherType.REQUEST || !body) {
      chain.doFilter(req, res);
      return;
    }
    chain.doFilter(req, new Closing((HttpServletResponse) res));
  }

  /** Adds {@code Connection: close} when an error status is set. */
  private static final class Closing extends HttpServletResponseWrapper {
    Closing(HttpServletResponse response) {
      super(response);
    }

    @Override
    public void setStatus(int sc) {
      close(sc);
      super.setStatus(sc);
    }

    @Override
    public void sendError(int sc) throws IOException {
      close(sc);
      super.sendError(sc);
    }

    @Override
    public void sendError(int sc, String msg) throws IOException {
      close(sc);
      super.sendError(sc, msg);
    }

    private void close(int sc) {
      if (sc >= 400 && !isCommitted()) {
        setHeader("Connection", "close");
      }
    }
  }
}
