package dev.sluice.servlet.internal;

import java.util.Arrays;

/**
 * Parsing and formatting of IP literals by hand, so no input can ever cause a DNS lookup.
 * Thread-safe (stateless).
 */
public final class IpAddresses {
  /** The longest IPv6 text: six full groups and a dotted quad. */
  private static final int MAX_ADDRESS_CHARS = 45;
  /** Interface names are at most 15 characters on Linux and numeric elsewhere; this is ample. */
  private static final int MAX_ZONE_CHARS = 32;
  private static final int MAX_PORT_DIGITS = 5;

  private IpAddresses() {}

  /**
   * Parses one IP literal as a container reports a peer: IPv4 in canonical dotted-quad form (no
   * leading zeros), or IPv6 compressed or in full, in any case, optionally in brackets
   * ({@code [::1]}) and with a zone id ({@code fe80::1%eth0}, {@code [fe80::1%25eth0]}), which is
   * dropped. Surrounding spaces and tabs are ignored. IPv4-mapped IPv6
   * ({@code ::ffff:192.0.2.1}) comes back as IPv4. Host names, ports and anything else give null,
   * as does an address part longer than 45 characters or a zone id longer than 32.
   *
   * @param text the literal, e.g. {@code 192.0.2.1}, {@code 2001:db8::1} or
   *     {@code [fe80:0:0:0:0:0:0:1%lo]}; may be null
   * @return 4 or 16 address bytes (a new array), or null if {@code text} is not an IP literal
   */
  public static byte[] parse(String text) {
    if (text == null) {
      return null;
    }
    int from = 0;
    int to = text.length();
    while (from < to && isBlank(text.charAt(from))) {
      from++;
    }
    while (to > from && isBlank(text.charAt(to - 1))) {
      to--;
    }
    return parse(text, from, to);
  }

  /**
   * Parses one node of a forwarding header: what {@link #parse(String)} accepts, and also a
   * quoted node ({@code "[2001:db8::1]:443"}), a bracketed IPv6 address with a port
   * ({@code [2001:db8::1]:443}) and an IPv4 address with a port ({@code 192.0.2.1:8080}). A port
   * may be RFC 7239's obfuscated form ({@code _p1}). Obfuscated nodes ({@code _hidden}),
   * {@code unknown} and anything else give null. A bare IPv6 address never carries a port: the
   * last group would be ambiguous.
   *
   * @param text the node, e.g. {@code 203.0.113.9} or {@code "[2001:db8::1]:443"}; may be null
   * @return 4 or 16 address bytes (a new array), or null if {@code text} names no IP address
   */
  public static byte[] parseNode(String text) {
    if (text == null) {
      return null;
    }
    int from = 0;
    int to = text.length();
    while (from < to && isBlank(text.charAt(from))) {
      from++;
    }
    while (to > from && isBlank(text.charAt(to - 1))) {
      to--;
    }
    if (from < to && text.charAt(from) == '"') {
      if (to - from < 2 || text.charAt(to - 1) != '"') {
        return null;
      }
      from++;
      to--;
    }
    if (from < to && text.charAt(from) == '[') {
      int close = text.indexOf(']', from);
      if (close < 0 || close >= to) {
        return null;
      }
      if (close + 1 < to && (text.charAt(close + 1) != ':' || !isPort(text, close + 2, to))) {
        return null;
      }
      return parse(text, from, close + 1);
    }
    int colon = text.indexOf(':', from);
    int dot = text.indexOf('.', from);
    if (colon >= 0 && colon < to && text.lastIndexOf(':', to - 1) == colon
        && dot >= 0 && dot < colon) {
      // One colon after a dotted part: IPv4 with a port. IPv6 has at least two colons.
      if (!isPort(text, colon + 1, to)) {
        return null;
      }
      return parse(text, from, colon);
    }
    return parse(text, from, to);
  }

