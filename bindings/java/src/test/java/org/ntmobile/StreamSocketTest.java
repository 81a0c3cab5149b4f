package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ntmobile.TwoNodes.PEER;
import static org.ntmobile.TwoNodes.PEER_V4;
import static org.ntmobile.TwoNodes.PEER_V6;
import static org.ntmobile.TwoNodes.SELF_V4;
import static org.ntmobile.TwoNodes.SELF_V6;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntmobile.testpeer.TestData;
import org.ntmobile.testpeer.TestPeer;

/** NTMSocket as a java.net.Socket against the peer node's services. */
@ExtendWith(TwoNodes.class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StreamSocketTest {
  private static final long SIXTEEN_MIB = 16L << 20;

  @ParameterizedTest(name = "over virtual {0}")
  @ValueSource(strings = {PEER_V4, PEER_V6})
  void sixteenMebibytesEchoBackIntactFromThePeersEchoServer(String address) throws Exception {
    try (Socket s = new NTMSocket(InetAddress.getByName(address), TestPeer.ECHO_PORT)) {
      CompletableFuture<TestData.Received> echoed =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return TestData.drain(s.getInputStream());
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      String sent = TestData.send(s.getOutputStream(), 42, SIXTEEN_MIB);
      s.shutdownOutput();
      TestData.Received got = echoed.get(90, TimeUnit.SECONDS);
      assertEquals(SIXTEEN_MIB, got.bytes());
      assertEquals(sent, got.sha());
    }
  }

  @Test
  void connectsByNodeNameAndReportsVirtualAddresses() throws Exception {
    try (Socket s = new NTMSocket(PEER, TestPeer.ECHO_PORT)) {
      assertEquals(InetAddress.getByName(PEER_V4), s.getInetAddress());
      assertEquals(PEER, s.getInetAddress().getHostName());
      assertEquals(TestPeer.ECHO_PORT, s.getPort());
      assertEquals(InetAddress.getByName(SELF_V4), s.getLocalAddress());
      assertTrue(s.getLocalPort() > 0);
      assertTrue(s.isConnected());
    }
    try (Socket s = new NTMSocket(InetAddress.getByName(PEER_V6), TestPeer.ECHO_PORT)) {
      assertEquals(InetAddress.getByName(PEER_V6), s.getInetAddress());
      assertEquals(InetAddress.getByName(SELF_V6), s.getLocalAddress());
    }
    // A resolved address that carries the node's name is used as given (here: IPv6).
    InetAddress named = NTMResolver.getAllByName(PEER)[1];
    try (Socket s = new NTMSocket(named, TestPeer.ECHO_PORT)) {
      assertEquals(InetAddress.getByName(PEER_V6), s.getInetAddress());
      assertEquals(InetAddress.getByName(SELF_V6), s.getLocalAddress());
    }
  }

  @Test
  void aNodeNameResolvedElsewhereToAnAddressNoPeerOwnsIsRetriedThroughTheNode() throws Exception {
    // As if the system's DNS had answered for the name (192.0.2.1 is TEST-NET: no peer owns
    // it, and nothing leaves the virtual stack).
    InetAddress elsewhere = InetAddress.getByAddress(PEER, new byte[] {(byte) 192, 0, 2, 1});
    try (Socket s = new NTMSocket()) {
      s.connect(new InetSocketAddress(elsewhere, TestPeer.ECHO_PORT), 10_000);
      assertEquals(InetAddress.getByName(PEER_V4), s.getInetAddress());
    }
  }

  @Test
  void linesRoundTripThroughBufferedReaderAndPrintWriter() throws Exception {
    try (Socket s = new NTMSocket(PEER, TestPeer.LINE_PORT)) {
      PrintWriter out =
          new PrintWriter(
              new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8), true);
      BufferedReader in =
          new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      for (int i = 0; i < 200; i++) {
        String line = "line " + i + " \u00e9\u00e8 " + "x".repeat(i);
        out.println(line);
        assertEquals("ECHO " + line, in.readLine());
      }
      out.println("BYE");
      assertEquals("BYE", in.readLine());
      assertEquals(null, in.readLine(), "the server closed after BYE");
    }
  }

  @Test
  void aReadLongerThanSoTimeoutThrowsSocketTimeoutExceptionAndTheSocketStaysUsable()
      throws Exception {
    try (Socket s = new NTMSocket(PEER, TestPeer.ECHO_PORT)) {
      s.setSoTimeout(300);
      assertEquals(300, s.getSoTimeout());
      InputStream in = s.getInputStream();
      long start = System.nanoTime();
      assertThrows(SocketTimeoutException.class, in::read);
      long waitedMs = (System.nanoTime() - start) / 1_000_000;
      assertTrue(waitedMs >= 250, "waited only " + waitedMs + " ms");
      assertTrue(waitedMs < 5000, "waited " + waitedMs + " ms");

      s.getOutputStream().write('x');
      assertEquals('x', in.read());
    }
  }

  @Test
  void closeFromAnotherThreadUnblocksABlockedReadWithSocketException() throws Exception {
    Socket s = new NTMSocket(PEER, TestPeer.ECHO_PORT);
    InputStream in = s.getInputStream();
    CompletableFuture<Integer> read =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return in.read();
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    // Nothing arrives (the echo server only answers what we send): the read stays blocked.
    assertThrows(TimeoutException.class, () -> read.get(300, TimeUnit.MILLISECONDS));
    s.close();
    ExecutionException e = assertThrows(ExecutionException.class, () -> read.get(10, TimeUnit.SECONDS));
    assertInstanceOf(SocketException.class, e.getCause().getCause(), e.toString());
    assertTrue(s.isClosed());
    assertThrows(SocketException.class, () -> in.read());
  }

  @Test
  void closeFromAnotherThreadUnblocksABlockedWriteWithSocketException() throws Exception {
    Socket s = new NTMSocket(PEER, TestPeer.ECHO_PORT);
    OutputStream out = s.getOutputStream();
    java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
    CompletableFuture<Void> writer =
        CompletableFuture.runAsync(
            () -> {
              byte[] chunk = new byte[64 * 1024];
              try {
                // We never read the echo, so the peer stops reading and our writes block.
                for (; ; ) {
                  out.write(chunk);
                  written.addAndGet(chunk.length);
                }
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (written.get() < (4 << 20) && !writer.isDone() && System.nanoTime() < deadline) {
      Thread.sleep(5); // bounded poll of a condition
    }
    assertFalse(writer.isDone(), "the writer failed early: " + writer);
    s.close();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> writer.get(10, TimeUnit.SECONDS));
    assertInstanceOf(SocketException.class, e.getCause().getCause(), e.toString());
  }

  @Test
  void shutdownOutputSendsEndOfStreamAndShutdownInputEndsReading() throws Exception {
    try (Socket s = new NTMSocket(PEER, TestPeer.ECHO_PORT)) {
      OutputStream out = s.getOutputStream();
      out.write("ping".getBytes(StandardCharsets.US_ASCII));
      s.shutdownOutput();
      assertTrue(s.isOutputShutdown());
      assertThrows(SocketException.class, () -> out.write(1));
      assertEquals("ping", new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII));
    }
    try (Socket s = new NTMSocket(PEER, TestPeer.ECHO_PORT)) {
      InputStream in = s.getInputStream();
      s.shutdownInput();
      assertTrue(s.isInputShutdown());
      assertEquals(-1, in.read());
      s.getOutputStream().write(1); // the other direction still works
    }
  }

  @Test
  void connectWithATimeoutToANameGivenUnresolved() throws Exception {
    try (Socket s = new NTMSocket()) {
      s.connect(InetSocketAddress.createUnresolved(PEER, TestPeer.ECHO_PORT), 10_000);
      s.getOutputStream().write(7);
      assertEquals(7, s.getInputStream().read());
    }
  }

  @Test
  void aPortWithoutListenerIsConnectException() {
    assertThrows(ConnectException.class, () -> new NTMSocket(PEER, 7999).close());
  }

  @Test
  void anAddressNoPeerOwnsIsNoRouteToHostException() {
    assertThrows(
        NoRouteToHostException.class,
        () -> new NTMSocket(InetAddress.getByName("100.64.0.99"), 7000).close());
  }

  @Test
  void anUnknownNodeNameIsUnknownHostException() {
    assertThrows(UnknownHostException.class, () -> new NTMSocket("nobody.test", 7000).close());
    assertThrows(UnknownHostException.class, () -> NTMResolver.getByName("nobody.test"));
    Socket s = assertDoesNotThrowSocket();
    assertThrows(
        UnknownHostException.class,
        () -> s.connect(InetSocketAddress.createUnresolved("nobody.test", 7000), 1000));
    assertFalse(s.isConnected());
  }

  private static Socket assertDoesNotThrowSocket() {
    try {
      return new NTMSocket();
    } catch (SocketException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void theTunnelShowsTrafficAndTheEventListenerSawItComeUp() throws Exception {
    try (Socket s = new NTMSocket(PEER, TestPeer.ECHO_PORT)) {
      s.getOutputStream().write(1);
      assertEquals(1, s.getInputStream().read());
    }
    TwoNodes.get()
        .events
        .await(
            e -> e.type() == NodeEvent.Type.TUNNEL_UP && e.peerName().equals(PEER),
            Duration.ofSeconds(10));
    TunnelInfo t =
        TwoNodes.get().node.tunnels().stream()
            .filter(x -> x.peerName().equals(PEER))
            .findFirst()
            .orElseThrow();
    assertEquals(TunnelState.UP, t.state());
    assertEquals(PathKind.DIRECT, t.path());
    assertEquals(TwoNodes.get().peerEndpoint, t.endpoint());
    assertTrue(t.bytesSent() > 0 && t.bytesReceived() > 0, t.toString());
  }
}
