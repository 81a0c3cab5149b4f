package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.ntmobile.TwoNodes.PEER;
import static org.ntmobile.TwoNodes.PEER_V6;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import javax.net.SocketFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.ntmobile.testpeer.TestData;
import org.ntmobile.testpeer.TestPeer;

/**
 * Code that knows only javax.net.SocketFactory and java.net.Socket (as a library taking a
 * factory does) runs over ntmobile.
 */
@ExtendWith(TwoNodes.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SocketFactoryTest {
  /** A "library": talks the line protocol over whatever socket the factory makes. */
  private static String library(SocketFactory factory, String host, int port, String message)
      throws Exception {
    try (Socket socket = factory.createSocket(host, port)) {
      PrintWriter out =
          new PrintWriter(
              new OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8), true);
      BufferedReader in =
          new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      out.println(message);
      return in.readLine();
    }
  }

  @Test
  void aLibraryTakingASocketFactoryRunsOverNtmobileUnchanged() throws Exception {
    assertEquals(
        "ECHO via factory",
        library(NTMSocketFactory.getDefault(), PEER, TestPeer.LINE_PORT, "via factory"));
  }

  @Test
  void anUnconnectedFactorySocketConnectsThroughThePlainSocketType() throws Exception {
    SocketFactory factory = NTMSocketFactory.getDefault();
    Socket socket = factory.createSocket();
    try (socket) {
      socket.setTcpNoDelay(true);
      socket.setKeepAlive(true);
      socket.setSoTimeout(30_000);
      socket.connect(InetSocketAddress.createUnresolved(PEER, TestPeer.ECHO_PORT), 10_000);
      assertEquals(true, socket.getTcpNoDelay());
      assertEquals(true, socket.getKeepAlive());
      assertEquals(InetAddress.getByName(TwoNodes.PEER_V4), socket.getInetAddress());
      var echoed =
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> {
                try {
                  return TestData.drain(socket.getInputStream());
                } catch (Exception e) {
                  throw new RuntimeException(e);
                }
              });
      String sent = TestData.send(socket.getOutputStream(), 9, 1 << 20);
      socket.shutdownOutput();
      assertEquals(sent, echoed.get(30, TimeUnit.SECONDS).sha());
    }
  }

  @Test
  void theFactoryConnectsToAVirtualInetAddress() throws Exception {
    try (Socket socket =
        NTMSocketFactory.getDefault().createSocket(InetAddress.getByName(PEER_V6), TestPeer.ECHO_PORT)) {
      socket.getOutputStream().write(42);
      assertEquals(42, socket.getInputStream().read());
    }
  }

  @Test
  void theFactoryReportsAnUnknownNameAsUnknownHostException() {
    assertThrows(
        UnknownHostException.class,
        () -> NTMSocketFactory.getDefault().createSocket("nobody.test", 7000));
  }
}
