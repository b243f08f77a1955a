package dev.sluice.servlet;

/** {@link HealthServletSettingsTest} in embedded Tomcat 11 (HTTP/1.1 NIO connector). */
class HealthServletSettingsTomcatTest extends HealthServletSettingsTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new TomcatHarness(maxThreads);
  }
}
