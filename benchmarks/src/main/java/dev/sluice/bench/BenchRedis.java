package dev.sluice.bench;

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

/**
 * The Redis server the Redis tables run against, chosen once per JVM.
 *
 * <ol>
 *   <li>{@value #BENCH_URL} (system property, else environment), such as
 *       {@code redis://127.0.0.1:6379}: that server.
 *   <li>else {@value #TEST_URL}, the Redis tests' setting: that server.
 *   <li>else a {@code redis-server} from the {@code PATH}, started on a free loopback port with
 *       persistence off ({@code --save "" --appendonly no}) and stopped when the JVM exits.
 *       {@link Tables} starts it once and hands its URL to every forked JVM of a table, so all
 *       rows of a table share one server.
 *   <li>else {@link #uri()} fails, saying what to set.
 * </ol>
 *
 * <p>The benchmarks write only keys under {@code sluice:rl:bench-*} and {@code bench:*}, every one
 * with an expiry, so a shared server is left as it was within a minute.
 */
final class BenchRedis {
  /** The benchmarks' own setting: {@value}. */
  static final String BENCH_URL = "SLUICE_BENCH_REDIS_URL";
  /** The Redis tests' setting, used when {@value #BENCH_URL} is not set: {@value}. */
  static final String TEST_URL = "SLUICE_TEST_REDIS_URL";

  private static String uri;
  private static String description;
  private static Process started;

  private BenchRedis() {}

  /**
   * Says which server {@link #uri()} uses (or would use), without starting one.
   *
   * @return a description for the results
   */
  static synchronized String choice() {
    if (description != null) {
      return description;
    }
    String configured = configured();
    if (configured != null) {
      return describeConfigured(configured);
    }
    String binary = findOnPath("redis-server");
    return binary == null ? "none: no " + BENCH_URL + ", no " + TEST_URL + ", no redis-server"
        : "a redis-server started from " + binary + " (persistence off)";
  }

  /**
   * The server of this JVM, started on first use if none is configured.
   *
   * @return a {@code redis://} URI
   * @throws IllegalStateException if no server is configured and none could be started, saying
   *     what to set
   */
  static synchronized String uri() {
    if (uri != null) {
      return uri;
    }
    String configured = configured();
    if (configured != null) {
      uri = configured;
      description = describeConfigured(configured);
      return uri;
    }
    String binary = findOnPath("redis-server");
    if (binary == null) {
      throw new IllegalStateException("no Redis for the Redis benchmarks: set " + BENCH_URL
          + "=redis://host:6379 (or " + TEST_URL + "), or put redis-server on the PATH"
          + " (Debian: apt-get install redis-server)");
    }
    try {
      uri = start(binary);
    } catch (IOException e) {
      throw new IllegalStateException("no Redis for the Redis benchmarks: redis-server ("
          + binary + ") did not start: " + e.getMessage() + "; set " + BENCH_URL
          + "=redis://host:6379 to use a running server", e);
    }
    description = "a redis-server started at " + uri + " from " + binary + " (persistence off)";
    return uri;
  }

  /**
   * Whether this JVM started the server {@link #uri()} returned (then its URL must be handed to
   * forked JVMs).
   *
   * @return true if a redis-server was started here
   */
  static synchronized boolean startedHere() {
    return started != null;
  }

  private static String configured() {
    String url = setting(BENCH_URL);
    return url != null ? url : setting(TEST_URL);
  }

  private static String describeConfigured(String url) {
    String which = setting(BENCH_URL) != null ? BENCH_URL : TEST_URL;
    return which + " " + url.replaceAll(":[^:@/]*@", ":***@");
  }

  private static String start(String binary) throws IOException {
    IOException last = null;
    for (int attempt = 0; attempt < 3; attempt++) {
      int port;
      try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        port = socket.getLocalPort();
      }
      Path dir = Files.createTempDirectory("sluice-bench-redis");
      Path log = dir.resolve("redis.log");
      Process process = new ProcessBuilder(List.of(binary, "--port", Integer.toString(port),
          "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
          "--daemonize", "no", "--loglevel", "warning"))
          .redirectErrorStream(true)
          .redirectOutput(log.toFile())
          .start();
      try {
        awaitPing(process, port, log);
        started = process;
        Runtime.getRuntime().addShutdownHook(new Thread(BenchRedis::stop, "bench-redis-stop"));
        return "redis://127.0.0.1:" + port;
      } catch (IOException e) {
        last = e; // another process may have taken the port between probing and binding
        process.destroyForcibly();
      }
    }
    throw last;
  }

  /** Waits, at most 20 s, until the server answers PING. */
  private static void awaitPing(Process process, int port, Path log) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() - deadline < 0) {
      if (!process.isAlive()) {
        throw new IOException("redis-server on port " + port + " exited: "
            + Files.readString(log));
      }
      if (answersPing(port)) {
        return;
      }
      try {
        process.waitFor(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while starting redis-server", e);
      }
    }
    throw new IOException("redis-server on port " + port + " did not answer within 20 s");
  }

  private static boolean answersPing(int port) {
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

  private static void stop() {
    Process p = started;
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
  }

  private static String setting(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isBlank()) {
      value = System.getenv(name);
    }
    return value == null || value.isBlank() ? null : value.trim();
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
}
