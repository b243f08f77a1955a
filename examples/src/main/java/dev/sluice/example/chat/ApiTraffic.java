package dev.sluice.example.chat;

import dev.sluice.ComponentHealth;
import dev.sluice.HealthContributor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Figures about the API's traffic that are not errors: client aborts (a client that hung up
 * while its request arrived or its answer was written), and the work admitted at once, counted
 * where the handlers run (all of it, and the most for one user), with the peaks since start.
 * Reported as the health component {@code api:traffic}, which always scores 100: none of these
 * is the server's fault, so none may make the instance look unhealthy.
 *
 * <p>Thread-safe.
 */
final class ApiTraffic {
  private final LongAdder clientAborts = new LongAdder();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger peakInFlight = new AtomicInteger();
  private final AtomicInteger peakPerUser = new AtomicInteger();
  private final ConcurrentHashMap<String, Integer> perUser = new ConcurrentHashMap<>();

  /** One admitted request inside a handler; closing it ends it. */
  interface Handling extends AutoCloseable {
    @Override
    void close();
  }

  void clientAborted() {
    clientAborts.increment();
  }

  long clientAborts() {
    return clientAborts.sum();
  }

  /**
   * Counts a request into a handler.
   *
   * @param user the authenticated user
   * @return the handle that counts it out, once
   */
  Handling enter(String user) {
    peakInFlight.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
    int mine = perUser.merge(user, 1, Integer::sum);
    peakPerUser.accumulateAndGet(mine, Math::max);
    AtomicInteger open = new AtomicInteger(1);
    return () -> {
      if (open.getAndSet(0) == 1) {
        perUser.computeIfPresent(user, (k, n) -> n == 1 ? null : n - 1);
        inFlight.decrementAndGet();
      }
    };
  }

  int peakInFlight() {
    return peakInFlight.get();
  }

  int peakInFlightPerUser() {
    return peakPerUser.get();
  }

  HealthContributor healthContributor() {
    return () -> {
      Map<String, Object> figures = new LinkedHashMap<>();
      figures.put("clientAborts", clientAborts.sum());
      figures.put("inFlight", inFlight.get());
      figures.put("peakInFlight", peakInFlight.get());
      figures.put("peakInFlightPerUser", peakPerUser.get());
      return new ComponentHealth("api:traffic", 100, figures, List.of());
    };
  }
}
