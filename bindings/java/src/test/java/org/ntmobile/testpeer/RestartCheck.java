package org.ntmobile.testpeer;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.ntmobile.KeyPair;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMServerSocket;
import org.ntmobile.NTMSocket;
import org.ntmobile.NodeOptions;

/**
 * Stops and restarts this process's node with sockets still open, in a JVM of its own: the
 * stop must wake a blocked read with SocketException, and the old sockets must never touch the
 * new run's descriptors (whose numbers restart). Prints "OK" or "FAIL reason".
 */
public final class RestartCheck {
  private RestartCheck() {}

  private static NTMNode start() throws Exception {
    return NTMNode.start(
        NodeOptions.builder()
            .name("solo.test")
            .privateKey(KeyPair.generate().privateKey())
            .virtualIPv4("100.64.0.1")
            .listen("127.0.0.1:0")
            .build());
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      System.out.println("FAIL " + what);
      System.exit(1);
    }
  }

  public static void main(String[] args) throws Exception {
    InetAddress self = InetAddress.getByName("100.64.0.1");
    NTMNode node = start();
    ServerSocket server1 = new NTMServerSocket(9000);
    Socket client1 = new NTMSocket(self, 9000);
    Socket accepted1 = server1.accept();
    client1.getOutputStream().write(1);
    check(accepted1.getInputStream().read() == 1, "first run exchange");

    InputStream in = accepted1.getInputStream();
    CompletableFuture<Integer> blocked =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return in.read();
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    check(!blocked.isDone(), "the read blocks");
    node.close();
    try {
      blocked.get(10, TimeUnit.SECONDS);
      check(false, "the read returned instead of failing");
    } catch (ExecutionException e) {
      check(e.getCause().getCause() instanceof SocketException, "stop woke the read: " + e);
    }
    try {
      client1.getOutputStream().write(2);
      check(false, "a write after the stop succeeded");
    } catch (SocketException expected) {
      // the socket belonged to the stopped run
    }

    node = start();
    ServerSocket server2 = new NTMServerSocket(9000);
    // Closing the old run's sockets must not close the new run's (same numbers, likely).
    server1.close();
    client1.close();
    accepted1.close();
    try (Socket client2 = new NTMSocket(self, 9000);
        Socket accepted2 = server2.accept()) {
      client2.getOutputStream().write(3);
      check(accepted2.getInputStream().read() == 3, "second run exchange");
    }
    server2.close();
    node.close();
    System.out.println("OK");
  }
}
