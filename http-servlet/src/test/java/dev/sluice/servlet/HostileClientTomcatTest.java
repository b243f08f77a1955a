package dev.sluice.servlet;

/** {@link HostileClientTest} in embedded Tomcat 11 (HTTP/1.1 NIO); Tomcat cannot see a queued client leave. */
class HostileClientTomcatTest extends HostileClientTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new TomcatHarness(maxThreads);
  }

  @Override
  boolean seesQueuedDisconnects() {
    return false;
  }
}
