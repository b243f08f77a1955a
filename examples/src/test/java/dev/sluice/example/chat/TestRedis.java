package dev.sluice.example.chat;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * The Redis server the app's tests run against, as the sluice-redis tests find theirs (this is a
 * trimmed copy of {@code redis/src/test/.../TestRedis.java}: that module publishes no test jar,
 * and sluice-testing has no Redis helper):
 *
 * <ul>
 *   <li>{@code SLUICE_TEST_REDIS_URL} (system property, else environment) set: that server;
 *   <li>otherwise a {@code redis-server} on the {@code PATH}, started on a free loopback port with
 *       persistence off and stopped at exit;
 *   <li>otherwise the calling test is skipped with the reason printed (it fails under
 *       {@code CI=true}).
 * </ul>
 *
 * <p>{@link #startOwnServer()} starts a server the calling test may stop; it needs
 * {@code redis-server} on the PATH whatever the setting.
 */
final class TestRedis {
  private static String uri;
  private static String unavailable;

  private TestRedis() {}

  /** The URI of this run's shared server; skips the calling test if there is none. */
  static synchronized String uri() {
    if (uri == null && unavailable == null) {
      String external = System.getProperty("SLUICE_TEST_REDIS_URL");
      if (external == null || external.isBlank()) {
        external = System.getenv("SLUICE_TEST_REDIS_URL");
      }
      if (external != null && !external.isBlank()) {
        uri = external.trim();
      } else {
        try {
          Server server = startOwnServer();
          Runtime.getRuntime().addShutdownHook(new Thread(server::stop));
          uri = server.uri();
        } catch (IOException | RuntimeException e) {
          unavailable = e.getMessage();
        }
      }
      if (unavailable != null) {
        String reason = "Redis for tests is unavailable: " + unavailable
            + "; set SLUICE_TEST_REDIS_URL or put redis-server on the PATH";
        if ("true".equals(System.getenv("CI"))) {
          throw new IllegalStateException(reason);
        }
        System.err.println("SKIPPING app tests on Redis: " + reason);
      }
    }
    Assumptions.assumeTrue(uri != null, () -> "SKIPPED: Redis for tests is unavailable: "
        + unavailable);
    return uri;
  }

  /**
   * Starts a redis-server of the calling test's own on a free loopback port; skips the test if
   * there is no redis-server on the PATH (fails under {@code CI=true}).
   */
  static Server startOwnServer() throws IOException {
    String binary = findOnPath("redis-server");
    if (binary == null) {
      String reason = "no redis-server on the PATH";
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(reason);
      }
      System.err.println("SKIPPING app tests on Redis: " + reason);
      Assumptions.abort("SKIPPED: " + reason);
    }
    IOException last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      Server server = new Server(binary, freePort(), Files.createTempDirectory("sluice-redis"));
      try {
        server.start();
        return server;
      } catch (IOException e) {
        last = e; // another process took the port between probing and binding: try another
        server.stop();
      }
    }
    throw last;
  }

  private static String findOnPath(String name) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(File.pathSeparator)) {
      File candidate = new File(dir, name);
      if (candidate.isFile() && candidate.canExecute()) {
        return candidate.getAbsolutePath();
      }
    }
    return null;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** A redis-server process on a loopback port. */
  static final class Server {
    private final String binary;
    final int port;
    private final Path dir;
    private Process process;

    Server(String binary, int port, Path dir) {
      this.binary = binary;
      this.port = port;
      this.dir = dir;
    }

    String uri() {
      return "redis://127.0.0.1:" + port;
    }

    /** Starts the server and waits (at most 20 s) until it answers PING. */
    synchronized void start() throws IOException {
      process = new ProcessBuilder(List.of(binary, "--port", Integer.toString(port),
          "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
          "--daemonize", "no", "--loglevel", "warning"))
          .redirectErrorStream(true)
          .redirectOutput(dir.resolve("redis.log").toFile())
          .start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (System.nanoTime() - deadline < 0) {
        if (!process.isAlive()) {
          throw new IOException("redis-server on port " + port + " exited: "
              + Files.readString(dir.resolve("redis.log")));
        }
        if (answersPing()) {
          return;
        }
        try {
          process.waitFor(50, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("interrupted while starting redis-server", e);
        }
      }
      stop();
      throw new IOException("redis-server on port " + port + " did not answer within 20 s");
    }

    private boolean answersPing() {
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
        socket.setSoTimeout(1_000);
        OutputStream out = socket.getOutputStream();
        out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        InputStream in = socket.getInputStream();
        byte[] reply = new byte[7];
        int n = in.readNBytes(reply, 0, reply.length);
        return new String(reply, 0, n, StandardCharsets.US_ASCII).startsWith("+PONG");
      } catch (IOException e) {
        return false;
      }
    }

    /** Stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it. */
    synchronized void stop() {
      Process p = process;
      if (p == null) {
        return;
      }
      p.destroy();
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
      process = null;
    }
  }
}
