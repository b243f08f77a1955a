package dev.sluice.servlet;

import dev.sluice.servlet.internal.ForwardedNodes;
import dev.sluice.servlet.internal.IpAddresses;
import jakarta.servlet.http.HttpServletRequest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Objects;

/**
 * Finds the client address a per-IP limit should key on.
 *
 * <p>By default that is the socket's peer address. Forwarding headers ({@code X-Forwarded-For} or
 * RFC 7239 {@code Forwarded}) are read only when the peer is one of the configured trusted
 * proxies: the hops are walked from the right (the one nearest to us), skipping trusted proxies,
 * and the first untrusted hop is the client. A hop that is not an IP address (a host name,
 * {@code unknown}, an obfuscated identifier such as {@code _hidden}, an empty hop, anything
 * malformed) ends the walk: the key is then the trusted proxy that reported it, so a forged or
 * broken header can only make limits stricter, never bypass them.
 *
 * <p>IPv6 clients are grouped by their /64 network (configurable), because one subscriber usually
 * owns a whole /64 and could otherwise rotate addresses to escape the limit. Keys read
 * {@code 192.0.2.7} and {@code 2001:db8:1:2::/64}; IPv4-mapped IPv6 addresses count as IPv4.
 *
 * <p>Addresses are parsed by hand, never through DNS. The peer address (as containers report it)
 * and trusted-proxy entries may take any of these forms:
 * <ul>
 *   <li>IPv4 as a dotted quad without leading zeros: {@code 192.0.2.1};
 *   <li>IPv6 compressed or in full, in any case: {@code ::1}, {@code 0:0:0:0:0:0:0:1} (Tomcat),
 *       {@code 2001:DB8::1};
 *   <li>IPv6 in brackets: {@code [fd00:1:2:3:0:0:0:10]} (Jetty 12);
 *   <li>IPv6 with a zone id, which is dropped: {@code fe80::1%lo},
 *       {@code fe80:0:0:0:0:0:0:1%lo}, {@code fe80::1%2}, {@code [fe80::1%25eth0]};
 *   <li>IPv4-mapped IPv6, keyed as IPv4: {@code ::ffff:192.0.2.1}.
 * </ul>
 * A hop in a forwarding header may in addition be quoted and carry a port:
 * {@code [2001:db8::1]:443}, {@code "[2001:db8::1]:443"}, {@code 192.0.2.1:8080}, or an
 * obfuscated port ({@code 192.0.2.1:_p1}). A bare IPv6 hop never carries a port. A peer address
 * that is none of these (a Unix socket path, say) is used as the key as it is; a hop that is
 * none of these ends the walk as above.
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
   * Resolves the client key of a request. Forwarding headers are read only when the peer is a
   * trusted proxy.
   *
   * @param request the request
   * @return the key, never null
   */
  public String resolve(HttpServletRequest request) {
    String remote = request.getRemoteAddr();
    // The common case, an IPv4 peer, needs no parse and no allocation when no proxy is trusted.
    boolean plainIpv4 = remote != null && IpAddresses.isIpv4(remote);
    if (trusted.isEmpty()) {
      return plainIpv4 ? remote : resolve(remote, List.of());
    }
    byte[] peer = IpAddresses.parse(remote);
    if (peer == null) {
      return String.valueOf(remote);
    }
    if (!isTrusted(peer)) {
      return plainIpv4 ? remote : key(peer);
    }
    Enumeration<String> values = request.getHeaders(headerName());
    if (values == null || !values.hasMoreElements()) {
      return key(peer);
    }
    return walk(peer, Collections.list(values));
  }

  /**
   * Resolves a client key from a peer address and the forwarding header's values, in order.
   *
   * @param remoteAddress the socket peer address, in any form {@link ClientAddressResolver} lists
   * @param headerValues every value of the configured forwarding header, in the order received
   * @return the key, never null
   * @throws NullPointerException if {@code headerValues} is null
   */
  public String resolve(String remoteAddress, List<String> headerValues) {
    Objects.requireNonNull(headerValues, "headerValues");
    byte[] peer = IpAddresses.parse(remoteAddress);
    if (peer == null) {
      // Unix sockets and odd connectors: key on whatever the container reports. Only the
      // container chooses this text; a header never reaches this path.
      return String.valueOf(remoteAddress);
    }
    if (headerValues.isEmpty() || !isTrusted(peer)) {
      return key(peer);
    }
    return walk(peer, headerValues);
  }

  /** Walks the hops from the right, starting at a trusted peer; always ends on an IP address. */
  private String walk(byte[] peer, List<String> headerValues) {
    List<String> hops = header == ForwardedHeader.FORWARDED
        ? ForwardedNodes.forwardedFor(headerValues)
        : ForwardedNodes.xForwardedFor(headerValues);
    byte[] client = peer;
    for (int i = hops.size() - 1; i >= 0; i--) {
      byte[] hop = IpAddresses.parseNode(hops.get(i));
      if (hop == null) {
        break; // the trusted proxy that wrote this hop is the best we know
      }
      client = hop;
      if (!isTrusted(hop)) {
        break;
      }
    }
    return key(client);
  }

  private String headerName() {
    return header == ForwardedHeader.FORWARDED ? "Forwarded" : "X-Forwarded-For";
  }

  private boolean isTrusted(byte[] address) {
    for (Network n : trusted) {
      if (IpAddresses.inNetwork(address, n.address, n.prefix)) {
        return true;
      }
    }
    return false;
  }

  private String key(byte[] address) {
    if (address.length == 16) {
      return IpAddresses.formatIpv6(IpAddresses.mask(address, ipv6Prefix)) + "/" + ipv6Prefix;
    }
    return IpAddresses.formatIpv4(address);
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
      String literal = slash < 0 ? cidr : cidr.substring(0, slash);
      byte[] address = IpAddresses.parse(literal);
      if (address == null) {
        throw new IllegalArgumentException(
            "trustedProxies entry '" + cidr + "' is not an IP address or CIDR network");
      }
      // An IPv4-mapped network (::ffff:10.0.0.0/104) is held as IPv4, like the addresses it holds.
      int offset = address.length == 4 && literal.indexOf(':') >= 0 ? 96 : 0;
      int max = address.length * 8 + offset;
      int prefix = max;
      if (slash >= 0) {
        String bits = cidr.substring(slash + 1);
        prefix = bits.isEmpty() || bits.length() > 3
            || !bits.chars().allMatch(c -> c >= '0' && c <= '9') ? -1 : Integer.parseInt(bits);
        if (prefix < offset || prefix > max) {
          throw new IllegalArgumentException("trustedProxies entry '" + cidr
              + "' has a prefix length outside [" + offset + ", " + max + "]");
        }
      }
      return new Network(address, prefix - offset);
    }
  }
}
