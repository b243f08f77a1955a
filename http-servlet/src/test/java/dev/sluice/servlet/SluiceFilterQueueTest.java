package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.sluice.QueueRejectedException;
import dev.sluice.RequestQueue;
import dev.sluice.testing.ManualScheduler;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Queueing in the filter over HTTP, run once per container: {@link SluiceFilterQueueJettyTest},
 * {@link SluiceFilterQueueTomcatTest}. What a container does when a queued client disconnects
 * differs, so each subclass holds its own test of that.
 */
abstract class SluiceFilterQueueTest {
  ServletContainer server;
  RequestQueue<String> queue;

  /** A new, unstarted container of the kind this subclass tests. */
  abstract ServletContainer container(int maxThreads);

  /** The watcher {@link DisconnectWatcher#automatic()} picks when deployed in this container. */
  abstract DisconnectWatcher deployedWatcher();

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
    if (queue != null) {
      queue.close();
    }
  }

  /** Counts how many requests are inside at once; holds each until released. */
  static final class Gate extends HttpServlet {
    private static final long serialVersionUID = 1L;
    final AtomicInteger inside = new AtomicInteger();
    final AtomicInteger highWater = new AtomicInteger();
    final AtomicInteger served = new AtomicInteger();
    final CountDownLatch open = new CountDownLatch(1);
    volatile CountDownLatch arrivals = new CountDownLatch(0);

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      int now = inside.incrementAndGet();
      highWater.accumulateAndGet(now, Math::max);
      arrivals.countDown();
      try {
        if (!open.await(20, TimeUnit.SECONDS)) {
          res.setStatus(500);
          return;
        }
        byte[] body = req.getInputStream().readAllBytes();
        served.incrementAndGet();
        res.setContentType("text/plain");
        res.getWriter().write("served " + new String(body, StandardCharsets.UTF_8));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        res.setStatus(500);
      } finally {
        inside.decrementAndGet();
      }
    }
  }

  private static final class Quick extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
      res.getWriter().write("quick");
    }
  }

  /**
   * Lets the test wait for events instead of polling: the filter calls {@code watch} right after
   * it suspends a request in the queue, and the real watcher's callback when that client leaves.
   */
  static final class Signals implements DisconnectWatcher {
    private final DisconnectWatcher real;
    final Semaphore suspended = new Semaphore(0);
    final Semaphore departed = new Semaphore(0);

    Signals(DisconnectWatcher real) {
      this.real = real;
    }

    @Override
    public Watch watch(HttpServletRequest request, Runnable onDisconnect) {
      Watch watch = real.watch(request, () -> {
        onDisconnect.run();
        departed.release();
      });
      suspended.release();
      return watch;
    }
  }

  final Signals signals = new Signals(deployedWatcher());

  static void await(Semaphore events, int count, String what)
      throws InterruptedException {
    assertThat(events.tryAcquire(count, 10, TimeUnit.SECONDS)).as(what).isTrue();
  }

  CompletableFuture<HttpResponse<String>> postAsync(String body) {
    return server.client().sendAsync(HttpRequest.newBuilder(server.uri("/api/chat"))
            .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body))
            .build(), HttpResponse.BodyHandlers.ofString());
  }

  RequestQueue.Builder queueBuilder() {
    return RequestQueue.builder().name("app").priorities("chat", "research", "export")
        .timeout(Duration.ofSeconds(30));
  }

  SluiceFilter filter(RequestQueue<String> q) {
    return SluiceFilter.builder().queue(q).disconnectWatcher(signals)
        .rule(RouteRule.builder("chat").path("/api/chat").queuePriority("chat").build())
        .build();
  }

  @Test
  void hundredConcurrentRequests_twentySlots_neverMoreThanTwentyInside_otherRouteStaysFree()
      throws Exception {
    queue = queueBuilder().maxConcurrent(20).maxConcurrentPerKey(20).maxQueued(60).build();
    Gate gate = new Gate();
    gate.arrivals = new CountDownLatch(20);
    // 40 container threads: 20 held by admitted requests, the waiting 80 must hold none.
    server = container(40).filter(filter(queue))
        .servlet("/api/chat", gate).servlet("/api/quick", new Quick()).start();

    List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
    CountDownLatch refused = new CountDownLatch(20);
    for (int i = 0; i < 100; i++) {
      CompletableFuture<HttpResponse<String>> response = postAsync("m" + i);
      response.thenRun(refused::countDown);
      responses.add(response);
    }
    assertThat(gate.arrivals.await(10, TimeUnit.SECONDS)).isTrue();
    await(signals.suspended, 60, "60 requests to wait in the queue");
    // While the gate is shut only refusals can answer. Wait for all 20: a request still on its
    // way when a slot frees would find room in the queue and be served.
    assertThat(refused.await(10, TimeUnit.SECONDS)).as("20 requests to be refused").isTrue();
    assertThat(queue.stats().queued()).isEqualTo(60);

    // While 20 run and 60 wait, an unqueued route still answers at once.
    for (int i = 0; i < 5; i++) {
      assertThat(server.get("/api/quick").body()).isEqualTo("quick");
    }
    assertThat(gate.inside.get()).isEqualTo(20);

    gate.open.countDown();
    int ok = 0;
    int overloaded = 0;
    for (CompletableFuture<HttpResponse<String>> f : responses) {
      HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
      if (r.statusCode() == 200) {
        ok++;
        assertThat(r.body()).startsWith("served m");
      } else {
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("Retry-After")).isPresent();
        JsonNode body = ServletContainer.json(r);
        assertThat(body.get("error").asText()).isEqualTo("overloaded");
        assertThat(body.get("reason").asText()).isEqualTo("queue_full");
        overloaded++;
      }
    }
    assertThat(ok).isEqualTo(80);
    assertThat(overloaded).isEqualTo(20);
    assertThat(gate.highWater.get()).isEqualTo(20);
    assertThat(gate.served.get()).isEqualTo(80);
    // Permits are released before the container sends the response: all are back by now.
    RequestQueue.Stats<String> stats = queue.stats();
    assertThat(stats.active()).isZero();
    assertThat(stats.rejected(QueueRejectedException.Reason.QUEUE_FULL)).isEqualTo(20);
    assertThat(stats.queued()).isZero();
    assertThat(stats.admitted()).isEqualTo(80);
  }

  @Test
  void queuedRequest_onKeepAliveConnection_isServedAndConnectionReused() throws Exception {
    queue = queueBuilder().maxConcurrent(1).maxConcurrentPerKey(1).build();
    Gate gate = new Gate();
    gate.arrivals = new CountDownLatch(1);
    server = container(16).filter(filter(queue)).servlet("/api/chat", gate).start();
    CompletableFuture<HttpResponse<String>> holder = postAsync("a");
    assertThat(gate.arrivals.await(10, TimeUnit.SECONDS)).isTrue();
    try (Socket socket = RawHttp.connect(server)) {
      RawHttp.write(socket,
          "POST /api/chat HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\n\r\nb");
      await(signals.suspended, 1, "the raw request to queue");
      gate.open.countDown();
      String first = RawHttp.readResponse(socket.getInputStream());
      assertThat(first).startsWith("HTTP/1.1 200").endsWith("served b");
      assertThat(first).doesNotContainIgnoringCase("Connection: close");
      // The same connection takes a second request.
      RawHttp.write(socket,
          "POST /api/chat HTTP/1.1\r\nHost: test\r\nContent-Length: 1\r\n\r\nc");
      assertThat(RawHttp.readResponse(socket.getInputStream())).endsWith("served c");
    }
    assertThat(holder.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    assertThat(queue.stats().active()).isZero();
  }

  @Test
  void waitTimedOut_answers503OverloadedWithRetryAfter_andRefundsNothingItDidNotTake()
      throws Exception {
    ManualScheduler timeouts = new ManualScheduler();
    queue = queueBuilder().maxConcurrent(1).maxConcurrentPerKey(1)
        .timeout(Duration.ofSeconds(60)).scheduler(timeouts).clock(timeouts::nanoTime).build();
    Gate gate = new Gate();
    gate.arrivals = new CountDownLatch(1);
    SluiceFilter filter = filter(queue);
    server = container(16).filter(filter).servlet("/api/chat", gate).start();
    CompletableFuture<HttpResponse<String>> holder = postAsync("a");
    assertThat(gate.arrivals.await(10, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<HttpResponse<String>> waiting = postAsync("b");
    await(signals.suspended, 1, "the second request to queue");
    timeouts.advance(Duration.ofSeconds(60));
    HttpResponse<String> r = waiting.get(10, TimeUnit.SECONDS);
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(ServletContainer.json(r).get("reason").asText()).isEqualTo("timed_out");
    assertThat(filter.stats("chat").shed()).isEqualTo(1);
    gate.open.countDown();
    assertThat(holder.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
  }

  @Test
  void build_ruleQueuedWithoutQueueOrWithUnknownClass_failsNamingIt() {
    assertThatThrownBy(() -> SluiceFilter.builder()
        .rule(RouteRule.builder("chat").queuePriority("chat").build()).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("no queue");
    queue = queueBuilder().maxConcurrent(1).build();
    assertThatThrownBy(() -> SluiceFilter.builder().queue(queue)
        .rule(RouteRule.builder("chat").queuePriority("gold").build()).build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("'gold'")
        .hasMessageContaining("[chat, research, export]");
  }
}
