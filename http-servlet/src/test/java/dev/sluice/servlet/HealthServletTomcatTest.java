package dev.sluice.servlet;

/** {@link HealthServletTest} in embedded Tomcat 11 (HTTP/1.1 NIO connector). */
class HealthServletTomcatTest extends HealthServletTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new TomcatHarness(maxThreads);
  }
}
