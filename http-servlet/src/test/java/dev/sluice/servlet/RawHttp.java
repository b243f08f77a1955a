package dev.sluice.servlet;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * HTTP/1.1 over a plain socket, for what a well-behaved client cannot do: leave mid-request,
 * send a body in parts, reuse a connection on purpose.
 */
final class RawHttp {
  private RawHttp() {}

  /**
   * Opens a connection to a started container; reads time out after 10 s.
   *
   * @param server the container
   * @return the connected socket; the caller closes it
   * @throws IOException if it cannot connect
   */
  static Socket connect(ServletContainer server) throws IOException {
    Socket socket = new Socket("127.0.0.1", server.port());
    socket.setSoTimeout(10_000);
    return socket;
  }

  /**
   * Writes text as US-ASCII and flushes it.
   *
   * @param socket the connection
   * @param text request line, headers or body bytes
   * @throws IOException if the write fails
   */
  static void write(Socket socket, String text) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(text.getBytes(StandardCharsets.US_ASCII));
    out.flush();
  }

  /**
   * Reads one HTTP/1.1 response with a Content-Length body.
   *
   * @param in the connection's input
   * @return the head and the body
   * @throws IOException if the connection closes first
   */
  static String readResponse(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("connection closed after: " + head);
      }
      head.append((char) c);
    }
    int length = 0;
    for (String line : head.toString().split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    byte[] body = in.readNBytes(length);
    return head + new String(body, StandardCharsets.UTF_8);
  }
}
