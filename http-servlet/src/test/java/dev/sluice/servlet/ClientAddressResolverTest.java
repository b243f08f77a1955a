package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ClientAddressResolverTest {
  private final ClientAddressResolver socketOnly = ClientAddressResolver.socketOnly();
  private final ClientAddressResolver behindProxies = ClientAddressResolver.builder()
      .trustedProxies("10.0.0.0/8", "192.0.2.10", "fd00::/8").build();

  @Test
  void resolve_untrustedPeer_ignoresForwardedFor() {
    assertThat(socketOnly.resolve("203.0.113.5", List.of("198.51.100.1"))).isEqualTo("203.0.113.5");
    assertThat(behindProxies.resolve("203.0.113.5", List.of("198.51.100.1")))
        .isEqualTo("203.0.113.5");
  }

  @Test
  void resolve_trustedPeer_walksFromTheRightToFirstUntrustedHop() {
    assertThat(behindProxies.resolve("10.1.1.1", List.of("198.51.100.1, 203.0.113.9, 10.2.2.2")))
        .isEqualTo("203.0.113.9");
    // Several header lines count as one list in order.
    assertThat(behindProxies.resolve("10.1.1.1", List.of("198.51.100.1", "192.0.2.10")))
        .isEqualTo("198.51.100.1");
  }

  @Test
  void resolve_clientSpoofingLeftmostHop_cannotChooseItsKey() {
    // The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real address.
    assertThat(behindProxies.resolve("10.0.0.1", List.of("1.2.3.4, 203.0.113.77")))
        .isEqualTo("203.0.113.77");
  }

  @Test
  void resolve_allHopsTrusted_usesLeftmost() {
    assertThat(behindProxies.resolve("10.0.0.1", List.of("10.9.9.9, 10.0.0.2")))
        .isEqualTo("10.9.9.9");
  }

  @Test
  void resolve_garbageHop_stopsAtTheProxyThatReportedIt() {
    assertThat(behindProxies.resolve("10.0.0.1", List.of("203.0.113.1, evil.example, 10.0.0.7")))
        .isEqualTo("10.0.0.7");
    assertThat(behindProxies.resolve("10.0.0.1", List.of("unknown"))).isEqualTo("10.0.0.1");
    assertThat(behindProxies.resolve("10.0.0.1", List.of("999.1.1.1"))).isEqualTo("10.0.0.1");
    // Leading zeros are ambiguous (octal to some parsers): not a usable literal.
    assertThat(behindProxies.resolve("10.0.0.1", List.of("010.1.1.1"))).isEqualTo("10.0.0.1");
  }

  @Test
  void resolve_ipv6_groupsBy64() {
    assertThat(socketOnly.resolve("2001:db8:1:2:aaaa:bbbb:cccc:dddd", List.of()))
        .isEqualTo("2001:db8:1:2::/64");
    assertThat(socketOnly.resolve("2001:db8:1:2::1", List.of()))
        .isEqualTo(socketOnly.resolve("2001:db8:1:2:ffff::9", List.of()));
    assertThat(socketOnly.resolve("::ffff:192.0.2.33", List.of())).isEqualTo("192.0.2.33");
    assertThat(behindProxies.resolve("fd00::1", List.of("2001:db8:0:0:1::5")))
        .isEqualTo("2001:db8::/64");
    ClientAddressResolver by56 = ClientAddressResolver.builder().ipv6PrefixLength(56).build();
    assertThat(by56.resolve("2001:db8:1:2ff::1", List.of())).isEqualTo("2001:db8:1:200::/56");
  }

  @Test
  void resolve_forwardedHeader_readsForNodesWithPortsAndBrackets() {
    ClientAddressResolver rfc = ClientAddressResolver.builder()
        .trustedProxies("10.0.0.0/8")
        .forwardedHeader(ClientAddressResolver.ForwardedHeader.FORWARDED).build();
    assertThat(rfc.resolve("10.0.0.1",
        List.of("for=198.51.100.17;proto=https, For=\"[2001:db8:cafe::17]:4711\"")))
        .isEqualTo("2001:db8:cafe::/64");
    assertThat(rfc.resolve("10.0.0.1", List.of("for=192.0.2.43:8080;by=10.0.0.1")))
        .isEqualTo("192.0.2.43");
    assertThat(rfc.resolve("10.0.0.1", List.of("for=_hidden"))).isEqualTo("10.0.0.1");
  }

  @Test
  void builder_rejectsBadProxiesNamingTheEntry() {
    assertThatThrownBy(() -> ClientAddressResolver.builder().trustedProxies("proxy.local"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'proxy.local'");
    assertThatThrownBy(() -> ClientAddressResolver.builder().trustedProxies("10.0.0.0/33"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'10.0.0.0/33'");
    assertThatThrownBy(() -> ClientAddressResolver.builder().ipv6PrefixLength(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ipv6PrefixLength");
  }
}
