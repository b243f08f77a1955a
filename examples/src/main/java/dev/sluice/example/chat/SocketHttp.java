package dev.sluice.example.chat;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * A small HTTP/1.1 client over a plain socket: one request per connection ({@code Connection:
 * close}), optionally from a chosen local address. The load generator uses it because the JDK's
 * client cannot pick a source address before Java 19, and because a fresh connection per request
 * cannot race a server closing a kept-alive one (a server that refuses a request before reading
 * its body closes the connection after answering; a pooled client that sends the next request on
 * it fails with "header parser received no bytes").
 *
 * <p>Thread-safe (stateless).
 */
final class SocketHttp {
  /** The largest response body read, in bytes. */
  static final int MAX_BODY = 1 << 20;

  private SocketHttp() {}

  /**
   * A response.
   *
   * @param status the status code
   * @param headers header values by lower-case name
   * @param body the body, de-chunked
   */
  record Response(int status, Map<String, List<String>> headers, byte[] body) {
    Optional<String> header(String name) {
      List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
      return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    String text() {
      return new String(body, StandardCharsets.UTF_8);
    }
  }

  /**
   * Sends one request and reads its response.
   *
   * @param local the local address to send from, or null for the system's choice
   * @param base the server's base URI ({@code http} only)
   * @param method the method
   * @param target the request target, such as {@code /api/chat}
   * @param headers extra headers, name then value
   * @param body the body, or null for none
   * @param timeout the longest wait to connect, and then between bytes of the response
   * @return the response
   * @throws IOException if the exchange failed; the message says at which step
   */
  static Response send(InetAddress local, URI base, String method, String target, byte[] body,
      Duration timeout, String... headers) throws IOException {
    int port = base.getPort() < 0 ? 80 : base.getPort();
    StringBuilder head = new StringBuilder(256);
    head.append(method).append(' ').append(target).append(" HTTP/1.1\r\n")
        .append("Host: ").append(base.getHost()).append(':').append(port).append("\r\n")
        .append("Connection: close\r\n");
    for (int i = 0; i + 1 < headers.length; i += 2) {
      head.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
    }
    if (body != null) {
      head.append("Content-Length: ").append(body.length).append("\r\n");
    }
    head.append("\r\n");
    byte[] headBytes = head.toString().getBytes(StandardCharsets.ISO_8859_1);
    byte[] request = new byte[headBytes.length + (body == null ? 0 : body.length)];
    System.arraycopy(headBytes, 0, request, 0, headBytes.length);
    if (body != null) {
      System.arraycopy(body, 0, request, headBytes.length, body.length);
    }
    try (Socket socket = new Socket()) {
      if (local != null) {
        socket.bind(new InetSocketAddress(local, 0));
      }
      socket.setTcpNoDelay(true);
      int millis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
      try {
        socket.connect(new InetSocketAddress(base.getHost(), port), millis);
      } catch (IOException e) {
        throw new IOException("connect to " + base.getHost() + ":" + port + " failed: " + e, e);
      }
      socket.setSoTimeout(millis);
      OutputStream out = socket.getOutputStream();
      out.write(request); // one write: the server sees the body with the headers
      out.flush();
      return read(socket.getInputStream(), method.equals("HEAD"));
    }
  }

  static Response read(InputStream raw, boolean head) throws IOException {
    InputStream in = new java.io.BufferedInputStream(raw, 8192);
    String statusLine = line(in);
    if (statusLine == null) {
      throw new IOException("the server closed the connection before answering");
    }
    String[] parts = statusLine.split(" ", 3);
    int status;
    try {
      status = Integer.parseInt(parts[1]);
    } catch (RuntimeException e) {
      throw new IOException("not an HTTP status line: " + statusLine, e);
    }
    Map<String, List<String>> headers = new LinkedHashMap<>();
    for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
      int colon = h.indexOf(':');
      if (colon > 0) {
        headers.computeIfAbsent(h.substring(0, colon).trim().toLowerCase(Locale.ROOT),
            k -> new ArrayList<>()).add(h.substring(colon + 1).trim());
      }
    }
    byte[] body;
    List<String> te = headers.get("transfer-encoding");
    List<String> cl = headers.get("content-length");
    if (head || status == 204 || status == 304 || status / 100 == 1) {
      body = new byte[0];
    } else if (te != null && te.get(0).toLowerCase(Locale.ROOT).contains("chunked")) {
      body = chunked(in);
    } else if (cl != null) {
      long n = Long.parseLong(cl.get(0));
      if (n > MAX_BODY) {
        throw new IOException("response body of " + n + " bytes is larger than " + MAX_BODY);
      }
      body = in.readNBytes((int) n);
      if (body.length < n) {
        throw new EOFException("response body ended after " + body.length + " of " + n
            + " bytes");
      }
    } else {
      body = in.readNBytes(MAX_BODY);
    }
    return new Response(status, headers, body);
  }

  private static byte[] chunked(InputStream in) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    while (true) {
      String size = line(in);
      if (size == null) {
        throw new EOFException("chunked response body ended early");
      }
      int semi = size.indexOf(';');
      int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
      if (n == 0) {
        while (true) {
          String trailer = line(in);
          if (trailer == null || trailer.isEmpty()) {
            return out.toByteArray();
          }
        }
      }
      if (out.size() + n > MAX_BODY) {
        throw new IOException("chunked response body is larger than " + MAX_BODY);
      }
      byte[] chunk = in.readNBytes(n);
      if (chunk.length < n) {
        throw new EOFException("chunk ended after " + chunk.length + " of " + n + " bytes");
      }
      out.write(chunk);
      line(in);
    }
  }

  /** A CRLF- (or LF-) terminated line in ISO-8859-1, or null at end of stream. */
  private static String line(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder(64);
    int c;
    while ((c = in.read()) >= 0) {
      if (c == '\n') {
        int len = sb.length();
        return len > 0 && sb.charAt(len - 1) == '\r' ? sb.substring(0, len - 1) : sb.toString();
      }
      if (sb.length() > 16 * 1024) {
        throw new IOException("response line longer than 16 KiB");
      }
      sb.append((char) c);
    }
    return sb.length() == 0 ? null : sb.toString();
  }
}
