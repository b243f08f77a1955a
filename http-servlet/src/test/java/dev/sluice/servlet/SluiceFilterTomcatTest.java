package dev.sluice.servlet;

/** {@link SluiceFilterTest} in embedded Tomcat 11 (HTTP/1.1 NIO connector). */
class SluiceFilterTomcatTest extends SluiceFilterTest {
  @Override
  ServletContainer container(int maxThreads) {
    return new TomcatHarness(maxThreads);
  }
}