  /**
   * Whether a string is a dotted-quad IPv4 literal in canonical form (no leading zeros, no
   * whitespace), so it can serve as a key as it is.
   *
   * @param s the text
   * @return true for a canonical IPv4 literal
   */
  public static boolean isIpv4(String s) {
    return ipv4(s, 0, s.length()) >= 0;
  }

  /** Parses {@code s[from, to)}, already trimmed of whitespace and quotes. */
  private static byte[] parse(String s, int from, int to) {
    if (from >= to) {
      return null;
    }
    boolean bracketed = s.charAt(from) == '[';
    if (bracketed) {
      if (to - from < 2 || s.charAt(to - 1) != ']') {
        return null;
      }
      from++;
      to--;
    }
    if (to - from > MAX_ADDRESS_CHARS + 1 + MAX_ZONE_CHARS) {
      return null;
    }
    int end = from;
    boolean colon = false;
    while (end < to && s.charAt(end) != '%') {
      colon |= s.charAt(end) == ':';
      end++;
    }
    if (end == from || end - from > MAX_ADDRESS_CHARS) {
      return null;
    }
    boolean zoned = end < to;
    if (zoned && !isZone(s, end + 1, to)) {
      return null;
    }
    if (!colon) {
      if (bracketed || zoned) {
        return null; // brackets and zones belong to IPv6 only
      }
      long v4 = ipv4(s, from, end);
      return v4 < 0 ? null : ipv4Bytes(v4);
    }
    byte[] a = ipv6(s, from, end);
    if (a != null && isIpv4Mapped(a)) {
      return new byte[] {a[12], a[13], a[14], a[15]};
    }
    return a;
  }

  /** The value of a canonical dotted quad in {@code s[from, to)}, or -1. */
  private static long ipv4(String s, int from, int to) {
    long result = 0;
    int parts = 0;
    int value = -1;
    int digits = 0;
    for (int i = from; i <= to; i++) {
      char c = i < to ? s.charAt(i) : '.';
      if (c == '.') {
        if (digits == 0 || value > 255 || ++parts > 4) {
          return -1;
        }
        result = (result << 8) | value;
        value = -1;
        digits = 0;
      } else if (c >= '0' && c <= '9') {
        if (++digits > 3 || value == 0) {
          return -1; // four digits, or a leading zero (ambiguous: octal to some parsers)
        }
        value = (value < 0 ? 0 : value * 10) + (c - '0');
      } else {
        return -1;
      }
    }
    return parts == 4 ? result : -1;
  }

  private static byte[] ipv4Bytes(long v4) {
    return new byte[] {(byte) (v4 >>> 24), (byte) (v4 >>> 16), (byte) (v4 >>> 8), (byte) v4};
  }

  /** RFC 4291 text in {@code s[from, to)}, without brackets or zone; 16 bytes or null. */
  private static byte[] ipv6(String s, int from, int to) {
    byte[] out = new byte[16];
    int groups = 0;
    int gap = -1;
    int i = from;
    if (s.charAt(i) == ':') {
      if (i + 1 >= to || s.charAt(i + 1) != ':') {
        return null;
      }
      gap = 0;
      i += 2;
    }
    while (i < to) {
      if (groups == 8) {
        return null;
      }
      int start = i;
      int value = 0;
      int d;
      while (i < to && (d = hex(s.charAt(i))) >= 0) {
        if (i - start == 4) {
          return null;
        }
        value = (value << 4) | d;
        i++;
      }
      if (i < to && s.charAt(i) == '.') {
        long v4 = groups <= 6 ? ipv4(s, start, to) : -1;
        if (v4 < 0) {
          return null;
        }
        System.arraycopy(ipv4Bytes(v4), 0, out, 2 * groups, 4);
        groups += 2;
        break;
      }
      if (i == start) {
        return null;
      }
      out[2 * groups] = (byte) (value >>> 8);
      out[2 * groups + 1] = (byte) value;
      groups++;
      if (i == to) {
        break;
      }
      if (s.charAt(i) != ':') {
        return null;
      }
      i++;
      if (i < to && s.charAt(i) == ':') {
        if (gap >= 0) {
          return null;
        }
        gap = groups;
        i++;
      } else if (i == to) {
        return null; // a trailing single colon
      }
    }
    if (gap < 0) {
      return groups == 8 ? out : null;
    }
    if (groups == 8) {
      return null; // "::" must stand for at least one group
    }
    int tailBytes = 2 * (groups - gap);
    System.arraycopy(out, 2 * gap, out, 16 - tailBytes, tailBytes);
    Arrays.fill(out, 2 * gap, 16 - tailBytes, (byte) 0);
    return out;
  }

