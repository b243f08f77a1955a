package dev.sluice.servlet;

import java.io.EOFException;
import java.io.IOException;
import java.util.Locale;
import java.util.Set;

/**
 * Tells a client abort from a server error. A client that hangs up while its request body arrives
 * or while its response is written makes the container throw (Jetty's {@code EofException},
 * Tomcat's {@code ClientAbortException}, a {@code java.io.EOFException}, a reset or broken pipe).
 * That is the client's doing: count it apart, never in an error rate or in health.
 *
 * <p>Thread-safe (stateless).
 */
public final class ClientAborts {
  /** Container exception types that mean the client went away, by simple name. */
  private static final Set<String> ABORT_TYPES = Set.of(
      "EofException",            // org.eclipse.jetty.io.EofException
      "ClientAbortException",    // org.apache.catalina.connector.ClientAbortException
      "ClosedChannelException",  // java.nio, a channel the client closed
      "AsynchronousCloseException");

  private ClientAborts() {}

  /**
   * Whether a failure, or any of its causes, means the client aborted the exchange.
   *
   * @param failure the failure, may be null
   * @return true for an end-of-stream, reset, broken pipe or a container's client-abort type
   */
  public static boolean isClientAbort(Throwable failure) {
    Throwable t = failure;
    for (int depth = 0; t != null && depth < 16; depth++) {
      if (t instanceof EOFException || ABORT_TYPES.contains(t.getClass().getSimpleName())) {
        return true;
      }
      if (t instanceof IOException && t.getMessage() != null) {
        String m = t.getMessage().toLowerCase(Locale.ROOT);
        if (m.contains("broken pipe") || m.contains("connection reset")
            || m.contains("connection was aborted") || m.contains("early eof")) {
          return true;
        }
      }
      t = t.getCause() == t ? null : t.getCause();
    }
    return false;
  }
}
