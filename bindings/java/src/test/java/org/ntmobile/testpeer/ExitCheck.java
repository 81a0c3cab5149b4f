package org.ntmobile.testpeer;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.ntmobile.KeyPair;
import org.ntmobile.NTMNode;
import org.ntmobile.NodeEvent;
import org.ntmobile.NodeOptions;

/**
 * A JVM that starts a node with an event listener, never closes it, and then ends in the way
 * args[0] names: "return" (main returns), "exit" (System.exit(3)), "sigterm" (waits for the
 * parent's SIGTERM). Prints "EXITING" at the moment it starts to end ("WAITING" for sigterm).
 */
public final class ExitCheck {
  private ExitCheck() {}

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    CountDownLatch started = new CountDownLatch(1);
    NTMNode.start(
        NodeOptions.builder()
            .name("solo.test")
            .privateKey(KeyPair.generate().privateKey())
            .virtualIPv4("100.64.0.1")
            .listen("127.0.0.1:0")
            .eventListener(
                (NodeEvent e) -> {
                  if (e.type() == NodeEvent.Type.STARTED) {
                    started.countDown();
                  }
                })
            .build());
    if (!started.await(20, TimeUnit.SECONDS)) {
      System.out.println("FAIL no STARTED event");
      System.exit(1);
    }
    switch (mode) {
      case "return":
        System.out.println("EXITING");
        System.out.flush();
        return;
      case "exit":
        System.out.println("EXITING");
        System.out.flush();
        System.exit(3);
        return;
      case "sigterm":
        System.out.println("WAITING");
        System.out.flush();
        Thread.sleep(TimeUnit.MINUTES.toMillis(5));
        System.out.println("FAIL no SIGTERM");
        System.exit(1);
        return;
      default:
        throw new IllegalArgumentException(mode);
    }
  }
}
