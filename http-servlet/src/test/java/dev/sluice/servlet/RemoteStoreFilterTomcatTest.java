package dev.sluice.servlet;

/** {@link RemoteStoreFilterTest} in Tomcat. */
class RemoteStoreFilterTomcatTest extends RemoteStoreFilterTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new TomcatHarness(maxThreads);
  }

  @Override
  boolean seesSuspendedDisconnects() {
    return false;
  }
}
