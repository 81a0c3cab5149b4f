package org.ntmobile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.ntmobile.testpeer.SigpipeCheck;

/**
 * No call into libntm may raise SIGPIPE (issue 13): an Account Server that closes the TLS
 * connection during login once killed the host process with status 141. A child JVM (one node
 * per process) logs in again and again to ntm-hostile-as from the C++ test build, an AS that
 * closes connections in every awkward way, and must survive. The JVM installs its own SIGPIPE
 * handler; the child tries to restore the default first and reports whether the JVM allowed it.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class SigpipeTest {
  private static Path hostileAs() {
    String explicit = System.getenv("NTM_HOSTILE_AS");
    String build = System.getenv("NTM_BUILD_DIR");
    Path path =
        explicit != null
            ? Path.of(explicit)
            : (build != null ? Path.of(build) : Path.of(System.getProperty("user.dir"), "..", "..", "build"))
                .resolve(Path.of("tests", "integration", "ntm-hostile-as"));
    if (!Files.isExecutable(path)) {
      fail(path + " not found: build the repository's tests first (or set NTM_HOSTILE_AS)");
    }
    return path;
  }

  @ParameterizedTest
  @ValueSource(strings = {"respond-fin-rst", "mixed"})
  void loginsAgainstAnAsThatClosesConnectionsNeverRaiseSigpipe(String mode) throws Exception {
    Process as =
        new ProcessBuilder(hostileAs().toString(), "--mode", mode, "--timeout", "240")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(as.getInputStream(), StandardCharsets.UTF_8));
      String line =
          CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      return out.readLine();
                    } catch (java.io.IOException e) {
                      return null;
                    }
                  })
              .get(30, TimeUnit.SECONDS);
      assertTrue(line != null && line.startsWith("READY "), "ntm-hostile-as did not start: " + line);
      Map<String, String> fields = new HashMap<>();
      for (String item : line.substring(6).split(" ")) {
        String[] kv = item.split("=", 2);
        fields.put(kv[0], kv[1]);
      }
      int count = 24;
      ProcessBuilder child =
          new ProcessBuilder(
              List.of(
                  Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                  "-cp",
                  PeerProcess.testClassPath(),
                  SigpipeCheck.class.getName(),
                  fields.get("endpoint"),
                  fields.get("cert"),
                  Integer.toString(count)));
      File output = File.createTempFile("ntm-sigpipe", ".out");
      try {
        child.redirectErrorStream(true).redirectOutput(output);
        Process p = child.start();
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
          fail("the child JVM did not finish in time");
        }
        String text = Files.readString(output.toPath(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "child exit " + p.exitValue()
            + (p.exitValue() == 141 ? " (killed by SIGPIPE)" : "") + ": " + text);
        assertTrue(text.contains("RESULT attempts=" + count + " failed=" + count), text);
        System.out.println("SigpipeTest[" + mode + "]: " + text.lines().findFirst().orElse(""));
      } finally {
        Files.deleteIfExists(output.toPath());
      }
    } finally {
      as.destroy();
      if (!as.waitFor(30, TimeUnit.SECONDS)) {
        as.destroyForcibly();
      }
    }
  }
}
