package dev.sluice.example.chat;

import dev.sluice.QuotaDecision;
import dev.sluice.QuotaGate;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.Map;

/** TEMPORARY: in-memory stand-in until AtomicQuotaRepository lands on main. */
final class InterimQuotaStub implements QuotaGate {
  private final Map<String, Long> used = new HashMap<>();
  private final Map<String, String> byRequest = new HashMap<>();

  @Override
  public synchronized QuotaDecision consume(String subject, String quota, int amount,
      String requestId) {
    long limit = 3;
    Instant resets = LocalDate.now(ZoneOffset.UTC).plusDays(1).atStartOfDay()
        .toInstant(ZoneOffset.UTC);
    String k = subject + "/" + quota;
    long u = used.getOrDefault(k, 0L);
    if (u + amount > limit) {
      return new QuotaDecision(false, u, limit, Math.max(0, limit - u), resets, quota);
    }
    used.put(k, u + amount);
    if (requestId != null) {
      byRequest.put(requestId, k);
    }
    return new QuotaDecision(true, u + amount, limit, limit - u - amount, resets, quota);
  }

  @Override
  public synchronized boolean refund(String subject, String quota, String requestId) {
    String k = byRequest.remove(requestId);
    if (k == null) {
      return false;
    }
    used.merge(k, -1L, Long::sum);
    return true;
  }
}
