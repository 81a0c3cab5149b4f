package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ntmobile.TwoNodes.PEER;
import static org.ntmobile.TwoNodes.PEER_V4;
import static org.ntmobile.TwoNodes.PEER_V6;
import static org.ntmobile.TwoNodes.SELF_V4;

import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntmobile.testpeer.TestPeer;

/** NTMDatagramSocket as a java.net.DatagramSocket against the peer's UDP echo. */
@ExtendWith(TwoNodes.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DatagramSocketTest {
  /**
   * Sends {@code payload} to the peer's echo and returns the echo. UDP may lose a datagram, so a
   * few attempts are made, each bounded by the socket's timeout.
   */
  private static DatagramPacket echo(DatagramSocket socket, InetAddress to, byte[] payload)
      throws Exception {
    socket.setSoTimeout(2000);
    DatagramPacket reply = new DatagramPacket(new byte[65535], 65535);
    for (int attempt = 0; ; attempt++) {
      socket.send(new DatagramPacket(payload, payload.length, to, TestPeer.UDP_ECHO_PORT));
      try {
        socket.receive(reply);
        return reply;
      } catch (SocketTimeoutException e) {
        if (attempt == 4) {
          throw e;
        }
      }
    }
  }

  @ParameterizedTest(name = "over virtual {0}")
  @ValueSource(strings = {PEER_V4, PEER_V6})
  void datagramsEchoBackFromThePeersVirtualAddress(String address) throws Exception {
    InetAddress peer = InetAddress.getByName(address);
    try (DatagramSocket socket = new NTMDatagramSocket()) {
      assertTrue(socket.getLocalPort() > 0);
      for (int size : new int[] {1, 100, 1200, 8000}) {
        byte[] payload = new byte[size];
        Arrays.fill(payload, (byte) size);
        DatagramPacket reply = echo(socket, peer, payload);
        assertEquals(peer, reply.getAddress());
        assertEquals(TestPeer.UDP_ECHO_PORT, reply.getPort());
        assertArrayEquals(
            payload, Arrays.copyOfRange(reply.getData(), reply.getOffset(), reply.getLength()));
      }
    }
  }

  @Test
  void aReusedPacketKeepsItsCapacityAfterAShortDatagram() throws Exception {
    InetAddress peer = InetAddress.getByName(PEER_V4);
    try (DatagramSocket socket = new NTMDatagramSocket()) {
      socket.setSoTimeout(2000);
      DatagramPacket reply = new DatagramPacket(new byte[4096], 4096);
      byte[] shortOne = "hi".getBytes(StandardCharsets.US_ASCII);
      byte[] longOne = new byte[3000];
      Arrays.fill(longOne, (byte) 'L');
      for (int attempt = 0; attempt < 5; attempt++) {
        socket.send(new DatagramPacket(shortOne, shortOne.length, peer, TestPeer.UDP_ECHO_PORT));
        try {
          socket.receive(reply);
          break;
        } catch (SocketTimeoutException e) {
          // retry
        }
      }
      assertEquals(2, reply.getLength());
      for (int attempt = 0; attempt < 5; attempt++) {
        socket.send(new DatagramPacket(longOne, longOne.length, peer, TestPeer.UDP_ECHO_PORT));
        try {
          socket.receive(reply);
          break;
        } catch (SocketTimeoutException e) {
          // retry
        }
      }
      assertEquals(3000, reply.getLength(), "as with the JDK's own DatagramSocket");
    }
  }

  @Test
  void aConnectedSocketSendsWithoutAnAddressAndReportsItsPeer() throws Exception {
    try (DatagramSocket socket = new NTMDatagramSocket(0, InetAddress.getByName(SELF_V4))) {
      assertEquals(InetAddress.getByName(SELF_V4), socket.getLocalAddress());
      InetAddress peer = NTMResolver.getByName(PEER);
      socket.connect(new InetSocketAddress(peer, TestPeer.UDP_ECHO_PORT));
      assertTrue(socket.isConnected());
      assertEquals(peer, socket.getInetAddress());
      socket.setSoTimeout(2000);
      byte[] payload = "connected".getBytes(StandardCharsets.US_ASCII);
      DatagramPacket reply = new DatagramPacket(new byte[100], 100);
      for (int attempt = 0; ; attempt++) {
        socket.send(new DatagramPacket(payload, payload.length));
        try {
          socket.receive(reply);
          break;
        } catch (SocketTimeoutException e) {
          if (attempt == 4) {
            throw e;
          }
        }
      }
      assertEquals("connected", new String(reply.getData(), 0, reply.getLength(), StandardCharsets.US_ASCII));
      socket.disconnect();
      assertTrue(!socket.isConnected());
    }
  }

  @Test
  void receiveThrowsSocketTimeoutExceptionAfterSoTimeout() throws Exception {
    try (DatagramSocket socket = new NTMDatagramSocket()) {
      socket.setSoTimeout(200);
      long start = System.nanoTime();
      assertThrows(
          SocketTimeoutException.class, () -> socket.receive(new DatagramPacket(new byte[10], 10)));
      long waitedMs = (System.nanoTime() - start) / 1_000_000;
      assertTrue(waitedMs >= 150 && waitedMs < 5000, "waited " + waitedMs + " ms");
    }
  }

  @Test
  void closeFromAnotherThreadUnblocksABlockedReceive() throws Exception {
    DatagramSocket socket = new NTMDatagramSocket();
    CompletableFuture<Void> receive =
        CompletableFuture.runAsync(
            () -> {
              try {
                socket.receive(new DatagramPacket(new byte[10], 10));
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    assertThrows(TimeoutException.class, () -> receive.get(300, TimeUnit.MILLISECONDS));
    socket.close();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> receive.get(10, TimeUnit.SECONDS));
    assertInstanceOf(SocketException.class, e.getCause().getCause(), e.toString());
  }

  @Test
  void multicastOptionsAreNotSupported() throws Exception {
    try (DatagramSocket socket = new NTMDatagramSocket()) {
      assertThrows(
          UnsupportedOperationException.class,
          () -> socket.setOption(java.net.StandardSocketOptions.IP_MULTICAST_TTL, 4));
    }
  }
}
