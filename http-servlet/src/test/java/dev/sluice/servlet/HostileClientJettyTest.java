package dev.sluice.servlet;

/** {@link HostileClientTest} in Jetty 12 (ee10). */
class HostileClientJettyTest extends HostileClientTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new JettyHarness(maxThreads);
  }

  @Override
  boolean seesQueuedDisconnects() {
    return true;
  }
}
