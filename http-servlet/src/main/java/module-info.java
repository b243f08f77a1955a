/**
 * Sluice's servlet adapter: the filter, client key resolution, rate-limit headers and the
 * health/admin servlet. Only {@code dev.sluice.servlet} is API.
 */
module dev.sluice.servlet {
  requires transitive dev.sluice.core;
  requires transitive jakarta.servlet;
  requires org.slf4j;
  // Optional: only used inside Jetty 12 to notice clients that leave while queued.
  requires static org.eclipse.jetty.ee10.servlet;
  requires static org.eclipse.jetty.server;
  requires static org.eclipse.jetty.http;
  requires static org.eclipse.jetty.io;
  requires static org.eclipse.jetty.util;

  exports dev.sluice.servlet;
}
