package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.ntmobile.testpeer.RestartCheck;

/** Stopping and restarting the node with sockets open (in a JVM of its own: one node each). */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class NodeRestartTest {
  @Test
  void stopWakesBlockedCallsAndOldSocketsNeverTouchTheNextRunsDescriptors() throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp",
                    PeerProcess.testClassPath(),
                    RestartCheck.class.getName()))
            .redirectErrorStream(true);
    String out = ChildJvm.run(pb, 60);
    assertEquals("OK", out.lines().reduce((a, b) -> b).orElse(""), out);
  }
}
