package dev.sluice.servlet.internal;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UnsupportedEncodingException;
import java.net.URLDecoder;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A request whose body was read into memory before admission, so nothing of it is left on the
 * connection while the request waits and the handler never blocks on a slow client. The body is
 * set once it has arrived ({@link #body(byte[])}), before the request is dispatched to the
 * handler. Not thread-safe, like any request; the container's dispatch publishes the body.
 */
public final class BufferedBodyRequest extends HttpServletRequestWrapper {
  private static final String FORM = "application/x-www-form-urlencoded";
  private volatile byte[] body;
  private Map<String, String[]> parameters;
  private boolean streamUsed;
  private boolean readerUsed;

  /**
   * Wraps a request whose body is still arriving.
   *
   * @param request the request
   */
  public BufferedBodyRequest(HttpServletRequest request) {
    super(request);
  }

  /**
   * Sets the body once it has been read.
   *
   * @param body the whole body
   */
  public void body(byte[] body) {
    this.body = body;
  }

  private byte[] bytes() {
    byte[] b = body;
    if (b == null) {
      throw new IllegalStateException("the request body has not arrived yet");
    }
    return b;
  }

  @Override
  public ServletInputStream getInputStream() {
    if (readerUsed) {
      throw new IllegalStateException("getReader() was already called");
    }
    streamUsed = true;
    ByteArrayInputStream in = new ByteArrayInputStream(bytes());
    return new ServletInputStream() {
      @Override
      public int read() {
        return in.read();
      }

      @Override
      public int read(byte[] b, int off, int len) {
        return in.read(b, off, len);
      }

      @Override
      public boolean isFinished() {
        return in.available() == 0;
      }

      @Override
      public boolean isReady() {
        return true;
      }

      @Override
      public void setReadListener(ReadListener listener) {
        try {
          listener.onDataAvailable();
          listener.onAllDataRead();
        } catch (IOException e) {
          listener.onError(e);
        }
      }
    };
  }

  @Override
  public BufferedReader getReader() throws UnsupportedEncodingException {
    if (streamUsed) {
      throw new IllegalStateException("getInputStream() was already called");
    }
    readerUsed = true;
    String encoding = getCharacterEncoding();
    Charset charset;
    try {
      charset = encoding == null ? StandardCharsets.UTF_8 : Charset.forName(encoding);
    } catch (IllegalArgumentException e) {
      throw new UnsupportedEncodingException(encoding);
    }
    return new BufferedReader(new InputStreamReader(new ByteArrayInputStream(bytes()), charset));
  }

  @Override
  public int getContentLength() {
    byte[] b = body;
    return b == null ? super.getContentLength() : b.length;
  }

  @Override
  public long getContentLengthLong() {
    byte[] b = body;
    return b == null ? super.getContentLengthLong() : b.length;
  }

  // The container would look for form parameters on the connection, which the filter has
  // already read: parse them from the buffered copy instead (query string first, as containers do).

  @Override
  public String getParameter(String name) {
    String[] values = getParameterMap().get(name);
    return values == null || values.length == 0 ? null : values[0];
  }

  @Override
  public Map<String, String[]> getParameterMap() {
    if (parameters == null) {
      Map<String, List<String>> all = new LinkedHashMap<>();
      addForm(all, getQueryString());
      String type = getContentType();
      if (type != null && type.toLowerCase(Locale.ROOT).startsWith(FORM)) {
        addForm(all, new String(bytes(), formCharset()));
      }
      Map<String, String[]> out = new LinkedHashMap<>();
      all.forEach((k, v) -> out.put(k, v.toArray(new String[0])));
      parameters = Collections.unmodifiableMap(out);
    }
    return parameters;
  }

  @Override
  public Enumeration<String> getParameterNames() {
    return Collections.enumeration(getParameterMap().keySet());
  }

  @Override
  public String[] getParameterValues(String name) {
    String[] values = getParameterMap().get(name);
    return values == null ? null : values.clone();
  }

  private Charset formCharset() {
    String encoding = getCharacterEncoding();
    try {
      return encoding == null ? StandardCharsets.UTF_8 : Charset.forName(encoding);
    } catch (IllegalArgumentException e) {
      return StandardCharsets.UTF_8;
    }
  }

  private void addForm(Map<String, List<String>> into, String form) {
    if (form == null || form.isEmpty()) {
      return;
    }
    Charset charset = formCharset();
    for (String pair : form.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      try {
        String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), charset);
        String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), charset);
        into.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
      } catch (IllegalArgumentException e) {
        // A malformed escape: skip that pair, as containers do, rather than fail the request.
      }
    }
  }
}
