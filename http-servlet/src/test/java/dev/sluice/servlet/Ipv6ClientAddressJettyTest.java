package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 11: Jetty 12 reports an IPv6 peer in brackets ({@code [0:0:0:0:0:0:0:1]}); over real
 * IPv6 sockets, the resolver must still group by /64 and trust an IPv6 proxy.
 */
class Ipv6ClientAddressJettyTest {
  private final HttpClient client = HttpClient.newBuilder()
      .connectTimeout(Duration.ofSeconds(5)).version(HttpClient.Version.HTTP_1_1).build();
  private Server server;
  private URI base;

  @BeforeAll
  static void requireIpv6Loopback() {
    boolean available;
    try (ServerSocket probe = new ServerSocket(0, 50, InetAddress.getByName("::1"))) {
      available = probe.isBound();
    } catch (IOException e) {
      available = false;
    }
    Assumptions.assumeTrue(available,
        "skipped: this machine has no IPv6 loopback (cannot bind a server socket on ::1)");
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.stop();
    }
  }

  @Test
  void clientOnIpv6Loopback_isKeyedByItsSlash64() throws Exception {
    start(ClientAddressResolver.socketOnly());

    String[] echo = get("X-Forwarded-For", "198.51.100.7");

    assertThat(echo[1]).as("key for Jetty's remote address %s", echo[0]).isEqualTo("::/64");
  }

  @Test
  void trustedIpv6Proxy_xForwardedFor_groupsTheClientBySlash64() throws Exception {
    start(ClientAddressResolver.builder().trustedProxies("::1").build());

    String[] first = get("X-Forwarded-For", "2001:db8:1:2::77");
    String[] second = get("X-Forwarded-For", "198.51.100.9, 2001:db8:1:2:ffff:eeee:dddd:cccc");
    String[] otherNetwork = get("X-Forwarded-For", "2001:db8:1:3::77");

    assertThat(first[1]).as("key for Jetty's remote address %s", first[0])
        .isEqualTo("2001:db8:1:2::/64");
    assertThat(second[1]).isEqualTo(first[1]);
    assertThat(otherNetwork[1]).isEqualTo("2001:db8:1:3::/64");
  }

  @Test
  void trustedIpv6Proxy_forwardedQuotedBracketsAndPort_groupsTheClientBySlash64()
      throws Exception {
    start(ClientAddressResolver.builder().trustedProxies("::1")
        .forwardedHeader(ClientAddressResolver.ForwardedHeader.FORWARDED).build());

    String[] first = get("Forwarded", "for=\"[2001:db8:1:2::77]:443\"");
    String[] second = get("Forwarded", "for=\"[2001:db8:1:2::1234]:8443\";proto=https");
    String[] hidden = get("Forwarded", "for=_hidden");

    assertThat(first[1]).as("key for Jetty's remote address %s", first[0])
        .isEqualTo("2001:db8:1:2::/64");
    assertThat(second[1]).isEqualTo(first[1]);
    assertThat(hidden[1]).isEqualTo("::/64");
  }

  private void start(ClientAddressResolver resolver) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(8, 2);
    threads.setName("jetty-ipv6-test");
    server = new Server(threads);
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("::1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addServlet(new ServletHolder(new EchoKey(resolver)), "/*");
    server.setHandler(context);
    server.start();
    base = URI.create("http://[::1]:" + connector.getLocalPort() + "/");
  }

  /** Returns {Jetty's getRemoteAddr(), the resolved key}. */
  private String[] get(String header, String value) throws Exception {
    HttpResponse<String> response = client.send(HttpRequest.newBuilder(base)
            .header(header, value).timeout(Duration.ofSeconds(10)).GET().build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body().split("\n", -1);
  }

  /** Answers with the peer address as Jetty reports it and the key the resolver makes of it. */
  private static final class EchoKey extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private final transient ClientAddressResolver resolver;

    EchoKey(ClientAddressResolver resolver) {
      this.resolver = resolver;
    }

    @Override
    protected void doGet(HttpServletRequest request, HttpServletResponse response)
        throws IOException {
      response.setContentType("text/plain;charset=utf-8");
      response.getOutputStream().write((request.getRemoteAddr() + "\n" + resolver.resolve(request))
          .getBytes(StandardCharsets.UTF_8));
    }
  }
}
