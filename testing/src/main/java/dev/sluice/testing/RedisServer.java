package dev.sluice.testing;

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
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away {@code redis-server} for tests: found on the {@code PATH}, started on a free
 * loopback port with persistence off ({@code --save "" --appendonly no}, its files in a temporary
 * folder), and stoppable and startable again on the same port (for tests of a store's outage and
 * recovery). Needs no Redis client: readiness is a raw {@code PING}.
 *
 * <pre>{@code
 * try (RedisServer redis = RedisServer.start()) {
 *   RedisClient client = RedisClient.create(redis.uri());
 *   ...
 * }
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class RedisServer implements AutoCloseable {
  /** The setting naming a running server for tests: {@value}. */
  public static final String URL_SETTING = "SLUICE_TEST_REDIS_URL";

  private static String sharedUri;
  private static String sharedUnavailable;

  private final String binary;
  private final int port;
  private final Path dir;
  private final List<String> extraArgs;
  private Process process;

  private RedisServer(String binary, int port, Path dir, List<String> extraArgs) {
    this.binary = binary;
    this.port = port;
    this.dir = dir;
    this.extraArgs = extraArgs;
  }

  /**
   * The {@code redis-server} executable on the {@code PATH}, if there is one.
   *
   * @return its absolute path, or empty
   */
  public static Optional<String> findBinary() {
    String path = System.getenv("PATH");
    if (path == null) {
      return Optional.empty();
    }
    for (String folder : path.split(File.pathSeparator)) {
      File candidate = new File(folder, "redis-server");
      if (candidate.isFile() && candidate.canExecute()) {
        return Optional.of(candidate.getAbsolutePath());
      }
    }
    return Optional.empty();
  }

  /**
   * Starts a server on a free loopback port and waits (at most 20 s) until it answers.
   *
   * @param extraArgs more server arguments, such as {@code --cluster-enabled yes}
   * @return the running server
   * @throws IllegalStateException if there is no {@code redis-server} on the {@code PATH}
   * @throws IOException if it did not start (its log is in the message)
   */
  public static RedisServer start(String... extraArgs) throws IOException {
    String binary = findBinary().orElseThrow(
        () -> new IllegalStateException("no redis-server on the PATH"));
    IOException last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      RedisServer server = new RedisServer(binary, freePort(),
          Files.createTempDirectory("sluice-redis"), List.of(extraArgs));
      try {
        server.restart();
        return server;
      } catch (IOException e) {
        last = e; // another process took the port between probing and binding: try another
        server.stop();
      }
    }
    throw last;
  }

  /**
   * The server a test run shares, chosen once per JVM: {@value #URL_SETTING} (system property,
   * else environment) when set, such as {@code redis://127.0.0.1:6379}; otherwise a server
   * {@linkplain #start started} here and stopped when the JVM exits.
   *
   * @return the server's URI
   * @throws IllegalStateException saying why and what to set, when neither is available (asked
   *     again, it fails the same way without trying again)
   */
  public static synchronized String sharedUri() {
    if (sharedUri == null && sharedUnavailable == null) {
      String external = System.getProperty(URL_SETTING);
      if (external == null || external.isBlank()) {
        external = System.getenv(URL_SETTING);
      }
      if (external != null && !external.isBlank()) {
        sharedUri = external.trim();
        System.err.println("Sluice Redis tests run on "
            + sharedUri.replaceAll(":[^:@/]*@", ":***@"));
      } else {
        try {
          RedisServer server = start();
          Runtime.getRuntime().addShutdownHook(new Thread(server::stop));
          sharedUri = server.uri();
          System.err.println("Sluice Redis tests run on a redis-server started at " + sharedUri);
        } catch (IOException | RuntimeException e) {
          sharedUnavailable = "Redis for tests is unavailable: " + e.getMessage() + "; set "
              + URL_SETTING + " or put redis-server on the PATH";
        }
      }
    }
    if (sharedUri == null) {
      throw new IllegalStateException(sharedUnavailable);
    }
    return sharedUri;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /**
   * The server's URI.
   *
   * @return {@code redis://127.0.0.1:<port>}
   */
  public String uri() {
    return "redis://127.0.0.1:" + port;
  }

  /**
   * The server's loopback port, the same across {@link #stop()} and {@link #restart()}.
   *
   * @return the port
   */
  public int port() {
    return port;
  }

  /**
   * Starts the server again after {@link #stop()}, on the same port, and waits (at most 20 s)
   * until it answers; it keeps no data from before (persistence is off).
   *
   * @throws IOException if it did not start
   */
  public synchronized void restart() throws IOException {
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

  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it; idempotent. */
  public synchronized void stop() {
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

  /** Stops the server; see {@link #stop()}. */
  @Override
  public void close() {
    stop();
  }
}
