package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.Socket;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link SluiceFilterQueueTest} in embedded Jetty 12 (ee10). */
class SluiceFilterQueueJettyTest extends SluiceFilterQueueTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new JettyHarness(maxThreads);
  }

  @Override
  DisconnectWatcher deployedWatcher() {
    return DisconnectWatcher.automatic();
  }

  @Test
  void clientDisconnectingWhileQueued_givesItsPlaceBack() throws Exception {
    queue = queueBuilder().maxConcurrent(1).maxConcurrentPerKey(1).build();
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
    await(signals.departed, 1, "the departed client to be noticed");
    assertThat(queue.stats().queued()).isZero();
    assertThat(filter.stats("chat").abandoned()).isEqualTo(1);
    assertThat(queue.stats().cancelled()).isEqualTo(1);

    // The slot the departed client would have taken goes to the next request.
    CompletableFuture<HttpResponse<String>> next = postAsync("next");
    await(signals.suspended, 1, "the next request to queue");
    gate.open.countDown();
    assertThat(holder.get(10, TimeUnit.SECONDS).body()).isEqualTo("served first");
    assertThat(next.get(10, TimeUnit.SECONDS).body()).isEqualTo("served next");
    assertThat(queue.stats().active()).isZero();
    assertThat(gate.served.get()).isEqualTo(2);
  }
}
