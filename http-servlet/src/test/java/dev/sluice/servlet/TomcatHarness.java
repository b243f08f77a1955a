package dev.sluice.servlet;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.core.StandardContext;
import org.apache.catalina.startup.Tomcat;
import org.apache.coyote.http11.Http11NioProtocol;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;
import org.apache.tomcat.util.modeler.Registry;

/**
 * A real embedded Tomcat 11 with an HTTP/1.1 NIO connector on an ephemeral loopback port, with a
 * real HTTP client.
 */
final class TomcatHarness implements ServletContainer {
  // Held so the level sticks: java.util.logging keeps loggers only weakly. Tomcat logs each start
  // and stop at INFO; warnings and errors still show.
  private static final Logger TOMCAT_LOG = Logger.getLogger("org.apache");

  static {
    TOMCAT_LOG.setLevel(Level.WARNING);
    // Each test starts its own Tomcat; without JMX their MBean names cannot collide.
    Registry.disableRegistry();
    // Without a catalina.home, the first Tomcat makes its base directory the home of all later
    // ones, which then re-create it after it was deleted. Tomcat writes nothing to this one.
    try {
      Path home = Files.createTempDirectory("sluice-tomcat-home");
      home.toFile().deleteOnExit();
      System.setProperty("catalina.home", home.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create catalina.home", e);
    }
  }

  private final Path baseDir;
  private final Tomcat tomcat = new Tomcat();
  private final Connector connector;
  private final Context context;
  private final HttpClient client = ServletContainer.newClient();
  private int filters;
  private int servlets;

  TomcatHarness(int maxThreads) {
    Http11NioProtocol http = new Http11NioProtocol();
    try {
      baseDir = Files.createTempDirectory("sluice-tomcat");
      Files.createDirectories(baseDir.resolve("docs"));
      http.setAddress(InetAddress.getByName("127.0.0.1"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare Tomcat", e);
    }
    tomcat.setBaseDir(baseDir.toString());
    connector = new Connector(http);
    connector.setPort(0);
    http.setMaxThreads(maxThreads);
    http.setMinSpareThreads(Math.min(8, maxThreads));
    tomcat.setConnector(connector);
    StandardContext standard =
        (StandardContext) tomcat.addContext("", baseDir.resolve("docs").toString());
    // These leak checks on stop need JDK internals opened to Tomcat; without, they only warn.
    standard.setClearReferencesThreadLocals(false);
    standard.setClearReferencesRmiTargets(false);
    context = standard;
  }

  @Override
  public TomcatHarness filter(Filter filter) {
    String name = "filter-" + ++filters;
    FilterDef def = new FilterDef();
    def.setFilterName(name);
    def.setFilter(filter);
    def.setFilterClass(filter.getClass().getName());
    def.setAsyncSupported("true");
    context.addFilterDef(def);
    FilterMap map = new FilterMap();
    map.setFilterName(name);
    map.addURLPattern("/*");
    map.setDispatcher(DispatcherType.REQUEST.name());
    map.setDispatcher(DispatcherType.ASYNC.name());
    context.addFilterMap(map);
    return this;
  }

  @Override
  public TomcatHarness servlet(String path, HttpServlet servlet) {
    String name = "servlet-" + ++servlets;
    Wrapper wrapper = Tomcat.addServlet(context, name, servlet);
    wrapper.setAsyncSupported(true);
    context.addServletMapping(path, name);
    return this;
  }

  @Override
  public TomcatHarness start() throws Exception {
    tomcat.start();
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
      tomcat.stop();
      tomcat.destroy();
    } catch (LifecycleException e) {
      throw new IllegalStateException("Tomcat did not stop", e);
    } finally {
      deleteBaseDir();
    }
  }

  private void deleteBaseDir() {
    try (Stream<Path> files = Files.walk(baseDir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete " + baseDir, e);
    }
  }
}
