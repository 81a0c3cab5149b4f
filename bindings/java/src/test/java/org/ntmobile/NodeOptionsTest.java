package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The option builders, which check a mode's required options before anything native runs (this
 * class needs no libntm; ci/deps.d/java.sh runs it to fetch what Surefire needs).
 */
class NodeOptionsTest {
  @Test
  void aStaticPeerNodeNeedsNameKeyAndAVirtualAddress() {
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeOptions.builder().name("x.test").privateKey("k").build());
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeOptions.builder().virtualIPv4("100.64.0.9").privateKey("k").build());
    NodeOptions ok =
        NodeOptions.builder().name("x.test").privateKey("k").virtualIPv6("fd00::9").build();
    assertFalse(ok.usesControlPlane());
    assertEquals("x.test", ok.name());
  }

  @Test
  void controlPlaneOptionsNeedCertificateAndAccountAndLeaveNameAndAddressesToTheServers() {
    NodeOptions ok =
        NodeOptions.builder()
            .server("127.0.0.1:7800")
            .serverCertificate("/etc/ntm/as.pem")
            .account("alice")
            .password("secret-token")
            .stateDirectory(Path.of("/var/lib/ntm"))
            .directTimeout(Duration.ofMillis(500))
            .build();
    assertTrue(ok.usesControlPlane());
    assertFalse(ok.toString().contains("secret-token"), "toString must not show the password");
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeOptions.builder().server("127.0.0.1:7800").account("alice").build());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            NodeOptions.builder()
                .server("127.0.0.1:7800")
                .serverCertificate("pem")
                .account("alice")
                .virtualIPv4("100.64.0.9")
                .build());
  }

  @Test
  void aStaticPeerNeedsAVirtualAddressAndTakesAnEmptyEndpointAsNone() {
    assertThrows(IllegalArgumentException.class, () -> StaticPeer.builder("p", "k").build());
    StaticPeer p = StaticPeer.builder("p", "k").endpoint("").virtualIPv4("100.64.0.7").build();
    assertEquals(null, p.endpoint());
  }

  @Test
  void listenDisablesTheFamiliesItDoesNotName() {
    NodeOptions o =
        NodeOptions.builder()
            .name("x.test")
            .privateKey("k")
            .virtualIPv4("100.64.0.9")
            .listen("127.0.0.1:0")
            .build();
    assertEquals("127.0.0.1:0", o.listenIPv4);
    assertEquals("", o.listenIPv6);
  }

  @Test
  void toStringNeverShowsThePrivateKeyOrThePassword() {
    String key = "kEy0123456789abcdefghijklmnopqrstuvwxyzABCD=";
    NodeOptions staticPeer =
        NodeOptions.builder().name("x.test").privateKey(key).virtualIPv4("100.64.0.9").build();
    assertFalse(staticPeer.toString().contains(key), staticPeer.toString());
    assertTrue(staticPeer.toString().contains("x.test"));
    NodeOptions controlPlane =
        NodeOptions.builder()
            .server("127.0.0.1:7800")
            .serverCertificate("/etc/ntm/as.pem")
            .account("alice")
            .password("correct horse battery staple")
            .privateKey(key)
            .build();
    assertFalse(controlPlane.toString().contains("correct horse"), controlPlane.toString());
    assertFalse(controlPlane.toString().contains(key), controlPlane.toString());
    assertTrue(controlPlane.toString().contains("alice"));
  }

  @Test
  void limitsAndTimersAreCheckedAndKept() {
    assertThrows(IllegalArgumentException.class, () -> NodeOptions.builder().memoryLimit(-1));
    assertThrows(IllegalArgumentException.class, () -> NodeOptions.builder().maxSockets(-5));
    NodeOptions o =
        NodeOptions.builder()
            .name("x.test")
            .privateKey("k")
            .virtualIPv4("100.64.0.9")
            .memoryLimit(64L << 20)
            .maxSockets(100)
            .maxConnectionsPerPeer(10)
            .maxSocketBuffer(1 << 20)
            .keepaliveInterval(Duration.ofSeconds(40))
            .startTimeout(Duration.ofSeconds(3))
            .controlSocket(Path.of("/tmp/ntm.sock"))
            .build();
    assertEquals(64L << 20, o.memoryLimit);
    assertEquals(100, o.maxSockets);
    assertEquals(Duration.ofSeconds(40), o.keepaliveInterval);
  }
}
