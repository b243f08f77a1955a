package dev.sluice;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Listeners of every primitive: exact events, their order, and listeners that throw. */
class EventsTest {
  private final ManualClock clock = new ManualClock();
  private final ManualScheduler scheduler = new ManualScheduler(clock);
  private final List<String> events = Collections.synchronizedList(new ArrayList<>());

  // ---------------------------------------------------------------- rate limiter

  private RateLimiterListener<Object> limiterRecorder(String who) {
    return new RateLimiterListener<>() {
      @Override
      public void onDecision(Object key, RateLimitDecision d) {
        events.add(who + " " + key + " " + (d.allowed() ? "allowed" : "refused"));
      }

      @Override
      public void onStoreFailure(Object key, RuntimeException failure) {
        events.add(who + " " + key + " store failure " + failure.getMessage());
      }
    };
  }

  /** Throws from every event; calls still succeed and later listeners still run. */
  private static final class Thrower implements RateLimiterListener<Object>, QueueListener<Object>,
      CircuitBreakerListener, OutboundGuardListener {
    final AtomicInteger calls = new AtomicInteger();

    private void fail() {
      calls.incrementAndGet();
      throw new IllegalStateException("listener bug");
    }

    @Override
    public void onDecision(Object key, RateLimitDecision decision) {
      fail();
    }

    @Override
    public void onAdmitted(Object key, String priority, Duration waited) {
      fail();
    }

    @Override
    public void onReleased(Object key, String priority, Duration held) {
      fail();
    }

    @Override
    public void onStateTransition(CircuitBreaker.State from, CircuitBreaker.State to) {
      fail();
    }

    @Override
    public void onFailure(Duration duration, Throwable failure) {
      fail();
    }

    @Override
    public void onAttempt(int attempt) {
      fail();
    }

    @Override
    public void onSuccess(Duration duration) {
      // both listener types have it; the thrower stays quiet on successes
    }
  }

  @Test
  void rateLimiter_reportsEachDecisionOfEveryForm_toEachListenerInOrderAdded() throws Exception {
    Thrower thrower = new Thrower();
    RateLimiter<String> limiter = RateLimiter.builder().name("chat")
        .limit(2, Duration.ofMinutes(1)).clock(clock)
        .listener(thrower).listener(limiterRecorder("first")).build();
    limiter.addListener(limiterRecorder("second"));

    assertThat(limiter.tryAcquire("a").allowed()).isTrue();
    assertThat(limiter.tryAcquirePermit("a")).isTrue();
    assertThat(limiter.tryAcquireAsync("a", 1).toCompletableFuture().get(5, SECONDS).allowed())
        .isFalse();
    assertThatThrownBy(() -> limiter.acquireOrThrow("a"))
        .isInstanceOf(RateLimitExceededException.class);
    assertThat(limiter.tryAcquire("b", 2).allowed()).isTrue();

    assertThat(events).containsExactly(
        "first a allowed", "second a allowed",
        "first a allowed", "second a allowed",
        "first a refused", "second a refused",
        "first a refused", "second a refused",
        "first b allowed", "second b allowed");
    assertThat(thrower.calls).hasValue(5);
  }

  @Test
  void rateLimiter_reportsStoreFailures_synchronousAndAsynchronous() {
    RateLimiter<String> limiter = RateLimiter.builder().name("shared")
        .limit(5, Duration.ofSeconds(1)).build(new AsyncRateLimitStore<String>() {
          @Override
          public CompletionStage<Outcome> acquireAsync(String key, long increment, long tol) {
            return CompletableFuture.failedFuture(new RateLimitStoreException("down", null));
          }
        });
    limiter.addListener(limiterRecorder("l"));

    assertThatThrownBy(() -> limiter.tryAcquire("k1")).isInstanceOf(RateLimitStoreException.class);
    CompletableFuture<RateLimitDecision> f = limiter.tryAcquireAsync("k2").toCompletableFuture();
    assertThatThrownBy(() -> f.get(5, SECONDS)).hasCauseInstanceOf(RateLimitStoreException.class);

    assertThat(events).containsExactly("l k1 store failure down", "l k2 store failure down");
  }

