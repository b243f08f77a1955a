package dev.sluice.servlet;

/** {@link HealthServletTest} in embedded Jetty 12 (ee10). */
class HealthServletJettyTest extends HealthServletTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new JettyHarness(maxThreads);
  }
}
