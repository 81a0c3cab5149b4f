package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ntmobile.testpeer.ExitCheck;

/**
 * A JVM that started a node (with an event listener) and never closed it still exits promptly,
 * however it ends: main returns, System.exit, SIGTERM - with the binding's shutdown hook and
 * without it (then libntm's own exit handling must cope with a JVM that is going away).
 *
 * <p>Each run is a fresh JVM (about a second each), so CI runs {@value #DEFAULT_RUNS} per case;
 * {@code -Dntm.test.exitRuns=20} runs the full 20. The hang this guards against happened
 * in nearly every run, so a few runs per case already catch it.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class JvmExitTest {
  private static final int DEFAULT_RUNS = 3;
  private static final long EXIT_BOUND_MS = 2000;

  @ParameterizedTest(name = "{0}, shutdown hook {1}")
  @CsvSource({
    "return, true, 0",
    "exit, true, 3",
    "sigterm, true, 143",
    "return, false, 0",
    "exit, false, 3",
    "sigterm, false, 143"
  })
  void exitsWithinTwoSecondsWithANodeStillRunning(String mode, boolean hook, int expectedCode)
      throws Exception {
    int runs = Integer.getInteger("ntm.test.exitRuns", DEFAULT_RUNS);
    List<Long> times = new ArrayList<>();
    for (int run = 0; run < runs; run++) {
      times.add(runOnce(mode, hook, expectedCode));
    }
    System.out.println(
        "JvmExitTest " + mode + " hook=" + hook + ": " + runs + " runs, exit times ms " + times);
  }

  /** One child JVM; returns the milliseconds from its last announcement to its exit. */
  private static long runOnce(String mode, boolean hook, int expectedCode) throws Exception {
    File log = File.createTempFile("ntm-exit", ".err");
    try {
      ProcessBuilder pb =
          new ProcessBuilder(
              List.of(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-D" + NTMNode.SHUTDOWN_HOOK_PROPERTY + "=" + hook,
                  "-cp",
                  PeerProcess.testClassPath(),
                  ExitCheck.class.getName(),
                  mode));
      pb.redirectError(log);
      Process p = pb.start();
      try {
        BufferedReader out =
            new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine(); // blocks until the node runs (bounded by the waitFor below)
        long from = System.nanoTime();
        if ("WAITING".equals(line)) {
          p.destroy(); // SIGTERM
        } else {
          assertEquals("EXITING", line, () -> "child said " + line + "; " + stderr(log));
        }
        boolean exited = p.waitFor(EXIT_BOUND_MS, TimeUnit.MILLISECONDS);
        long elapsed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - from);
        assertTrue(
            exited, () -> mode + ": still running " + EXIT_BOUND_MS + " ms later; " + stderr(log));
        assertEquals(expectedCode, p.exitValue(), () -> "exit status; " + stderr(log));
        return elapsed;
      } finally {
        if (p.isAlive()) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
    } finally {
      Files.deleteIfExists(log.toPath());
    }
  }

  private static String stderr(File log) {
    try {
      return "stderr: " + Files.readString(log.toPath(), StandardCharsets.UTF_8);
    } catch (Exception e) {
      return "stderr unreadable: " + e;
    }
  }
}