  @Test
  void rateLimitCounter_isAListener_countingAsTheWrapperDoes() {
    RateLimitCounter counter = RateLimitCounter.create("chat", Duration.ofMinutes(1), clock);
    RateLimiter<String> limiter = RateLimiter.builder().name("chat")
        .limit(1, Duration.ofMinutes(1)).clock(clock).listener(counter).build();
    limiter.tryAcquire("a");
    limiter.tryAcquirePermit("a");
    limiter.tryAcquire("b");
    assertThat(counter.snapshot()).isEqualTo(new RateLimitCounter.Snapshot("chat", 3, 1, 2, 1));
  }

  // ---------------------------------------------------------------- queue

  private QueueListener<Object> queueRecorder() {
    return new QueueListener<>() {
      @Override
      public void onQueued(Object key, String priority) {
        events.add("queued " + key + " " + priority);
      }

      @Override
      public void onAdmitted(Object key, String priority, Duration waited) {
        events.add("admitted " + key + " " + priority + " " + waited);
      }

      @Override
      public void onRejected(Object key, String priority, QueueRejectedException.Reason reason) {
        events.add("rejected " + key + " " + priority + " " + reason);
      }

      @Override
      public void onTimedOut(Object key, String priority, Duration waited) {
        events.add("timedOut " + key + " " + priority + " " + waited);
      }

      @Override
      public void onCancelled(Object key, String priority, Duration waited) {
        events.add("cancelled " + key + " " + priority + " " + waited);
      }

      @Override
      public void onReleased(Object key, String priority, Duration held) {
        events.add("released " + key + " " + priority + " " + held);
      }
    };
  }

