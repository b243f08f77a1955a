package dev.sluice.servlet.internal;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** Parsing and formatting of IP literals without ever touching DNS. Thread-safe (stateless). */
public final class IpAddresses {
  private IpAddresses() {}

  /**
   * Parses an IPv4 or IPv6 literal. Host names, ports and garbage give null, never a DNS lookup.
   * IPv4-mapped IPv6 addresses come back as IPv4.
   *
   * @param text the literal, e.g. {@code 192.0.2.1} or {@code 2001:db8::1}
   * @return the address, or null if {@code text} is not an IP literal
   */
  public static InetAddress parse(String text) {
    if (text == null) {
      return null;
    }
    String s = text.trim();
    if (s.isEmpty() || s.length() > 45) {
      return null;
    }
    if (s.indexOf(':') >= 0) {
      for (int i = 0; i < s.length(); i++) {
        char c = s.charAt(i);
        boolean ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
            || c == ':' || c == '.';
        if (!ok) {
          return null;
        }
      }
    } else if (!isIpv4(s)) {
      return null;
    }
    try {
      // A literal (digits and dots, or containing ':') is parsed, never resolved.
      return InetAddress.getByName(s);
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /**
   * Whether a string is a dotted-quad IPv4 literal in canonical form (no leading zeros), so it can
   * serve as a key as it is.
   *
   * @param s the text
   * @return true for a canonical IPv4 literal
   */
  public static boolean isIpv4(String s) {
    int parts = 0;
    int value = -1;
    int digits = 0;
    for (int i = 0; i <= s.length(); i++) {
      char c = i < s.length() ? s.charAt(i) : '.';
      if (c == '.') {
        if (digits == 0 || value > 255) {
          return false;
        }
        parts++;
        value = -1;
        digits = 0;
      } else if (c >= '0' && c <= '9') {
        if (++digits > 3 || value == 0) {
          return false; // four digits, or a leading zero (ambiguous: octal to some parsers)
        }
        value = (value < 0 ? 0 : value * 10) + (c - '0');
      } else {
        return false;
      }
    }
    return parts == 4;
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
