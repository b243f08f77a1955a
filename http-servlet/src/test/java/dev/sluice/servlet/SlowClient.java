package dev.sluice.servlet;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * A hostile HTTP/1.1 client on a raw socket: it announces a body and sends it as slowly, partly or
 * hugely as a test wants, then reads whatever answer comes. Every read is bounded.
 */
final class SlowClient implements AutoCloseable {
  private final Socket socket;
  private final OutputStream out;
  private final InputStream in;

  private SlowClient(Socket socket) throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.in = socket.getInputStream();
  }

  /** Connects to the server behind {@code base} (host and port only). */
  static SlowClient connect(URI base) throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5_000);
    s.setSoTimeout(10_000);
    s.setTcpNoDelay(true);
    return new SlowClient(s);
  }

  /** Sends a request head; {@code headers} are full header lines such as "Content-Length: 5". */
  SlowClient head(String method, String path, String... headers) throws IOException {
    StringBuilder sb = new StringBuilder(method).append(' ').append(path)
        .append(" HTTP/1.1\r\nHost: localhost\r\n");
    for (String h : headers) {
      sb.append(h).append("\r\n");
    }
    out.write(sb.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return this;
  }

  SlowClient send(String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.UTF_8));
    out.flush();
    return this;
  }

  /** Sends one chunk of a chunked body. */
  SlowClient chunk(String text) throws IOException {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    out.write((Integer.toHexString(b.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.write(b);
    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return this;
  }

  /** Ends a chunked body. */
  SlowClient lastChunk() throws IOException {
    return send("0\r\n\r\n");
  }

  /**
   * Reads one response: status line, headers and a Content-Length body.
   *
   * @return the response, or null if the server closed the connection first
   */
  Response read() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int c = in.read();
      if (c < 0) {
        return head.size() == 0 ? null : new Response(head.toString(StandardCharsets.UTF_8), "");
      }
      head.write(c);
      matched = (c == '\r' && (matched == 0 || matched == 2)) || (c == '\n'
          && (matched == 1 || matched == 3)) ? matched + 1 : 0;
    }
    String headText = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    boolean chunked = false;
    for (String line : headText.split("\r\n")) {
      String lower = line.toLowerCase(Locale.ROOT);
      if (lower.startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      } else if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
        chunked = true;
      }
    }
    byte[] body = chunked ? readChunked() : in.readNBytes(length);
    return new Response(headText, new String(body, StandardCharsets.UTF_8));
  }

  private byte[] readChunked() throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String sizeLine = readLine();
      int semicolon = sizeLine.indexOf(';');
      int size = Integer.parseInt(
          (semicolon < 0 ? sizeLine : sizeLine.substring(0, semicolon)).trim(), 16);
      if (size == 0) {
        String trailer;
        do {
          trailer = readLine(); // trailers, if any, end with an empty line
        } while (!trailer.isEmpty());
        return body.toByteArray();
      }
      body.write(in.readNBytes(size));
      readLine();
    }
  }

  private String readLine() throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n') {
      if (c != '\r') {
        sb.append((char) c);
      }
    }
    return sb.toString();
  }

  /** Whether the server closed the connection (end-of-stream) within the socket timeout. */
  boolean closedByServer() throws IOException {
    try {
      return in.read() < 0;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true; // reset
    }
  }

  /** Hangs up abruptly: a reset rather than an orderly close. */
  void reset() throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  /** A response as text. */
  record Response(String head, String body) {
    int status() {
      return Integer.parseInt(head.substring(9, 12));
    }

    String header(String name) {
      for (String line : head.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.substring(0, colon).equalsIgnoreCase(name)) {
          return line.substring(colon + 1).trim();
        }
      }
      return null;
    }
  }
}
