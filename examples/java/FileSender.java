// FileSender: sends one file to a file receiver (FileReceiver or any language's) by node name.
//
//   java -cp $JAR:/tmp/ntm-examples FileSender NODE-OPTIONS --connect NAME:PORT [-6] FILE
//       [--as NAME] [--show-tunnels]
//
// It sends "PUT <name> <size>" (name: FILE's base name or --as NAME), then the file in 64 KiB
// chunks - never the whole file in memory - hashing it (SHA-256) on the way, and compares the
// receiver's "OK <sha256>" answer with its own digest. Exit 0 when they match, 1 on a mismatch,
// an ERROR answer or a network failure (message on stderr), 2 on bad arguments.

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import org.ntmobile.NTMNode;
import org.ntmobile.NodeOptions;

public class FileSender {
  private static final String USAGE =
      """
      usage: FileSender NODE-OPTIONS --connect NAME:PORT [-6] FILE [--as NAME] [--show-tunnels]
      Sends FILE to a file receiver over the virtual network (IPv4, or IPv6 with -6) and
      checks the SHA-256 the receiver computed. --as NAME: the name to store it under
      (default FILE's base name); --show-tunnels prints the tunnel table before exiting.""";

  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(30);
  /** How long to wait for the receiver's answer once everything is sent. */
  private static final int ANSWER_TIMEOUT_MS = 60_000;

  private static String connect;
  private static boolean ipv6;
  private static Path file;
  private static String name;
  private static boolean showTunnels;

  public static void main(String[] argv) {
    NodeArgs args = new NodeArgs("FileSender", USAGE);
    NodeOptions options =
        args.parse(
            argv,
            (argument, values) -> {
              switch (argument) {
                case "--connect" -> connect = values.next(argument);
                case "-6" -> ipv6 = true;
                case "--as" -> name = values.next(argument);
                case "--show-tunnels" -> showTunnels = true;
                default -> {
                  if (argument.startsWith("-") || file != null) {
                    return false;
                  }
                  file = args.path(argument);
                }
              }
              return true;
            });
    if (connect == null || file == null) {
      args.fail("--connect NAME:PORT and FILE are required");
    }
    ExampleNet.Target target = ExampleNet.Target.parse(connect).orElse(null);
    if (target == null) {
      args.fail("--connect wants NAME:PORT (port 1-65535), not '" + connect + "'");
    }
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      args.fail("cannot send " + file + ": not a readable file");
    }
    if (name == null) {
      name = file.getFileName().toString();
    }
    if (name.isEmpty() || name.contains("\n")) {
      args.fail("the file name to send must be one non-empty line");
    }

    NTMNode node = ExampleNet.startNode("FileSender", options);
    int status;
    try (Socket socket = ExampleNet.connect(target, ipv6, CONNECT_TIMEOUT)) {
      status = send(socket);
    } catch (IOException e) {
      System.err.println("FileSender: cannot send to " + target + ": " + e.getMessage());
      status = 1;
    }
    ExampleNet.stopNode(node, showTunnels, status);
  }

  /** Sends the request and the file, then judges the answer. Returns the exit status. */
  private static int send(Socket socket) throws IOException {
    long started = System.nanoTime();
    long size = Files.size(file);
    MessageDigest sha256 = sha256();
    InputStream answers = socket.getInputStream();
    OutputStream out = socket.getOutputStream();
    boolean complete = false;
    try (InputStream in = Files.newInputStream(file)) {
      try {
        out.write(("PUT " + name + " " + size + "\n").getBytes(StandardCharsets.UTF_8));
        byte[] chunk = new byte[65536];
        long done = 0;
        // An early answer (an ERROR) stops the sending: the receiver reads no more.
        while (done < size && answers.available() == 0) {
          int n = readFile(in, chunk, (int) Math.min(chunk.length, size - done));
          if (n < 0) {
            return 1;
          }
          sha256.update(chunk, 0, n);
          out.write(chunk, 0, n);
          done += n;
        }
        out.flush();
        complete = done == size;
      } catch (IOException e) {
        // The connection broke while sending: the receiver may have said why; read it below (a
        // connection that is gone fails there, and main reports it).
      }
    }

    socket.setSoTimeout(ANSWER_TIMEOUT_MS);
    String answer = new LineReader(answers).readLine();
    double seconds = (System.nanoTime() - started) / 1e9;
    String hex = HexFormat.of().formatHex(sha256.digest());
    if (answer == null) {
      System.err.println("FileSender: no answer from the receiver: the connection closed");
    } else if (!answer.startsWith("OK ")) {
      System.err.println("FileSender: the receiver refused " + name + ": " + answer);
    } else if (!complete) {
      System.err.println(
          "FileSender: the receiver answered '" + answer + "' before the whole file was sent");
    } else if (!answer.substring(3).equals(hex)) {
      System.err.println(
          "FileSender: SHA-256 mismatch for " + name + ": sent " + hex + ", the receiver got "
              + answer.substring(3));
    } else {
      ExampleNet.OUT.printf(
          Locale.ROOT,
          "sent %s %d bytes in %.2fs (%.1f MB/s), sha256 %s verified by the receiver%n",
          name, size, seconds, seconds > 0 ? size / 1e6 / seconds : 0.0, hex);
      return 0;
    }
    return 1;
  }

  /** Reads the next chunk of the file; -1 (after a message) when that fails. */
  private static int readFile(InputStream in, byte[] chunk, int length) {
    try {
      int n = in.read(chunk, 0, length);
      if (n < 0) {
        System.err.println("FileSender: " + file + " got shorter while being sent");
      }
      return n;
    } catch (IOException e) {
      System.err.println("FileSender: reading " + file + " failed: " + e.getMessage());
      return -1;
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
