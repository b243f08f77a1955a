package dev.sluice.servlet;

/** {@link SluiceFilterTest} in embedded Jetty 12 (ee10). */
class SluiceFilterJettyTest extends SluiceFilterTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new JettyHarness(maxThreads);
  }
}
