/**
 * Sluice's servlet adapter: the filter, client key resolution, rate-limit headers and the
 * health/admin servlet. Only {@code dev.sluice.servlet} is API.
 */
module dev.sluice.servlet {
  requires transitive dev.sluice.core;
  requires transitive jakarta.servlet;
  requires org.slf4j;

  exports dev.sluice.servlet;
}
