package dev.sluice.servlet;

/** {@link RemoteStoreFilterTest} in Jetty. */
class RemoteStoreFilterJettyTest extends RemoteStoreFilterTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new JettyHarness(maxThreads);
  }

  @Override
  boolean seesSuspendedDisconnects() {
    return true;
  }
}
