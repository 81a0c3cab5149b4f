package org.ntmobile;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running {@link org.ntmobile.testpeer.TestPeer} (one ntmobile node per process):
 * started with a command line, driven by lines on its stdin, answering lines on its stdout.
 */
final class PeerProcess implements AutoCloseable {
  private final Process process;
  private final PrintWriter commands;
  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

  private PeerProcess(Process process) {
    this.process = process;
    this.commands =
        new PrintWriter(
            new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8), true);
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                  lines.add(line);
                }
              } catch (IOException e) {
                // the process ended
              }
              lines.add("EOF");
            },
            "peer-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /** Starts {@code mainClass} in a new JVM with this JVM's test class path. */
  static PeerProcess start(String mainClass, List<String> args, Path stderrLog)
      throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    String libraryPath = System.getProperty("ntm.library.path");
    if (libraryPath != null) {
      command.add("-Dntm.library.path=" + libraryPath);
    }
    command.add("-cp");
    command.add(testClassPath());
    command.add(mainClass);
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.redirectError(ProcessBuilder.Redirect.appendTo(stderrLog.toFile()));
    return new PeerProcess(pb.start());
  }

  /** Surefire puts the real class path in surefire.test.class.path (java.class.path is its jar). */
  static String testClassPath() {
    String cp = System.getProperty("surefire.test.class.path");
    if (cp == null || cp.isEmpty()) {
      cp = System.getProperty("java.class.path");
    }
    return cp.replace(' ', File.pathSeparatorChar).trim();
  }

  /** Sends one command line. */
  void send(String command) {
    commands.println(command);
  }

  /**
   * The next output line starting with {@code prefix} (or an ERROR line, or end of output,
   * which fail), waiting at most {@code timeout}.
   */
  String await(String prefix, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    for (;;) {
      long left = deadline - System.nanoTime();
      String line = left > 0 ? lines.poll(left, TimeUnit.NANOSECONDS) : null;
      if (line == null) {
        throw new AssertionError("peer: no '" + prefix + "' line within " + timeout);
      }
      if (line.startsWith(prefix)) {
        return line;
      }
      if (line.startsWith("ERROR") || line.equals("EOF")) {
        throw new AssertionError("peer: expected '" + prefix + "', got: " + line);
      }
    }
  }

  /** The value of {@code key=value} in a RESULT/READY line ("" if absent). */
  static String field(String line, String key) {
    for (String word : line.split(" ")) {
      if (word.startsWith(key + "=")) {
        return word.substring(key.length() + 1);
      }
    }
    return "";
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /** Asks the peer to stop, then kills it if it has not exited within 10 seconds. */
  @Override
  public void close() {
    try {
      if (process.isAlive()) {
        send("QUIT");
        commands.close();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(10, TimeUnit.SECONDS);
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
