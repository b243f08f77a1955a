package dev.sluice;

import dev.sluice.contract.RateLimitStoreContract;
import dev.sluice.internal.InMemoryRateLimitStore;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The contract kit on the default in-memory store. Two "instances" of a process-local store can
 * only share a limit by being one store, so every instance of one test hands out the same store
 * per namespace.
 */
class InMemoryRateLimitStoreContractTest extends RateLimitStoreContract {
  private final Map<String, RateLimitStore<String>> stores = new HashMap<>();

  @Override
  protected Instance openInstance() {
    return new Instance() {
      @Override
      public RateLimitStore<String> store(String namespace, NanoClock clock) {
        synchronized (stores) {
          // Idle expiry longer than any test's jumps: expiry has tests of its own.
          return stores.computeIfAbsent(namespace, ns -> new InMemoryRateLimitStore<>(
              clock == null ? NanoClock.system() : clock, 10_000, Duration.ofDays(1).toNanos()));
        }
      }

      @Override
      public void close() {}
    };
  }
}
