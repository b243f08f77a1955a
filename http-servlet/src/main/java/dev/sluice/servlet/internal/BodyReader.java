package dev.sluice.servlet.internal;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Reads a request body into memory with servlet non-blocking I/O, so no container thread waits
 * while a slow client sends it. Reads at most {@code limit} bytes: one byte more ends the read
 * as too large. Exactly one of the sink's methods is called, once, unless {@link #stop()} wins
 * first (a deadline that fired).
 *
 * <p>Thread-safe: the container calls the listener methods one at a time, and {@link #stop()}
 * and {@link #received()} may be called from any thread.
 */
public final class BodyReader implements ReadListener {

  /** Where the outcome of a read goes. Called on a container thread. */
  public interface Sink {
    /**
     * The whole body arrived.
     *
     * @param body the body
     */
    void body(byte[] body);

    /** The body is longer than the limit; reading stopped. */
    void tooLarge();

    /**
     * Reading failed: the client went away, reset, or the container timed the read out.
     *
     * @param failure what the container reported
     */
    void failed(Throwable failure);
  }

  private static final int INITIAL_BUFFER = 8192;

  private final ServletInputStream in;
  private final int limit;
  private final Sink sink;
  private final AtomicBoolean done = new AtomicBoolean();
  private byte[] buffer;
  private int size;
  private volatile int received;

  /**
   * Creates a reader; register it with {@link ServletInputStream#setReadListener}.
   *
   * @param in the request's input stream
   * @param declaredLength the {@code Content-Length}, or -1 when unknown
   * @param limit the most bytes accepted, &gt;= 0
   * @param arrived the first bytes, already read from {@code in} (may be empty)
   * @param sink where the outcome goes
   */
  public BodyReader(ServletInputStream in, long declaredLength, int limit, byte[] arrived,
      Sink sink) {
    this.in = in;
    this.limit = limit;
    this.sink = sink;
    // A small declared body gets an exact buffer, so the common case copies nothing. A large one
    // grows as bytes really arrive: a client that announces a megabyte and sends one byte holds
    // 8 KiB, not a megabyte. One byte more than the limit tells an oversized body apart.
    long expected = declaredLength >= 0 ? Math.min(declaredLength, (long) limit + 1) : limit + 1L;
    int initial = (int) Math.max(arrived.length + 1L, Math.min(expected, INITIAL_BUFFER));
    this.buffer = Arrays.copyOf(arrived, (int) Math.min(initial, (long) limit + 1));
    this.size = arrived.length;
    this.received = size;
  }

  @Override
  public void onDataAvailable() throws IOException {
    while (!done.get() && in.isReady()) {
      if (size == buffer.length) {
        buffer = Arrays.copyOf(buffer, (int) Math.min((long) limit + 1, 2L * buffer.length));
      }
      int n = in.read(buffer, size, buffer.length - size);
      if (n < 0) {
        return; // onAllDataRead follows
      }
      size += n;
      received = size;
      if (size > limit) {
        if (done.compareAndSet(false, true)) {
          sink.tooLarge();
        }
        return;
      }
    }
  }

  @Override
  public void onAllDataRead() {
    if (done.compareAndSet(false, true)) {
      sink.body(size == buffer.length ? buffer : Arrays.copyOf(buffer, size));
    }
  }

  @Override
  public void onError(Throwable failure) {
    if (done.compareAndSet(false, true)) {
      sink.failed(failure);
    }
  }

  /**
   * Stops reading before the body is complete, for a deadline. The sink is then never called.
   *
   * @return true if this call stopped the read, false if it had already ended
   */
  public boolean stop() {
    return done.compareAndSet(false, true);
  }

  /**
   * Bytes received so far.
   *
   * @return the count
   */
  public int received() {
    return received;
  }
}