  @Test
  void queue_reportsEveryAttemptOnce_withWaitsAndHolds_inOrder() throws Exception {
    Thrower thrower = new Thrower();
    RequestQueue<String> queue = RequestQueue.builder().name("chat-service").maxConcurrent(1)
        .priorities("chat", "export").timeout(Duration.ofSeconds(10))
        .clock(clock).scheduler(scheduler).listener(thrower).build();
    queue.addListener(queueRecorder());

    RequestQueue.Permit first = queue.tryAcquireOrThrow("u1", "chat");
    CompletableFuture<RequestQueue.Permit> export = queue.acquireAsync("u2", "export");
    CompletableFuture<RequestQueue.Permit> chat = queue.acquireAsync("u3", "chat");
    assertThat(queue.tryAcquire("u4", "chat")).isEmpty();
    scheduler.advance(Duration.ofSeconds(2));
    first.close();
    first.close(); // a second close reports nothing
    RequestQueue.Permit third = chat.get(5, SECONDS);
    scheduler.advance(Duration.ofSeconds(8)); // the export waiter's deadline
    assertThat(export).isCompletedExceptionally();
    CompletableFuture<RequestQueue.Permit> withdrawn = queue.acquireAsync("u5", "chat");
    withdrawn.cancel(false);
    CompletableFuture<RequestQueue.Permit> late = queue.acquireAsync("u6", "chat");
    queue.close();
    assertThat(late).isCompletedExceptionally();
    third.close();

    assertThat(events).containsExactly(
        "admitted u1 chat PT0S",
        "queued u2 export",
        "queued u3 chat",
        "rejected u4 chat QUEUE_FULL",
        "released u1 chat PT2S",
        "admitted u3 chat PT2S",
        "timedOut u2 export PT10S",
        "queued u5 chat",
        "cancelled u5 chat PT0S",
        "queued u6 chat",
        "rejected u6 chat SHUT_DOWN",
        "released u3 chat PT8S");
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.admitted()).isEqualTo(2);
    assertThat(stats.rejected()).isEqualTo(3);
    assertThat(stats.cancelled()).isEqualTo(1);
    // The throwing listener got every admission and release, and broke none of them.
    assertThat(thrower.calls).hasValue(4);
  }

  @Test
  void queue_withoutListenersAtAdmission_closesSilently_andBlockingAcquireReportsToo()
      throws Exception {
    RequestQueue<String> queue = RequestQueue.builder().maxConcurrent(2)
        .clock(clock).scheduler(scheduler).build();
    RequestQueue.Permit early = queue.acquire("a", "default");
    queue.addListener(queueRecorder());
    RequestQueue.Permit later = queue.acquire("b", "default");
    early.close();
    later.close();
    assertThat(events).containsExactly("admitted b default PT0S", "released b default PT0S");
  }

  // ---------------------------------------------------------------- circuit breaker

  private CircuitBreakerListener breakerRecorder() {
    return new CircuitBreakerListener() {
      @Override
      public void onStateTransition(CircuitBreaker.State from, CircuitBreaker.State to) {
        events.add(from + "->" + to);
      }

      @Override
      public void onSuccess(Duration duration) {
        events.add("success " + duration);
      }

      @Override
      public void onFailure(Duration duration, Throwable failure) {
        events.add("failure " + duration + " "
            + (failure == null ? "null" : failure.getClass().getSimpleName()));
      }

      @Override
      public void onNotPermitted() {
        events.add("notPermitted");
      }
    };
  }

  @Test
  void breaker_reportsOutcomesBeforeTheTransitionsTheyCause_andRefusals() throws Exception {
    Thrower thrower = new Thrower();
    CircuitBreaker breaker = CircuitBreaker.builder().name("pubmed").failureThreshold(2)
        .openDuration(Duration.ofSeconds(10)).clock(clock).listener(thrower)
        .onStateChange((name, from, to) -> events.add("old " + name + " " + from + "->" + to))
        .build();
    breaker.addListener(breakerRecorder());

    assertThat(breaker.call(() -> {
      clock.advance(Duration.ofMillis(30));
      return "ok";
    })).isEqualTo("ok");
    for (int i = 0; i < 2; i++) {
      assertThatThrownBy(() -> breaker.call(() -> {
        throw new IOException("down");
      })).isInstanceOf(IOException.class);
    }
    assertThatThrownBy(() -> breaker.call(() -> "never"))
        .isInstanceOf(CircuitOpenException.class);
    assertThat(breaker.tryAcquirePermission()).isFalse();
    clock.advance(Duration.ofSeconds(10));
    assertThat(breaker.state()).isEqualTo(CircuitBreaker.State.HALF_OPEN);
    assertThat(breaker.tryAcquirePermission()).isTrue();
    breaker.recordFailure(Duration.ofMillis(5));

    assertThat(events).containsExactly(
        "success PT0.03S",
        "failure PT0S IOException",
        "failure PT0S IOException",
        "old pubmed CLOSED->OPEN", "CLOSED->OPEN",
        "notPermitted",
        "notPermitted",
        "old pubmed OPEN->HALF_OPEN", "OPEN->HALF_OPEN",
        "failure PT0.005S null",
        "old pubmed HALF_OPEN->OPEN", "HALF_OPEN->OPEN");
    // Three transitions and three failures reached the throwing listener, first of all.
    assertThat(thrower.calls).hasValue(6);
  }

  @Test
  void breaker_transitionsCausedInsideAListener_areDeliveredAfterTheCurrentOne_inOrder() {
    CircuitBreaker breaker = CircuitBreaker.builder().failureThreshold(1)
        .openDuration(Duration.ofSeconds(1)).clock(clock).build();
    breaker.addListener(new CircuitBreakerListener() {
      @Override
      public void onStateTransition(CircuitBreaker.State from, CircuitBreaker.State to) {
        events.add("begin " + from + "->" + to);
        if (to == CircuitBreaker.State.OPEN) {
          clock.advance(Duration.ofSeconds(1));
          breaker.state(); // half-opens now, from inside the listener
        }
        events.add("end " + from + "->" + to);
      }
    });
    breaker.recordFailure(Duration.ZERO);
    assertThat(events).containsExactly("begin CLOSED->OPEN", "end CLOSED->OPEN",
        "begin OPEN->HALF_OPEN", "end OPEN->HALF_OPEN");
  }

  // ---------------------------------------------------------------- outbound guard

  private OutboundGuardListener guardRecorder() {
    return new OutboundGuardListener() {
      @Override
      public void onAttempt(int attempt) {
        events.add("attempt " + attempt);
      }

      @Override
      public void onRetry(int attempt, Duration delay, Throwable failure) {
        events.add("retry " + attempt + " " + delay + " " + failure.getMessage());
      }

      @Override
      public void onRetryBudgetExhausted() {
        events.add("budgetExhausted");
      }

      @Override
      public void onPacingWait(Duration wait) {
        events.add("pacingWait " + wait);
      }

      @Override
      public void onSuccess(Duration duration) {
        events.add("success " + duration);
      }

      @Override
      public void onFailure(Duration duration, Throwable failure) {
        events.add("failure " + duration + " " + failure.getMessage());
      }
    };
  }

  private Callable3 failingTimes(int failures) {
    AtomicInteger n = new AtomicInteger();
    return () -> {
      int i = n.incrementAndGet();
      if (i <= failures) {
        throw new IOException("attempt " + i);
      }
      return "ok";
    };
  }

  /** A callable typed for the two call forms below. */
  interface Callable3 extends java.util.concurrent.Callable<String> {}

  private OutboundGuard.Builder guard() {
    return OutboundGuard.builder().name("pubmed").clock(clock).scheduler(scheduler);
  }

  private static RetryPolicy.Builder retry() {
    return RetryPolicy.builder().backoff(Duration.ofMillis(100), Duration.ofSeconds(10))
        .jitter(0).noBudget();
  }

  private static final List<String> RETRIED_THEN_OK = List.of(
      "attempt 1", "retry 1 PT0.1S attempt 1",
      "attempt 2", "retry 2 PT0.2S attempt 2",
      "attempt 3", "success PT0.3S");

  @Test
  void guard_sync_reportsAttemptsRetriesAndTheOutcome_inOrder() throws Exception {
    Thrower thrower = new Thrower();
    OutboundGuard g = guard().retry(retry().maxAttempts(3).build()).listener(thrower).build();
    g.addListener(guardRecorder());
    assertThat(g.call(failingTimes(2))).isEqualTo("ok");
    assertThat(events).containsExactlyElementsOf(RETRIED_THEN_OK);
    assertThat(thrower.calls).hasValue(3);
  }

  @Test
  void guard_async_reportsAttemptsRetriesAndTheOutcome_inOrder() throws Exception {
    OutboundGuard g = guard().retry(retry().maxAttempts(3).build()).build();
    g.addListener(guardRecorder());
    Callable3 work = failingTimes(2);
    CompletableFuture<String> f = g.callAsync(() -> {
      try {
        return CompletableFuture.completedFuture(work.call());
      } catch (Exception e) {
        return CompletableFuture.failedFuture(e);
      }
    });
    assertThat(scheduler.await(f)).isEqualTo("ok");
    assertThat(events).containsExactlyElementsOf(RETRIED_THEN_OK);
  }

  @Test
  void guard_reportsBudgetExhaustion_thenTheFailure() {
    OutboundGuard g = guard().retry(retry().maxAttempts(3).budget(0.1, 1).build()).build();
    g.addListener(guardRecorder());
    assertThatThrownBy(() -> g.call(failingTimes(5))).isInstanceOf(IOException.class);
    assertThat(events).containsExactly(
        "attempt 1", "retry 1 PT0.1S attempt 1",
        "attempt 2", "budgetExhausted", "failure PT0.1S attempt 2");
  }

  @Test
  void guard_reportsPacingWaits_andAttemptsOfTheFastPath() throws Exception {
    OutboundGuard paced = guard().pacing(1, Duration.ofSeconds(1)).build();
    paced.addListener(guardRecorder());
    paced.call(() -> "a");
    paced.call(() -> "b");
    assertThat(events).containsExactly("attempt 1", "success PT0S",
        "pacingWait PT1S", "attempt 1", "success PT1S");

    events.clear();
    CircuitBreaker breaker = CircuitBreaker.builder().failureThreshold(1).clock(clock).build();
    breaker.addListener(breakerRecorder());
    OutboundGuard plain = guard().circuitBreaker(breaker).build();
    plain.addListener(guardRecorder());
    assertThatThrownBy(() -> plain.call(failingTimes(1))).isInstanceOf(IOException.class);
    assertThatThrownBy(() -> plain.call(() -> "x")).isInstanceOf(CircuitOpenException.class);
    assertThat(events).hasSize(6);
    assertThat(events.subList(0, 5)).containsExactly(
        "attempt 1", "failure PT0S IOException", "CLOSED->OPEN", "failure PT0S attempt 1",
        "notPermitted");
    assertThat(events.get(5)).startsWith("failure PT0S ").contains("OPEN");
  }

  @Test
  void addListener_rejectsNull_onEveryPrimitive() {
    assertThatThrownBy(() -> RateLimiter.builder().limit(1, Duration.ofSeconds(1)).build()
        .addListener(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> RequestQueue.builder().maxConcurrent(1).build().addListener(null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> CircuitBreaker.builder().build().addListener(null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> OutboundGuard.builder().build().addListener(null))
        .isInstanceOf(NullPointerException.class);
  }
}
