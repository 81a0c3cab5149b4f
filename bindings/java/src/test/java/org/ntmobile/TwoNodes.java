package org.ntmobile;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.ntmobile.testpeer.TestPeer;

/**
 * The two nodes every test uses: this JVM's node ({@link #SELF}) and the peer node ({@link #PEER})
 * in a second JVM. Real UDP endpoints are on 127.0.0.1 only.
 *
 * <p>Started once per test run (one node per process): the keys are generated here, the peer
 * starts with its key and our public key but no endpoint for us, answers READY with its bound
 * UDP endpoint, and our node starts listing that endpoint. The peer is stopped (and killed if it
 * does not exit) when the run ends: JUnit closes the root-store resource after the last test
 * class, like a run-wide {@code @AfterAll}.
 */
final class TwoNodes implements BeforeAllCallback {
  static final String SELF = "alice.test";
  static final String SELF_V4 = "100.64.0.1";
  static final String SELF_V6 = "fd00:6e74:6d::1";
  static final String PEER = "bob.test";
  static final String PEER_V4 = "100.64.0.2";
  static final String PEER_V6 = "fd00:6e74:6d::2";

  private static volatile Fixture fixture;

  /** The running fixture (the extension has started it before any test of a using class). */
  static Fixture get() {
    if (fixture == null) {
      throw new IllegalStateException("annotate the test class with @ExtendWith(TwoNodes.class)");
    }
    return fixture;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    fixture =
        context
            .getRoot()
            .getStore(ExtensionContext.Namespace.GLOBAL)
            .getOrComputeIfAbsent(
                TwoNodes.class.getName(),
                key ->
                    launch(
                        Path.of(System.getProperty("ntm.test.peer.log", "target/test-peer.log"))),
                Fixture.class);
  }

  /** Starts the peer process (its stderr appended to {@code log}) and then this JVM's node. */
  static Fixture launch(Path log) {
    PeerProcess peer = null;
    try {
      KeyPair self = KeyPair.generate();
      KeyPair other = KeyPair.generate();
      peer =
          PeerProcess.start(
              TestPeer.class.getName(),
              List.of(
                  "--name", PEER,
                  "--key", other.privateKey(),
                  "--vip4", PEER_V4,
                  "--vip6", PEER_V6,
                  "--listen", "127.0.0.1:0",
                  "--peer", SELF + "," + self.publicKey() + ",," + SELF_V4 + "," + SELF_V6),
              log);
      String ready = peer.await("READY", Duration.ofSeconds(60));
      String endpoint = PeerProcess.field(ready, "endpoint_v4");
      int plainSink = Integer.parseInt(PeerProcess.field(ready, "plain_sink"));
      EventLog events = new EventLog();
      NTMNode node =
          NTMNode.start(
              NodeOptions.builder()
                  .name(SELF)
                  .privateKey(self.privateKey())
                  .virtualIPv4(SELF_V4)
                  .virtualIPv6(SELF_V6)
                  .listen("127.0.0.1:0")
                  .staticPeer(
                      StaticPeer.builder(PEER, other.publicKey())
                          .endpoint(endpoint)
                          .virtualIPv4(PEER_V4)
                          .virtualIPv6(PEER_V6)
                          .build())
                  .eventListener(events)
                  .build());
      return new Fixture(peer, node, events, endpoint, plainSink);
    } catch (Exception e) {
      if (peer != null) {
        peer.close();
      }
      throw new IllegalStateException("cannot start the two test nodes: " + e, e);
    }
  }

  /** Both nodes; closing stops ours and the peer process. */
  static final class Fixture implements AutoCloseable {
    final PeerProcess peer;
    final NTMNode node;
    final EventLog events;
    final String peerEndpoint;
    final int plainSinkPort;

    Fixture(PeerProcess peer, NTMNode node, EventLog events, String peerEndpoint, int plainSink) {
      this.peer = peer;
      this.node = node;
      this.events = events;
      this.peerEndpoint = peerEndpoint;
      this.plainSinkPort = plainSink;
    }

    @Override
    public void close() {
      try {
        node.close();
      } finally {
        peer.close();
      }
    }
  }
}