  /** HTTP's optional whitespace; control characters are not trimmed, so they fail the parse. */
  private static boolean isBlank(char c) {
    return c == ' ' || c == '\t';
  }

  private static int hex(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }

  private static boolean isIpv4Mapped(byte[] a) {
    for (int i = 0; i < 10; i++) {
      if (a[i] != 0) {
        return false;
      }
    }
    return a[10] == (byte) 0xFF && a[11] == (byte) 0xFF;
  }

  /** A zone id (interface name or number); RFC 6874's "%25" needs no decoding, as it is dropped. */
  private static boolean isZone(String s, int from, int to) {
    if (from >= to || to - from > MAX_ZONE_CHARS) {
      return false;
    }
    for (int i = from; i < to; i++) {
      if (!isTokenChar(s.charAt(i))) {
        return false;
      }
    }
    return true;
  }

  /** A port, or RFC 7239's obfuscated port ({@code _} then letters, digits, '.', '_', '-'). */
  private static boolean isPort(String s, int from, int to) {
    if (from >= to) {
      return false;
    }
    if (s.charAt(from) == '_') {
      return isZone(s, from + 1, to);
    }
    if (to - from > MAX_PORT_DIGITS) {
      return false;
    }
    int port = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
      port = port * 10 + (c - '0');
    }
    return port <= 0xFFFF;
  }

  private static boolean isTokenChar(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || c == '.' || c == '_' || c == '-' || c == '~';
  }

  /**
   * Whether {@code address} lies in the network {@code network/prefix}.
   *
   * @param address the address
   * @param network the network's address bytes
   * @param prefix the prefix length in bits
   * @return true if the first {@code prefix} bits agree and the families match
   */
  public static boolean inNetwork(byte[] address, byte[] network, int prefix) {
    if (address.length != network.length) {
      return false;
    }
    int full = prefix / 8;
    for (int i = 0; i < full; i++) {
      if (address[i] != network[i]) {
        return false;
      }
    }
    int rest = prefix % 8;
    if (rest == 0) {
      return true;
    }
    int mask = (0xFF << (8 - rest)) & 0xFF;
    return (address[full] & mask) == (network[full] & mask);
  }

  /**
   * Keeps the first {@code prefix} bits of an address and zeroes the rest.
   *
   * @param address the address bytes
   * @param prefix bits to keep
   * @return a new array
   */
  public static byte[] mask(byte[] address, int prefix) {
    byte[] out = address.clone();
    for (int bit = prefix; bit < out.length * 8; bit++) {
      out[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
    }
    return out;
  }

  /**
   * Formats IPv4 bytes as a dotted quad.
   *
   * @param a 4 address bytes
   * @return the text form
   */
  public static String formatIpv4(byte[] a) {
    return (a[0] & 0xFF) + "." + (a[1] & 0xFF) + "." + (a[2] & 0xFF) + "." + (a[3] & 0xFF);
  }

  /**
   * Formats IPv6 bytes in the RFC 5952 canonical form (lower case, longest zero run as "::").
   *
   * @param a 16 address bytes
   * @return the text form
   */
  public static String formatIpv6(byte[] a) {
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) {
      groups[i] = ((a[2 * i] & 0xFF) << 8) | (a[2 * i + 1] & 0xFF);
    }
    int bestStart = -1;
    int bestLen = 1;
    for (int i = 0; i < 8; ) {
      if (groups[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && groups[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    StringBuilder sb = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(groups[i]));
    }
    return sb.toString();
  }
}
