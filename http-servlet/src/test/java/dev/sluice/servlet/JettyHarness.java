package dev.sluice.servlet;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.net.http.HttpClient;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/** A real Jetty 12 (ee10) on an ephemeral loopback port, with a real HTTP client. */
final class JettyHarness implements ServletContainer {
  private final Server server;
  private final ServerConnector connector;
  private final ServletContextHandler context;
  private final HttpClient client = ServletContainer.newClient();

  JettyHarness(int maxThreads) {
    QueuedThreadPool threads = new QueuedThreadPool(maxThreads, Math.min(8, maxThreads));
    threads.setName("jetty-test");
    server = new Server(threads);
    connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    context = new ServletContextHandler();
    context.setContextPath("/");
    server.setHandler(context);
  }

  @Override
  public JettyHarness filter(Filter filter) {
    FilterHolder holder = new FilterHolder(filter);
    holder.setAsyncSupported(true);
    context.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
    return this;
  }

  @Override
  public JettyHarness servlet(String path, HttpServlet servlet) {
    ServletHolder holder = new ServletHolder(servlet);
    holder.setAsyncSupported(true);
    context.addServlet(holder, path);
    return this;
  }

  @Override
  public JettyHarness start() throws Exception {
    server.start();
    return this;
  }

  @Override
  public int port() {
    return connector.getLocalPort();
  }

  @Override
  public HttpClient client() {
    return client;
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      throw new IllegalStateException("Jetty did not stop", e);
    }
  }
}
