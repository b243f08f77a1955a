package dev.sluice.servlet;

import dev.sluice.servlet.internal.JettyDisconnectWatcher;
import jakarta.servlet.http.HttpServletRequest;

/**
 * Notices a client that goes away while its request waits in the queue, so the request gives its
 * place back at once instead of holding it until its wait times out.
 *
 * <p>The Servlet API reports such failures through {@code AsyncListener.onError}, which the filter
 * always listens to, but over HTTP/1.1 containers usually cannot see a closed connection while a
 * request is suspended (nothing reads the socket). {@link #automatic()} therefore adds a watcher
 * for Jetty 12 (ee10) when Jetty is on the class path: it asks Jetty to report the socket readable
 * and reads at most one byte; end-of-stream means the client left. A byte of a pipelined next
 * request cannot be put back, so in that rare case the response is sent with
 * {@code Connection: close} and the client re-sends that request on a new connection, as HTTP/1.1
 * requires it to.
 *
 * <p>Implementations must be thread-safe.
 */
public interface DisconnectWatcher {

  /**
   * Starts watching a suspended request's connection. The request body must already have been
   * read completely, so the only bytes left on the connection belong to a later request.
   *
   * @param request the suspended request
   * @param onDisconnect run at most once, on any thread, if the client goes away
   * @return a handle that stops watching; never null
   */
  Watch watch(HttpServletRequest request, Runnable onDisconnect);

  /** A running watch. Thread-safe. */
  interface Watch extends AutoCloseable {
    /** A watch that watches nothing. */
    Watch NONE = new Watch() {
      @Override
      public void close() {}

      @Override
      public boolean consumedInput() {
        return false;
      }
    };

    /** Stops watching; idempotent. Must be called before the request is dispatched. */
    @Override
    void close();

    /**
     * Whether the watch had to read a byte of a following request, so the connection must close
     * after this response.
     *
     * @return true if the connection can no longer be reused
     */
    boolean consumedInput();
  }

  /**
   * A watcher that relies on {@code AsyncListener} notifications only.
   *
   * @return the no-op watcher
   */
  static DisconnectWatcher none() {
    return (request, onDisconnect) -> Watch.NONE;
  }

  /**
   * The Jetty 12 watcher when Jetty's ee10 servlet classes are present, otherwise {@link #none()}.
   *
   * @return the best available watcher
   */
  static DisconnectWatcher automatic() {
    return JettyDisconnectWatcher.available() ? new JettyDisconnectWatcher() : none();
  }
}
