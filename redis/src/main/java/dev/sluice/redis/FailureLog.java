package dev.sluice.redis;

import dev.sluice.NanoClock;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs a store's failures at most once per interval, so a Redis outage under load writes a line
 * every few seconds rather than one per request, and says when the store answers again.
 * Thread-safe and lock-free.
 */
final class FailureLog {
  private static final Logger LOG = LoggerFactory.getLogger(RedisRateLimitStore.class);

  private final String subject;
  private final NanoClock clock;
  private final long intervalNanos;
  private final Consumer<String> sink;
  /** The earliest time the next failure may be logged. */
  private final AtomicLong nextReport;
  private final AtomicLong unreported = new AtomicLong();
  private final AtomicBoolean failing = new AtomicBoolean();
  private final LongAdder total = new LongAdder();
  private final AtomicLong consecutive = new AtomicLong();

  FailureLog(String subject, NanoClock clock, long intervalNanos, Consumer<String> sink) {
    this.subject = subject;
    this.clock = clock;
    this.intervalNanos = intervalNanos;
    this.sink = sink;
    this.nextReport = new AtomicLong(clock.nanoTime());
  }

  void failed(String message) {
    total.increment();
    consecutive.incrementAndGet();
    failing.set(true);
    long now = clock.nanoTime();
    long next = nextReport.get();
    if (now - next >= 0 && nextReport.compareAndSet(next, now + intervalNanos)) {
      long others = unreported.getAndSet(0);
      sink.accept(others == 0 ? message
          : message + " (and " + others + " more failures since the last report)");
    } else {
      unreported.incrementAndGet();
    }
  }

  /** Failures so far. */
  long failures() {
    return total.sum();
  }

  /** Failures since the last success. */
  long consecutiveFailures() {
    return consecutive.get();
  }

  /** Called on every success; costs one volatile read unless the store was failing. */
  void succeeded() {
    if (consecutive.get() != 0) {
      consecutive.set(0);
    }
    if (failing.get() && failing.compareAndSet(true, false)) {
      long others = unreported.getAndSet(0);
      LOG.info("{} answers again{}", subject,
          others == 0 ? "" : " (" + others + " failures since the last report)");
    }
  }
}
