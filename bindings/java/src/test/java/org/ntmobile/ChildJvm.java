package org.ntmobile;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.concurrent.TimeUnit;

/** Runs a short-lived JVM to completion, bounded in time; kills it if it overruns. */
final class ChildJvm {
  private ChildJvm() {}

  /** Its combined output, trimmed; fails if it has not exited within {@code seconds}. */
  static String run(ProcessBuilder pb, int seconds) throws IOException, InterruptedException {
    File output = File.createTempFile("ntm-child", ".out");
    try {
      pb.redirectErrorStream(true).redirectOutput(output);
      Process p = pb.start();
      if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(
            "the child JVM did not exit within " + seconds + " s; output: "
                + Files.readString(output.toPath(), StandardCharsets.UTF_8));
      }
      return Files.readString(output.toPath(), StandardCharsets.UTF_8).trim();
    } finally {
      Files.deleteIfExists(output.toPath());
    }
  }
}
