package dev.sluice.servlet.internal;

import dev.sluice.servlet.DisconnectWatcher;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

/**
 * Watches an HTTP/1.x connection in Jetty 12 for end-of-stream while its request is suspended.
 * Only loaded when Jetty is present. Thread-safe.
 */
public final class JettyDisconnectWatcher implements DisconnectWatcher {

  /**
   * Whether Jetty 12's ee10 servlet classes can be loaded.
   *
   * @return true if this watcher can work
   */
  public static boolean available() {
    try {
      Class.forName("org.eclipse.jetty.ee10.servlet.ServletContextRequest", false,
          JettyDisconnectWatcher.class.getClassLoader());
      Class.forName("org.eclipse.jetty.io.AbstractEndPoint", false,
          JettyDisconnectWatcher.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  @Override
  public Watch watch(HttpServletRequest request, Runnable onDisconnect) {
    ServletContextRequest jetty;
    try {
      jetty = ServletContextRequest.getServletContextRequest(request);
    } catch (IllegalStateException e) {
      // Not a Jetty request: Jetty is on the class path but another container (Tomcat) runs us.
      return Watch.NONE;
    }
    if (jetty == null || !jetty.getConnectionMetaData().getProtocol().startsWith("HTTP/1")) {
      // HTTP/2 and HTTP/3 report a reset stream through AsyncListener.onError.
      return Watch.NONE;
    }
    EndPoint endPoint = jetty.getConnectionMetaData().getConnection().getEndPoint();
    if (!(endPoint instanceof AbstractEndPoint abstractEndPoint)) {
      return Watch.NONE;
    }
    EndWatch watch = new EndWatch(abstractEndPoint, onDisconnect);
    watch.arm();
    return watch;
  }

  private static final class EndWatch implements Watch, Callback {
    private static final int WATCHING = 0;
    private static final int STOPPED = 1;
    private static final int DISCONNECTED = 2;
    private static final int CONSUMED = 3;

    private final AbstractEndPoint endPoint;
    private final Runnable onDisconnect;
    private final AtomicInteger state = new AtomicInteger(WATCHING);

    EndWatch(AbstractEndPoint endPoint, Runnable onDisconnect) {
      this.endPoint = endPoint;
      this.onDisconnect = onDisconnect;
    }

    void arm() {
      if (state.get() == WATCHING && !endPoint.tryFillInterested(this)) {
        // Someone else is reading this connection: it will see the close, not us.
        state.compareAndSet(WATCHING, STOPPED);
      }
    }

    @Override
    public void succeeded() {
      if (state.get() != WATCHING) {
        return;
      }
      int read;
      ByteBuffer one = BufferUtil.allocate(1);
      try {
        read = endPoint.fill(one);
      } catch (IOException e) {
        read = -1;
      }
      if (read < 0) {
        if (state.compareAndSet(WATCHING, DISCONNECTED)) {
          onDisconnect.run();
        }
      } else if (read == 0) {
        arm();
      } else {
        state.compareAndSet(WATCHING, CONSUMED);
      }
    }

    @Override
    public void failed(Throwable x) {
      if (!(x instanceof CancellationException) && state.compareAndSet(WATCHING, DISCONNECTED)) {
        onDisconnect.run();
      }
    }

    @Override
    public void close() {
      if (state.compareAndSet(WATCHING, STOPPED) && endPoint.isFillInterested()) {
        // Withdraw our read interest before the application runs, or Jetty's own read would
        // clash with it when the response completes.
        endPoint.getFillInterest().onFail(new CancellationException("request admitted"));
      }
    }

    @Override
    public boolean consumedInput() {
      return state.get() == CONSUMED;
    }
  }
}
