package dev.sluice;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A clock moved by hand; starts at an arbitrary negative origin to catch origin assumptions. */
final class ManualClock implements NanoClock {
  private final AtomicLong now = new AtomicLong(-1_000_000_000_000L);

  @Override
  public long nanoTime() {
    return now.get();
  }

  void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  void advanceNanos(long nanos) {
    now.addAndGet(nanos);
  }
}
