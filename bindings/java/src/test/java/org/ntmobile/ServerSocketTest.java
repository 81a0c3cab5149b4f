package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ntmobile.TwoNodes.PEER_V4;
import static org.ntmobile.TwoNodes.PEER_V6;
import static org.ntmobile.TwoNodes.SELF;
import static org.ntmobile.TwoNodes.SELF_V4;
import static org.ntmobile.TwoNodes.SELF_V6;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ServerSocketFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** NTMServerSocket as a java.net.ServerSocket, with the peer node as the client. */
@ExtendWith(TwoNodes.class)
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ServerSocketTest {
  private static final long SIXTEEN_MIB = 16L << 20;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stopPool() {
    pool.shutdownNow();
  }

  /** Echoes every connection it accepts until closed. */
  private void echoServer(ServerSocket server) {
    pool.execute(
        () -> {
          while (!server.isClosed()) {
            try {
              Socket s = server.accept();
              pool.execute(
                  () -> {
                    try (s) {
                      InputStream in = s.getInputStream();
                      OutputStream out = s.getOutputStream();
                      byte[] buf = new byte[64 * 1024];
                      for (int n; (n = in.read(buf)) > 0; ) {
                        out.write(buf, 0, n);
                      }
                      s.shutdownOutput();
                    } catch (IOException e) {
                      // the test that needs this connection reports the failure
                    }
                  });
            } catch (IOException e) {
              return;
            }
          }
        });
  }

  @ParameterizedTest(name = "over virtual {0}")
  @ValueSource(strings = {SELF_V4, SELF_V6})
  void sixteenMebibytesFromThePeerEchoBackIntactThroughOurServerSocket(String address)
      throws Exception {
    try (ServerSocket server = new NTMServerSocket(8000)) {
      echoServer(server);
      PeerProcess peer = TwoNodes.get().peer;
      peer.send("ECHO_CLIENT " + address + " 8000 " + SIXTEEN_MIB + " 7");
      String result = peer.await("RESULT echo_client", Duration.ofSeconds(120));
      assertEquals(String.valueOf(SIXTEEN_MIB), PeerProcess.field(result, "bytes"), result);
      assertEquals(PeerProcess.field(result, "sent"), PeerProcess.field(result, "received"));
    }
  }

  @Test
  void fiftyClientsAreAcceptedAndServedConcurrently() throws Exception {
    final int clients = 50;
    CountDownLatch allConnected = new CountDownLatch(clients);
    Set<InetAddress> peers = ConcurrentHashMap.newKeySet();
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    try (NTMServerSocket server = new NTMServerSocket(8001, 64)) {
      pool.execute(
          () -> {
            for (int i = 0; i < clients; i++) {
              NTMSocket s;
              try {
                s = server.accept();
              } catch (IOException e) {
                failures.add(e);
                return;
              }
              peers.add(s.getInetAddress());
              pool.execute(
                  () -> {
                    try (s) {
                      s.setSoTimeout(60_000);
                      BufferedReader in =
                          new BufferedReader(
                              new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                      PrintWriter out =
                          new PrintWriter(
                              new OutputStreamWriter(s.getOutputStream(), StandardCharsets.UTF_8),
                              true);
                      String hello = in.readLine();
                      allConnected.countDown();
                      // Answer only once all 50 are open at the same time.
                      if (!allConnected.await(60, TimeUnit.SECONDS)) {
                        throw new AssertionError("not all clients connected");
                      }
                      out.println(hello.replace("hello", "welcome"));
                    } catch (Throwable e) {
                      failures.add(e);
                    }
                  });
            }
          });
      PeerProcess peer = TwoNodes.get().peer;
      peer.send("CONNECT_MANY " + TwoNodes.SELF + " 8001 " + clients);
      String result = peer.await("RESULT connect_many", Duration.ofSeconds(150));
      assertEquals(List.of(), failures);
      assertEquals(String.valueOf(clients), PeerProcess.field(result, "ok"), result);
      assertEquals(0, allConnected.getCount());
      assertEquals(Set.of(InetAddress.getByName(PEER_V4)), peers);
    }
  }

  @Test
  void acceptedSocketsReportVirtualAddressesOfBothEnds() throws Exception {
    try (NTMServerSocket server = new NTMServerSocket(8002)) {
      assertEquals(8002, server.getLocalPort());
      Future<NTMSocket> accepted = pool.submit(server::accept);
      PeerProcess peer = TwoNodes.get().peer;
      peer.send("ECHO_CLIENT " + SELF_V6 + " 8002 0 1");
      try (NTMSocket s = accepted.get(30, TimeUnit.SECONDS)) {
        assertEquals(InetAddress.getByName(PEER_V6), s.getInetAddress());
        assertEquals(InetAddress.getByName(SELF_V6), s.getLocalAddress());
        assertEquals(8002, s.getLocalPort());
        assertTrue(s.getPort() > 0);
        s.shutdownOutput();
        assertEquals(-1, s.getInputStream().read());
      }
      peer.await("RESULT echo_client", Duration.ofSeconds(30));
    }
  }

  @Test
  void acceptThrowsSocketTimeoutExceptionAfterSoTimeout() throws Exception {
    try (ServerSocket server = new NTMServerSocket(8003)) {
      server.setSoTimeout(200);
      long start = System.nanoTime();
      assertThrows(SocketTimeoutException.class, server::accept);
      long waitedMs = (System.nanoTime() - start) / 1_000_000;
      assertTrue(waitedMs >= 150 && waitedMs < 5000, "waited " + waitedMs + " ms");
      assertThrows(SocketTimeoutException.class, server::accept, "still usable after a timeout");
    }
  }

  @Test
  void closeFromAnotherThreadUnblocksABlockedAccept() throws Exception {
    ServerSocket server = new NTMServerSocket(8004);
    Future<Socket> accept = pool.submit(server::accept);
    assertThrows(TimeoutException.class, () -> accept.get(300, TimeUnit.MILLISECONDS));
    server.close();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> accept.get(10, TimeUnit.SECONDS));
    assertInstanceOf(SocketException.class, e.getCause());
    // The port is free again.
    try (ServerSocket again = new NTMServerSocket(8004)) {
      assertTrue(again.isBound());
    }
  }

  @Test
  void aServerSocketFromTheFactoryServesThroughThePlainType() throws Exception {
    ServerSocketFactory factory = NTMServerSocketFactory.getDefault();
    try (ServerSocket server = factory.createServerSocket()) {
      server.bind(new InetSocketAddress(InetAddress.getByName(SELF_V4), 8005));
      assertEquals(InetAddress.getByName(SELF_V4), server.getInetAddress());
      echoServer(server);
      PeerProcess peer = TwoNodes.get().peer;
      peer.send("ECHO_CLIENT " + SELF + " 8005 100000 3");
      String result = peer.await("RESULT echo_client", Duration.ofSeconds(60));
      assertEquals("100000", PeerProcess.field(result, "bytes"), result);
      assertEquals(PeerProcess.field(result, "sent"), PeerProcess.field(result, "received"));
    }
  }

  @Test
  void bindingAPortInUseIsBindException() throws Exception {
    try (ServerSocket first = new NTMServerSocket(8006)) {
      assertThrows(java.net.BindException.class, () -> new NTMServerSocket(8006).close());
      assertTrue(first.isBound());
    }
  }
}
