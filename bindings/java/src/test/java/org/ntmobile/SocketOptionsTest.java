package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ntmobile.TwoNodes.PEER;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import jdk.net.ExtendedSocketOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.ntmobile.testpeer.TestPeer;

/**
 * TCP_NODELAY, SO_KEEPALIVE and the keepalive timers (jdk.net.ExtendedSocketOptions) apply to a
 * connected socket, at any time, as the Python and Ruby bindings' setsockopt do.
 */
@ExtendWith(TwoNodes.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SocketOptionsTest {
  @Test
  void connectionOptionsApplyToAConnectedSocket() throws Exception {
    try (Socket socket = new NTMSocket(PEER, TestPeer.LINE_PORT)) {
      socket.setTcpNoDelay(false);
      assertFalse(socket.getTcpNoDelay());
      socket.setTcpNoDelay(true);
      assertTrue(socket.getTcpNoDelay());
      socket.setKeepAlive(true);
      assertTrue(socket.getKeepAlive());
      assertTrue(socket.supportedOptions().contains(ExtendedSocketOptions.TCP_KEEPIDLE));
      socket.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, 11);
      socket.setOption(ExtendedSocketOptions.TCP_KEEPINTERVAL, 4);
      socket.setOption(ExtendedSocketOptions.TCP_KEEPCOUNT, 5);
      assertEquals(11, socket.getOption(ExtendedSocketOptions.TCP_KEEPIDLE));
      assertEquals(4, socket.getOption(ExtendedSocketOptions.TCP_KEEPINTERVAL));
      assertEquals(5, socket.getOption(ExtendedSocketOptions.TCP_KEEPCOUNT));
      PrintWriter out =
          new PrintWriter(
              new java.io.OutputStreamWriter(socket.getOutputStream(), StandardCharsets.UTF_8),
              true);
      BufferedReader in =
          new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      out.println("PING");
      assertEquals("ECHO PING", in.readLine()); // the peer's line service still answers
    }
  }

  @Test
  void keepaliveTimersSetBeforeConnectAreApplied() throws Exception {
    try (Socket socket = new NTMSocket()) {
      socket.setOption(ExtendedSocketOptions.TCP_KEEPIDLE, 21);
      socket.connect(new java.net.InetSocketAddress(TwoNodes.PEER_V4, TestPeer.LINE_PORT), 10_000);
      assertEquals(21, socket.getOption(ExtendedSocketOptions.TCP_KEEPIDLE));
    }
  }
}
