package dev.sluice.servlet;

/** {@link HealthServletSettingsTest} in embedded Jetty 12 (ee10). */
class HealthServletSettingsJettyTest extends HealthServletSettingsTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new JettyHarness(maxThreads);
  }
}
