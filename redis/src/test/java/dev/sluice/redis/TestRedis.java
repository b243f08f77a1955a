package dev.sluice.redis;

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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Finds the Redis server the tests run against, once per JVM.
 *
 * <ul>
 *   <li>{@code SLUICE_TEST_REDIS_URL} (environment or system property) set, such as
 *       {@code redis://127.0.0.1:6379}: that server. Tests use namespaces of their own and leave
 *       only keys that expire.
 *   <li>otherwise a {@code redis-server} on the {@code PATH}, started by the tests on a free
 *       loopback port with persistence off ({@code --save "" --appendonly no}) and stopped at exit.
 *   <li>otherwise every Redis test is skipped with the reason (and fails under {@code CI=true}).
 * </ul>
 *
 * <p>Tests that stop, restart or pause a server ({@link #startOwnServer}) always start one of their
 * own, and are skipped (failing under {@code CI=true}) without {@code redis-server} on the PATH.
 */
final class TestRedis {
  private static String uri;
  private static String unavailable;

  private TestRedis() {}

  /** The URI of this run's shared server; skips the calling test if there is none. */
  static synchronized String uri() {
    if (uri == null && unavailable == null) {
      String external = setting("SLUICE_TEST_REDIS_URL");
      if (external != null) {
        uri = external;
        System.err.println("Sluice Redis tests run on " + external.replaceAll(":[^:@/]*@", ":***@"));
      } else {
        try {
          Server server = startOwnServer();
          Runtime.getRuntime().addShutdownHook(new Thread(server::stop));
          uri = server.uri();
          System.err.println("Sluice Redis tests run on a redis-server started at " + uri);
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
        System.err.println("SKIPPING Redis tests: " + reason);
      }
    }
    Assumptions.assumeTrue(uri != null, () -> "SKIPPED: Redis for tests is unavailable: "
        + unavailable);
    return uri;
  }

  /**
   * Starts a redis-server of the calling test's own on a free loopback port; skips the test if
   * there is no redis-server on the PATH (fails under {@code CI=true}).
   *
   * @param extraArgs more server arguments, such as {@code --cluster-enabled yes}
   */
  static Server startOwnServer(String... extraArgs) throws IOException {
    String binary = findOnPath("redis-server");
    if (binary == null) {
      String reason = "no redis-server on the PATH";
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(reason);
      }
      Assumptions.abort("SKIPPED: " + reason);
    }
    IOException last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      Server server = new Server(binary, freePort(), Files.createTempDirectory("sluice-redis"))
          .with(extraArgs);
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

  private static String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name);
    }
    return value == null || value.isBlank() ? null : value;
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

  /** A redis-server process on a fixed loopback port that can be stopped and started again. */
  static final class Server {
    private final String binary;
    final int port;
    private final Path dir;
    private final List<String> extraArgs = new ArrayList<>();
    private Process process;

    Server(String binary, int port, Path dir) {
      this.binary = binary;
      this.port = port;
      this.dir = dir;
    }

    String uri() {
      return "redis://127.0.0.1:" + port;
    }

    private Server with(String... args) {
      extraArgs.addAll(List.of(args));
      return this;
    }

    /** Starts the server and waits (at most 20 s) until it answers PING. */
    synchronized void start() throws IOException {
      List<String> command = new ArrayList<>(List.of(binary, "--port", Integer.toString(port),
          "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
          "--daemonize", "no", "--loglevel", "warning"));
      command.addAll(extraArgs);
      process = new ProcessBuilder(command)
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
