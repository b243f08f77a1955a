package dev.sluice.servlet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.sluice.RateLimitStore;
import dev.sluice.RateLimiter;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

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
    assertThatThrownBy(() -> ClientAddressResolver.builder().trustedProxies("::ffff:10.0.0.0/95"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'::ffff:10.0.0.0/95'").hasMessageContaining("[96, 128]");
    assertThatThrownBy(() -> ClientAddressResolver.builder().trustedProxies("[::1"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'[::1'");
    assertThatThrownBy(() -> ClientAddressResolver.builder().trustedProxies("10.0.0.0/+8"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'10.0.0.0/+8'");
    assertThatThrownBy(() -> ClientAddressResolver.builder().ipv6PrefixLength(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("ipv6PrefixLength");
  }
  // ---- issue 11: every address form a container or proxy produces ----

  @ParameterizedTest(name = "peer {0} -> {1}")
  @CsvSource(delimiter = '|', value = {
      "192.0.2.1                                     | 192.0.2.1",
      "' 192.0.2.1 '                                 | 192.0.2.1",
      // Jetty 12 brackets IPv6 and writes it in full.
      "[fd00:1:2:3:0:0:0:10]                         | fd00:1:2:3::/64",
      "[0:0:0:0:0:0:0:1]                             | ::/64",
      "[fe80:0:0:0:0:0:0:1%lo]                       | fe80::/64",
      // Tomcat writes IPv6 in full without brackets, zone id included.
      "0:0:0:0:0:0:0:1                               | ::/64",
      "fe80:0:0:0:0:0:0:1%lo                         | fe80::/64",
      "fd00:1:2:3:0:0:0:10                           | fd00:1:2:3::/64",
      // Compressed, bracketed, upper case, zero-padded.
      "::1                                           | ::/64",
      "[::1]                                         | ::/64",
      "::                                            | ::/64",
      "2001:DB8:1:2:AAAA::1                          | 2001:db8:1:2::/64",
      "2001:0db8:0001:0002:0000:0000:0000:0001       | 2001:db8:1:2::/64",
      "1:2:3:4:5:6:1.2.3.4                           | 1:2:3:4::/64",
      "0000:0000:0000:0000:0000:0000:255.255.255.255 | ::/64",
      // Zone ids in every spelling are dropped.
      "fe80::1%lo                                    | fe80::/64",
      "fe80::1%2                                     | fe80::/64",
      "[fe80::1%25eth0]                              | fe80::/64",
      "FE80::A:B:C:D%enp0s31f6                       | fe80::/64",
      // IPv4-mapped addresses are the IPv4 client.
      "::ffff:192.0.2.1                              | 192.0.2.1",
      "[::ffff:192.0.2.1]                            | 192.0.2.1",
      "::FFFF:C000:0201                              | 192.0.2.1",
      "0:0:0:0:0:ffff:c000:201                       | 192.0.2.1",
  })
  void resolve_peerInEveryContainerForm_keysTheSameWay(String peer, String key) {
    assertThat(socketOnly.resolve(peer, List.of())).isEqualTo(key);
  }

  @ParameterizedTest(name = "peer {0} is kept as it is")
  @ValueSource(strings = {
      "[::1", "::1]", "1.2.3", "1.2.3.4.5", "01.2.3.4", "[192.0.2.1]", "192.0.2.1%eth0",
      "fe80::1%", "fe80::1%e/th", "fe80::1%lo%lo", ":::1", "1::2::3", ":1::", "::1:",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::1", "g::1",
      "1:2:3:4:5:6:7:1.2.3.4", "::ffff:1.2.3.04", "[::1]:80", "192.0.2.1:80", "host.example",
      "/tmp/app.sock", "", "[]", "[::1]]", "::1 ::2", "\u0661.\u0662.\u0663.\u0664",
      // 46 characters once the brackets are gone: longer than any IPv6 literal.
      "[0000:0000:0000:0000:0000:0000:255.255.255.2555]",
  })
  void resolve_peerThatIsNoAddress_isKeyedAsReported(String peer) {
    assertThat(socketOnly.resolve(peer, List.of())).isEqualTo(peer);
    assertThat(behindProxies.resolve(peer, List.of("203.0.113.9"))).isEqualTo(peer);
  }

  @Test
  void resolve_nullPeer_isKeyedAsNull() {
    assertThat(socketOnly.resolve(null, List.of())).isEqualTo("null");
  }

  @ParameterizedTest(name = "trusted ::1 as peer {0}")
  @ValueSource(strings = {"::1", "[::1]", "0:0:0:0:0:0:0:1", "[0:0:0:0:0:0:0:1]", " ::1 "})
  void resolve_ipv6LoopbackProxyInAnyForm_isTrusted(String peer) {
    ClientAddressResolver loopback = ClientAddressResolver.builder().trustedProxies("::1").build();
    assertThat(loopback.resolve(peer, List.of("2001:db8:1:2::77"))).isEqualTo("2001:db8:1:2::/64");
    ClientAddressResolver bracketed =
        ClientAddressResolver.builder().trustedProxies("[0:0:0:0:0:0:0:1]").build();
    assertThat(bracketed.resolve(peer, List.of("198.51.100.7"))).isEqualTo("198.51.100.7");
  }

  @Test
  void resolve_proxiesWithZonesAndMappedForms_areTrusted() {
    ClientAddressResolver linkLocal =
        ClientAddressResolver.builder().trustedProxies("fe80::/10").build();
    assertThat(linkLocal.resolve("[fe80::1%25eth0]", List.of("198.51.100.7")))
        .isEqualTo("198.51.100.7");
    assertThat(linkLocal.resolve("fe80:0:0:0:0:0:0:1%lo", List.of("198.51.100.7")))
        .isEqualTo("198.51.100.7");
    // A mapped peer is its IPv4 proxy, and a mapped network holds IPv4 peers.
    ClientAddressResolver v4 = ClientAddressResolver.builder().trustedProxies("10.0.0.1").build();
    assertThat(v4.resolve("::ffff:10.0.0.1", List.of("198.51.100.7"))).isEqualTo("198.51.100.7");
    ClientAddressResolver mapped =
        ClientAddressResolver.builder().trustedProxies("::ffff:10.0.0.0/104").build();
    assertThat(mapped.resolve("10.9.8.7", List.of("198.51.100.7"))).isEqualTo("198.51.100.7");
    assertThat(mapped.resolve("11.0.0.1", List.of("198.51.100.7"))).isEqualTo("11.0.0.1");
  }

  @ParameterizedTest(name = "X-Forwarded-For hop {0} -> {1}")
  @CsvSource(delimiter = '|', value = {
      "2001:db8:1:2::77                | 2001:db8:1:2::/64",
      "[2001:db8:1:2::77]              | 2001:db8:1:2::/64",
      "[2001:db8:1:2::77]:443          | 2001:db8:1:2::/64",
      "'\"[2001:db8:1:2::77]:443\"'    | 2001:db8:1:2::/64",
      "2001:DB8:1:2:0:0:0:77           | 2001:db8:1:2::/64",
      "[2001:db8:1:2::77%eth0]:443     | 2001:db8:1:2::/64",
      "fe80::1%eth0                    | fe80::/64",
      "::ffff:198.51.100.7             | 198.51.100.7",
      "[::ffff:198.51.100.7]:8080      | 198.51.100.7",
      "198.51.100.7:8080               | 198.51.100.7",
      "198.51.100.7:_p1                | 198.51.100.7",
      // A bare IPv6 hop never carries a port: this is the address 2001:db8::1:443.
      "2001:db8::1:443                 | 2001:db8::/64",
  })
  void resolve_xForwardedForHopInEveryForm_isTheClient(String hop, String key) {
    assertThat(behindProxies.resolve("10.0.0.1", List.of("198.51.100.200, " + hop)))
        .isEqualTo(key);
  }

  @ParameterizedTest(name = "X-Forwarded-For hop <{0}> stops at the proxy")
  @ValueSource(strings = {
      "_hidden", "unknown", "", " ", "[2001:db8::1", "2001:db8::1]", "[2001:db8::1]:",
      "[2001:db8::1]:99999", "[2001:db8::1]:123456", "[2001:db8::1]x", "[2001:db8::1]:_",
      "198.51.100.7:", "198.51.100.7:80:80", "198.51.100.7:http", "\"198.51.100.7",
      "198.51.100.7\"", "\"\"", "[198.51.100.7]", "[198.51.100.7]:80", "1.2.3", "::1%",
      "\"[2001:db8::1]\\:443\"", "2001:db8::1 2001:db8::2", "evil.example:443",
  })
  void resolve_xForwardedForGarbageHop_keysOnTheProxyThatReportedIt(String hop) {
    assertThat(behindProxies.resolve("10.0.0.1", List.of("198.51.100.200, " + hop)))
        .isEqualTo("10.0.0.1");
    assertThat(behindProxies.resolve("[fd00::5]", List.of(hop))).isEqualTo("fd00::/64");
  }

  @ParameterizedTest(name = "Forwarded {0} -> {1}")
  @CsvSource(delimiter = '|', value = {
      "'for=\"[2001:db8:1:2::77]:443\"'                | 2001:db8:1:2::/64",
      "'for=\"[2001:db8:1:2::77]\"'                    | 2001:db8:1:2::/64",
      "'for=\"[2001:db8:1:2::77]:_p1\";proto=https'    | 2001:db8:1:2::/64",
      "'FOR=\"[2001:DB8:1:2:0:0:0:77]\"'               | 2001:db8:1:2::/64",
      "for=192.0.2.1:8080                                | 192.0.2.1",
      "'for=\"192.0.2.1:8080\"'                        | 192.0.2.1",
      "for=198.51.100.7;proto=https;by=10.0.0.1          | 198.51.100.7",
      "'proto=https; for = 198.51.100.7 ;host=a'         | 198.51.100.7",
      "'for=\"::ffff:198.51.100.7\"'                   | 198.51.100.7",
      // Commas and semicolons inside a quoted value do not split the element.
      "'for=203.0.113.9;ext=\"a, for=198.51.100.1\"'   | 203.0.113.9",
      "'for=203.0.113.9;ext=\"a; for=198.51.100.1\"'   | 203.0.113.9",
      // Obfuscated, unknown, missing or repeated for= stop at the proxy.
      "for=_hidden                                       | 10.0.0.1",
      "for=unknown                                       | 10.0.0.1",
      "'for=\"_hidden:_p1\"'                           | 10.0.0.1",
      "by=10.0.0.1;proto=https                           | 10.0.0.1",
      "for=203.0.113.9;for=198.51.100.7                  | 10.0.0.1",
      "'for=\"[2001:db8::1]:443'                        | 10.0.0.1",
      "'for=203.0.113.9, '                               | 10.0.0.1",
      "for=                                              | 10.0.0.1",
  })
  void resolve_forwardedElementInEveryForm_readsItsForNode(String value, String key) {
    ClientAddressResolver rfc = ClientAddressResolver.builder()
        .trustedProxies("10.0.0.0/8")
        .forwardedHeader(ClientAddressResolver.ForwardedHeader.FORWARDED).build();
    assertThat(rfc.resolve("10.0.0.1", List.of(value))).isEqualTo(key);
  }

  @Test
  void resolve_hostileHeader_neverKeysLooserThanTheTrustedPeer() {
    String[] hostile = {
        "x".repeat(100_000), "[" + "1:".repeat(5_000) + "]", "\"".repeat(1_001), ",".repeat(1_000),
        "for=" + "\\".repeat(1_000), "::1\r\nX-Evil: 1", "\u0000", "192.0.2.1\u0000",
        "[::1]%00", "1.2.3.4/8", "2001:db8::/32", "*", "10.0.0.1, ",
    };
    ClientAddressResolver rfc = ClientAddressResolver.builder()
        .trustedProxies("10.0.0.0/8")
        .forwardedHeader(ClientAddressResolver.ForwardedHeader.FORWARDED).build();
    for (String value : hostile) {
      // From a trusted proxy: the key is the proxy itself, never raw header text.
      assertThat(behindProxies.resolve("10.0.0.1", List.of(value))).as(value).isEqualTo("10.0.0.1");
      assertThat(rfc.resolve("10.0.0.1", List.of(value))).as(value).isEqualTo("10.0.0.1");
      assertThat(rfc.resolve("10.0.0.1", List.of("for=" + value))).as(value).isEqualTo("10.0.0.1");
      // From anyone else: the header is not read at all.
      assertThat(behindProxies.resolve("203.0.113.5", List.of(value))).isEqualTo("203.0.113.5");
      assertThat(socketOnly.resolve("[2001:db8::9]", List.of(value))).isEqualTo("2001:db8::/64");
    }
  }

  // ---- the memory bound under spoofed IPv6 addresses ----

  @Test
  void spoofedIpv6From100kNetworks_limiterHoldsAtMostMaxKeys() throws Exception {
    ClientAddressResolver proxy =
        ClientAddressResolver.builder().trustedProxies("10.0.0.1").build();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(5, Duration.ofMinutes(1)).maxKeys(10_000).clock(() -> 0L).build();
    Set<String> keys = new HashSet<>();
    int allowed = 0;
    for (int i = 0; i < 100_000; i++) {
      String spoofed = "2001:db8:" + Integer.toHexString(i >>> 16) + ":"
          + Integer.toHexString(i & 0xFFFF) + "::" + Integer.toHexString((i & 0xFFFF) | 1);
      String key = proxy.resolve("10.0.0.1", List.of(spoofed));
      keys.add(key);
      if (limiter.tryAcquirePermit(key)) {
        allowed++;
      }
    }
    // Sizes, not the sets, so a failure does not print 100k keys.
    assertThat(keys.size()).isEqualTo(100_000);
    assertThat(keys.contains("2001:db8:1:869f::/64")).isTrue();
    assertThat(allowed).isEqualTo(100_000);
    assertThat(keysHeld(limiter)).isBetween(1L, 10_000L);
  }

  @Test
  void spoofedIpv6Within64_isOneKeyRefusedAfterTheLimit() throws Exception {
    ClientAddressResolver proxy =
        ClientAddressResolver.builder().trustedProxies("10.0.0.1").build();
    RateLimiter<String> limiter = RateLimiter.builder()
        .limit(5, Duration.ofMinutes(1)).maxKeys(10_000).clock(() -> 0L).build();
    String[] forms = {"2001:db8:1:2:%x:%x:%x:%x", "[2001:db8:1:2:%x:%x:%x:%x]:443",
        "2001:DB8:0001:0002:%X:%X:%X:%X", "\"[2001:db8:1:2:%x:%x:%x:%x%%eth0]\""};
    Set<String> keys = new HashSet<>();
    int allowed = 0;
    for (int i = 0; i < 100_000; i++) {
      String spoofed = String.format(forms[i % forms.length],
          i >>> 16, i & 0xFFFF, (i * 31) & 0xFFFF, (i * 7919) & 0xFFFF);
      String key = proxy.resolve("10.0.0.1", List.of(spoofed));
      keys.add(key);
      if (limiter.tryAcquirePermit(key)) {
        allowed++;
      }
    }
    assertThat(keys.size()).isEqualTo(1);
    assertThat(keys.iterator().next()).isEqualTo("2001:db8:1:2::/64");
    assertThat(allowed).isEqualTo(5);
    assertThat(keysHeld(limiter)).isEqualTo(1L);
  }

  /**
   * Keys the limiter's in-memory store holds. Core exposes no key count yet, so this reads the
   * store (a public class, on the class path here) through the limiter's field.
   */
  private static long keysHeld(RateLimiter<?> limiter) throws ReflectiveOperationException {
    for (Field field : limiter.getClass().getDeclaredFields()) {
      if (RateLimitStore.class.isAssignableFrom(field.getType())) {
        field.setAccessible(true);
        Object store = field.get(limiter);
        return (Long) store.getClass().getMethod("size").invoke(store);
      }
    }
    throw new AssertionError("no store field on " + limiter.getClass().getName());
  }
}
