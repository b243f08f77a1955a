package dev.sluice.servlet;

import dev.sluice.servlet.internal.IpAddresses;
import jakarta.servlet.http.HttpServletRequest;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Finds the client address a per-IP limit should key on.
 *
 * <p>By default that is the socket's peer address. Forwarding headers ({@code X-Forwarded-For} or
 * RFC 7239 {@code Forwarded}) are read only when the peer is one of the configured trusted
 * proxies: the hops are walked from the right (the one nearest to us), skipping trusted proxies,
 * and the first untrusted hop is the client. A hop that is not an IP literal (a host name,
 * {@code unknown}, an obfuscated identifier) ends the walk: the key is then the trusted proxy that
 * reported it, so a forged or broken header can only make limits stricter, never bypass them.
 *
 * <p>IPv6 clients are grouped by their /64 network (configurable), because one subscriber usually
 * owns a whole /64 and could otherwise rotate addresses to escape the limit. Keys read
 * {@code 192.0.2.7} and {@code 2001:db8:1:2::/64}; IPv4-mapped IPv6 addresses count as IPv4.
 *
 * <pre>{@code
 * ClientAddressResolver ips = ClientAddressResolver.builder()
 *     .trustedProxies("10.0.0.0/8", "127.0.0.1")   // your load balancers
 *     .build();
 * String key = ips.resolve(request);
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class ClientAddressResolver {

  /** Which forwarding header trusted proxies write. */
  public enum ForwardedHeader {
    /** {@code X-Forwarded-For: client, proxy1, proxy2}. */
    X_FORWARDED_FOR,
    /** RFC 7239 {@code Forwarded: for=client;proto=https, for=proxy1}. */
    FORWARDED
  }

  private final List<Network> trusted;
  private final ForwardedHeader header;
  private final int ipv6Prefix;

  private ClientAddressResolver(Builder b) {
    this.trusted = List.copyOf(b.trusted);
    this.header = b.header;
    this.ipv6Prefix = b.ipv6Prefix;
  }

  /**
   * A resolver that trusts no proxy: the key is always the socket peer.
   *
   * @return the default resolver
   */
  public static ClientAddressResolver socketOnly() {
    return builder().build();
  }

  /**
   * Starts a builder.
   *
   * @return a builder that trusts no proxy, reads {@code X-Forwarded-For}, groups IPv6 by /64
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Resolves the client key of a request.
   *
   * @param request the request
   * @return the key, never null
   */
  public String resolve(HttpServletRequest request) {
    if (trusted.isEmpty()) {
      String remote = request.getRemoteAddr();
      if (remote != null && remote.indexOf(':') < 0 && IpAddresses.isIpv4(remote)) {
        return remote; // the common case needs no InetAddress round trip
      }
      return resolve(remote, List.of());
    }
    String name = header == ForwardedHeader.FORWARDED ? "Forwarded" : "X-Forwarded-For";
    Enumeration<String> values = trusted.isEmpty() ? null : request.getHeaders(name);
    return resolve(request.getRemoteAddr(),
        values == null ? List.of() : Collections.list(values));
  }

  /**
   * Resolves a client key from a peer address and the forwarding header's values, in order.
   *
   * @param remoteAddress the socket peer address
   * @param headerValues every value of the configured forwarding header, in the order received
   * @return the key, never null
   */
  public String resolve(String remoteAddress, List<String> headerValues) {
    InetAddress peer = IpAddresses.parse(remoteAddress);
    if (peer == null) {
      // Unix sockets and odd connectors: key on whatever the container reports.
      return String.valueOf(remoteAddress);
    }
    if (!isTrusted(peer) || headerValues.isEmpty()) {
      return key(peer);
    }
    List<String> hops = hops(headerValues);
    InetAddress client = peer;
    for (int i = hops.size() - 1; i >= 0; i--) {
      InetAddress hop = IpAddresses.parse(hops.get(i));
      if (hop == null) {
        break;
      }
      client = hop;
      if (!isTrusted(hop)) {
        break;
      }
    }
    return key(client);
  }

  private List<String> hops(List<String> values) {
    List<String> hops = new ArrayList<>();
    for (String value : values) {
      for (String element : value.split(",")) {
        if (header == ForwardedHeader.X_FORWARDED_FOR) {
          hops.add(element.trim());
        } else {
          hops.add(forwardedFor(element));
        }
      }
    }
    return hops;
  }

  /** Extracts the node of the {@code for=} pair of one Forwarded element, without port. */
  private static String forwardedFor(String element) {
    for (String pair : element.split(";")) {
      int eq = pair.indexOf('=');
      if (eq < 0 || !pair.substring(0, eq).trim().toLowerCase(Locale.ROOT).equals("for")) {
        continue;
      }
      String node = pair.substring(eq + 1).trim();
      if (node.length() >= 2 && node.startsWith("\"") && node.endsWith("\"")) {
        node = node.substring(1, node.length() - 1);
      }
      if (node.startsWith("[")) {
        int close = node.indexOf(']');
        return close < 0 ? "" : node.substring(1, close);
      }
      int colon = node.indexOf(':');
      return colon < 0 ? node : node.substring(0, colon);
    }
    return "";
  }

  private boolean isTrusted(InetAddress address) {
    byte[] bytes = address.getAddress();
    for (Network n : trusted) {
      if (IpAddresses.inNetwork(bytes, n.address, n.prefix)) {
        return true;
      }
    }
    return false;
  }

  private String key(InetAddress address) {
    if (address instanceof Inet6Address) {
      return IpAddresses.formatIpv6(IpAddresses.mask(address.getAddress(), ipv6Prefix))
          + "/" + ipv6Prefix;
    }
    return address.getHostAddress();
  }

  private record Network(byte[] address, int prefix) {}

  /** Builds {@link ClientAddressResolver}s. Not thread-safe. */
  public static final class Builder {
    private final List<Network> trusted = new ArrayList<>();
    private ForwardedHeader header = ForwardedHeader.X_FORWARDED_FOR;
    private int ipv6Prefix = 64;

    private Builder() {}

    /**
     * Adds trusted proxies, as addresses or CIDR networks ({@code 10.0.0.0/8}, {@code ::1},
     * {@code fd00::/8}).
     *
     * @param cidrs the proxies
     * @return this builder
     * @throws IllegalArgumentException naming the entry that is not an IP literal or CIDR
     */
    public Builder trustedProxies(String... cidrs) {
      for (String cidr : cidrs) {
        trusted.add(parseCidr(cidr));
      }
      return this;
    }

    /**
     * Chooses the forwarding header to read from trusted proxies.
     *
     * @param header the header
     * @return this builder
     * @throws NullPointerException if {@code header} is null
     */
    public Builder forwardedHeader(ForwardedHeader header) {
      this.header = Objects.requireNonNull(header, "header");
      return this;
    }

    /**
     * Sets how many leading bits of an IPv6 address form its key (default 64).
     *
     * @param bits 1 to 128
     * @return this builder
     * @throws IllegalArgumentException if out of range
     */
    public Builder ipv6PrefixLength(int bits) {
      if (bits < 1 || bits > 128) {
        throw new IllegalArgumentException("ipv6PrefixLength must be in [1, 128] but was " + bits);
      }
      this.ipv6Prefix = bits;
      return this;
    }

    /**
     * Builds the resolver.
     *
     * @return a new, immutable resolver
     */
    public ClientAddressResolver build() {
      return new ClientAddressResolver(this);
    }

    private static Network parseCidr(String cidr) {
      if (cidr == null) {
        throw new IllegalArgumentException("trustedProxies entry must not be null");
      }
      int slash = cidr.indexOf('/');
      InetAddress address = IpAddresses.parse(slash < 0 ? cidr : cidr.substring(0, slash));
      if (address == null) {
        throw new IllegalArgumentException(
            "trustedProxies entry '" + cidr + "' is not an IP address or CIDR network");
      }
      int max = address.getAddress().length * 8;
      int prefix = max;
      if (slash >= 0) {
        try {
          prefix = Integer.parseInt(cidr.substring(slash + 1));
        } catch (NumberFormatException e) {
          prefix = -1;
        }
        if (prefix < 0 || prefix > max) {
          throw new IllegalArgumentException(
              "trustedProxies entry '" + cidr + "' has a prefix length outside [0, " + max + "]");
        }
      }
      return new Network(address.getAddress(), prefix);
    }
  }
}
