package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ntmobile.TwoNodes.PEER;
import static org.ntmobile.TwoNodes.PEER_V4;
import static org.ntmobile.TwoNodes.PEER_V6;
import static org.ntmobile.TwoNodes.SELF;
import static org.ntmobile.TwoNodes.SELF_V4;
import static org.ntmobile.TwoNodes.SELF_V6;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

/** The node handle: keys, info, resolver, one node per process, events. */
@ExtendWith(TwoNodes.class)
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class NodeApiTest {
  @Test
  void theLibraryVersionIsZeroPointSomething() {
    assertTrue(NTMNode.libraryVersion().startsWith("0."), NTMNode.libraryVersion());
  }

  @Test
  void keyPairsAreFreshAndThePublicKeyFollowsFromThePrivateKey() {
    KeyPair a = KeyPair.generate();
    KeyPair b = KeyPair.generate();
    assertNotEquals(a.privateKey(), b.privateKey());
    assertEquals(44, a.publicKey().length());
    assertEquals(a.publicKey(), KeyPair.fromPrivateKey(a.privateKey()).publicKey());
    assertFalse(a.toString().contains(a.privateKey()), "toString must not show the private key");
    assertThrows(IllegalArgumentException.class, () -> KeyPair.fromPrivateKey("not base64"));
  }

  @Test
  void infoReportsNameVirtualAddressesAndTheBoundLoopbackEndpoint() throws Exception {
    NTMNode node = TwoNodes.get().node;
    NodeInfo info = node.info();
    assertEquals(SELF, info.name());
    assertEquals(16, info.nodeId().length());
    assertEquals(InetAddress.getByName(SELF_V4), info.virtualIPv4().orElseThrow());
    assertEquals(InetAddress.getByName(SELF_V6), info.virtualIPv6().orElseThrow());
    assertEquals(info.virtualIPv4(), node.virtualIPv4());
    assertTrue(info.endpointIPv4().startsWith("127.0.0.1:"), info.endpointIPv4());
    assertEquals("", info.endpointIPv6(), "IPv6 UDP was not asked for");
    assertTrue(info.mtu() > 0);
    assertTrue(node.isRunning());
    assertEquals(node, NTMNode.current().orElseThrow());
  }

  @Test
  void namesResolveToVirtualAddressesIPv4First() throws Exception {
    InetAddress[] all = NTMResolver.getAllByName(PEER);
    assertArrayEquals(
        new InetAddress[] {InetAddress.getByName(PEER_V4), InetAddress.getByName(PEER_V6)}, all);
    assertEquals(PEER, all[0].getHostName());
    assertEquals(InetAddress.getByName(SELF_V4), NTMResolver.getByName(SELF));
    assertEquals(InetAddress.getByName(PEER_V6), NTMResolver.getByName(PEER_V6));
    assertThrows(UnknownHostException.class, () -> NTMResolver.getAllByName("nobody.test"));
  }

  @Test
  void aSecondNodeInTheSameProcessIsRefused() {
    NTMException e =
        assertThrows(
            NTMException.class,
            () ->
                NTMNode.start(
                    NodeOptions.builder()
                        .name("carol.test")
                        .privateKey(KeyPair.generate().privateKey())
                        .virtualIPv4("100.64.0.3")
                        .build()));
    assertEquals(NTMException.ESTATE, e.code());
    assertTrue(e instanceof NTMException.IllegalState, e.getClass().getName());
    assertTrue(TwoNodes.get().node.isRunning());
  }

  @Test
  void theStartedEventWasDeliveredToTheListenerGivenInTheOptions() throws Exception {
    NodeEvent started =
        TwoNodes.get().events.await(e -> e.type() == NodeEvent.Type.STARTED, Duration.ofSeconds(5));
    assertEquals("", started.peerName());
  }

  @Test
  void statsCountTunnelTraffic() throws Exception {
    NodeStats stats;
    try (java.net.Socket s = new NTMSocket(PEER, org.ntmobile.testpeer.TestPeer.ECHO_PORT)) {
      s.getOutputStream().write(5);
      assertEquals(5, s.getInputStream().read());
      stats = TwoNodes.get().node.stats();
    }
    assertTrue(stats.packetsSent() > 0 && stats.packetsReceived() > 0, stats.toString());
    assertTrue(stats.handshakesCompleted() >= 1, stats.toString());
    assertEquals(0, stats.droppedAuth(), stats.toString());
    // Version 2 counters come through: handshakes we started, the open connection (a gauge).
    assertTrue(stats.handshakesInitiated() >= 1, stats.toString());
    assertTrue(stats.tcpConnections() >= 1, stats.toString());
  }

  @Test
  void tunnelRowsCarryTheRoundTripTimeOnceTheTunnelIsUp() throws Exception {
    try (java.net.Socket s = new NTMSocket(PEER, org.ntmobile.testpeer.TestPeer.ECHO_PORT)) {
      s.getOutputStream().write(6);
      assertEquals(6, s.getInputStream().read());
    }
    TunnelInfo row =
        TwoNodes.get().node.tunnels().stream()
            .filter(t -> t.peerName().equals(PEER))
            .findFirst()
            .orElseThrow();
    assertEquals(TunnelState.UP, row.state());
    assertTrue(row.rtt().isPresent(), row.toString());
    assertTrue(row.rtt().get().compareTo(Duration.ofSeconds(1)) < 0, row.toString());
    assertTrue(row.pathMtu() >= 0, row.toString());
  }

  @Test
  void aNetworkChangeKeepsAnOpenConnectionWorkingAndSendsPathUpdates() throws Exception {
    NTMNode node = TwoNodes.get().node;
    try (java.net.Socket s = new NTMSocket(PEER, org.ntmobile.testpeer.TestPeer.ECHO_PORT)) {
      s.getOutputStream().write(7);
      assertEquals(7, s.getInputStream().read());
      long handshakes = node.stats().handshakesCompleted();
      node.notifyNetworkChange();
      s.getOutputStream().write(8);
      assertEquals(8, s.getInputStream().read());
      // The path update is a new handshake from (here: the same) address; bounded wait for it.
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (node.stats().handshakesCompleted() <= handshakes) {
        assertTrue(System.nanoTime() < deadline, "no path-update handshake completed");
        Thread.sleep(10);
      }
    }
  }
}
