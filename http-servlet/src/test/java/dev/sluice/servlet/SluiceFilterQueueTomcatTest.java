package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.sluice.testing.ManualScheduler;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link SluiceFilterQueueTest} in embedded Tomcat 11 (HTTP/1.1 NIO connector). */
class SluiceFilterQueueTomcatTest extends SluiceFilterQueueTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new TomcatHarness(maxThreads);
  }

  /**
   * Jetty's classes are on this test class path too: {@code automatic()} must still work in
   * Tomcat (regression: the Jetty watcher threw for Tomcat's requests after they had queued).
   */
  @Override
  DisconnectWatcher deployedWatcher() {
    return DisconnectWatcher.automatic();
  }

  /**
   * Tomcat cannot see a client leave while its request waits in the queue. Over HTTP/1.1 it reads
   * a connection only while a request's head or body is still arriving (or a listener asks for
   * more body); once the body is read and the request is suspended in async mode, no read
   * interest is registered (AbstractProtocol.longPoll, AbstractProcessor.isReadyForRead), the
   * poller's read timeout does not apply, and {@code AsyncListener.onError} is never called. The
   * departed request keeps its place until the queue's timeout (or its admission, when the
   * handler runs for nobody); the queue's timeout is therefore the bound a Tomcat deployment gets.
   */
  @Test
  void clientDisconnectingWhileQueued_tomcatCannotSeeIt_placeIsHeldUntilQueueTimeout()
      throws Exception {
    ManualScheduler timeouts = new ManualScheduler();
    queue = queueBuilder().maxConcurrent(1).maxConcurrentPerKey(1)
        .timeout(Duration.ofSeconds(60)).scheduler(timeouts).clock(timeouts::nanoTime).build();
    Gate gate = new Gate();
    gate.arrivals = new CountDownLatch(1);
    SluiceFilter filter = filter(queue);
    server = container(16).filter(filter).servlet("/api/chat", gate).start();

    CompletableFuture<HttpResponse<String>> holder = postAsync("first");
    assertThat(gate.arrivals.await(10, TimeUnit.SECONDS)).isTrue();

    try (Socket socket = RawHttp.connect(server)) {
      RawHttp.write(socket,
          "POST /api/chat HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\n\r\ngone");
      await(signals.suspended, 1, "the raw request to queue");
      assertThat(queue.stats().queued()).isEqualTo(1);
    }
    timeouts.advance(Duration.ofSeconds(30));
    // A whole exchange on another connection later, the departed request still waits.
    CompletableFuture<HttpResponse<String>> next = postAsync("next");
    await(signals.suspended, 1, "the next request to queue");
    assertThat(queue.stats().queued())
        .as("Tomcat does not report a queued client's disconnect: it still holds its place")
        .isEqualTo(2);
    assertThat(signals.departed.availablePermits()).isZero();
    assertThat(filter.stats("chat").abandoned()).isZero();

    // The bound: the departed request leaves when its queue timeout fires, 60 s after it queued.
    timeouts.advance(Duration.ofSeconds(30));
    assertThat(queue.stats().queued()).isEqualTo(1);
    assertThat(queue.stats().timedOut()).isEqualTo(1);
    assertThat(queue.stats().cancelled()).isZero();

    // The slot goes to the next request; the departed one never reaches the handler.
    gate.open.countDown();
    assertThat(holder.get(10, TimeUnit.SECONDS).body()).isEqualTo("served first");
    assertThat(next.get(10, TimeUnit.SECONDS).body()).isEqualTo("served next");
    assertThat(queue.stats().active()).isZero();
    assertThat(gate.served.get()).isEqualTo(2);
  }
}
