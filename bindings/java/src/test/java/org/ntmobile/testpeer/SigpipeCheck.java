package org.ntmobile.testpeer;

import org.ntmobile.NTMException;
import org.ntmobile.NTMNode;
import org.ntmobile.NodeOptions;
import java.lang.reflect.InvocationTargetException;
import java.time.Duration;

/**
 * Logs in again and again to an Account Server that closes connections in awkward ways (args:
 * endpoint, pinned certificate, count), in a JVM of its own, after trying to restore SIGPIPE's
 * default disposition. Prints "DISPOSITION default" (restored) or "DISPOSITION jvm: reason" (the
 * JVM keeps its own handler), then "RESULT attempts=N failed=N". Dying of SIGPIPE (status 141)
 * is the bug this checks for.
 */
public final class SigpipeCheck {
  private SigpipeCheck() {}

  public static void main(String[] args) throws Exception {
    String endpoint = args[0];
    String cert = args[1];
    int count = Integer.parseInt(args[2]);
    // sun.misc.Signal through reflection (javac warns about the internal API, and -Werror).
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handler = Class.forName("sun.misc.SignalHandler");
      Object pipe = signal.getConstructor(String.class).newInstance("PIPE");
      Object systemDefault = handler.getField("SIG_DFL").get(null);
      signal.getMethod("handle", signal, handler).invoke(null, pipe, systemDefault);
      System.out.println("DISPOSITION default");
    } catch (InvocationTargetException e) {
      System.out.println("DISPOSITION jvm: " + e.getCause().getMessage());
    }
    int failed = 0;
    for (int i = 0; i < count; i++) {
      try {
        NTMNode node =
            NTMNode.start(
                NodeOptions.builder()
                    .server(endpoint)
                    .serverCertificate(cert)
                    .account("alice")
                    .password("pw")
                    .listen("127.0.0.1:0")
                    .startTimeout(Duration.ofMillis(1))
                    .build());
        node.close();
      } catch (NTMException e) {
        failed++;
      }
    }
    System.out.println("RESULT attempts=" + count + " failed=" + failed);
  }
}
