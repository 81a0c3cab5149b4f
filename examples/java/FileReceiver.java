// FileReceiver: receives files over the virtual network on TCP port 7200 (IPv4 and IPv6), from
// the file senders of every language (ntm-file-sender, file_sender.py, file_sender.rb,
// FileSender), several at once, one thread per connection.
//
//   java -cp $JAR:/tmp/ntm-examples FileReceiver NODE-OPTIONS --dir DIR [--port 7200]
//
// Per connection one request line "PUT <name> <size>": the name is a plain file name (no '/',
// not "." or "..", no NUL, at most 255 bytes of UTF-8; it may contain spaces, the size is after
// the last one), else "ERROR bad-name"; the size a decimal byte count up to 2^40, else
// "ERROR bad-size". The bytes go to DIR/<name>.part while being hashed (SHA-256); complete, the
// file is renamed to DIR/<name> and the answer is "OK <sha256 hex>". A connection that ends
// early leaves no file behind. Runs until SIGINT/SIGTERM. See README.md here.

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import org.ntmobile.NodeOptions;

public class FileReceiver {
  private static final String USAGE =
      """
      usage: FileReceiver NODE-OPTIONS --dir DIR [--port PORT] [--show-tunnels]
      Receives files into DIR on TCP port PORT (default 7200) of this node's virtual
      addresses: per connection "PUT <name> <size>", the bytes, answer "OK <sha256>".
      --show-tunnels prints the tunnel table when the receiver stops.""";

  private static final long MAX_SIZE = 1L << 40;
  private static final int MAX_NAME_BYTES = 255;
  /** A sender silent this long is treated as gone (its .part file is removed). */
  private static final int IDLE_TIMEOUT_MS = 30_000;

  private static Path directory;
  private static int port = 7200;
  private static boolean showTunnels;

  /** A request that is answered with ERROR. */
  private static final class Refusal extends Exception {
    Refusal(String answer) {
      super(answer);
    }
  }

  /** A parsed "PUT <name> <size>". */
  private record Request(String name, long size) {}

  public static void main(String[] argv) {
    NodeArgs args = new NodeArgs("FileReceiver", USAGE);
    NodeOptions options =
        args.parse(
            argv,
            (argument, values) -> {
              switch (argument) {
                case "--dir" -> directory = args.path(values.next(argument));
                case "--port" -> port = values.nextInt(argument, 1, 65535);
                case "--show-tunnels" -> showTunnels = true;
                default -> {
                  return false;
                }
              }
              return true;
            });
    if (directory == null) {
      args.fail("--dir DIR is required");
    }
    if (!Files.isDirectory(directory)) {
      args.fail("--dir " + directory + " is not a directory");
    }

    ExampleNet.Server server =
        ExampleNet.Server.start(
            "FileReceiver",
            options,
            port,
            info ->
                String.format(
                    "file receiver %s listening on port %d (%s), saving to %s",
                    info.name(), port, ExampleNet.virtualAddresses(info), directory),
            FileReceiver::serve);

    server.awaitStop();
    // Uploads still running fail on their closed connection and remove their .part file.
    server.closeConnections(Duration.ofSeconds(5));
    server.stop(showTunnels);
  }

  /** One connection: the request, the bytes, the answer. */
  private static void serve(Socket connection) {
    String peer = ExampleNet.text(connection.getInetAddress());
    try {
      connection.setSoTimeout(IDLE_TIMEOUT_MS);
      LineReader reader = new LineReader(connection.getInputStream());
      byte[] line = reader.readLineBytes();
      if (line == null) {
        return; // closed without a request
      }
      Request request = parse(line);
      long started = System.nanoTime();
      String hex = receive(reader, request);
      OutputStream out = connection.getOutputStream();
      out.write(("OK " + hex + "\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      ExampleNet.OUT.printf(
          Locale.ROOT,
          "received %s %d bytes sha256=%s from %s in %.2fs%n",
          request.name(), request.size(), hex, peer, (System.nanoTime() - started) / 1e9);
    } catch (LineReader.LineTooLongException e) {
      refuse(connection, "ERROR bad-request", peer);
    } catch (Refusal e) {
      refuse(connection, e.getMessage(), peer);
    } catch (IOException e) {
      System.err.println("FileReceiver: upload from " + peer + " failed: " + e.getMessage());
    }
  }

  /** Parses "PUT <name> <size>"; the name is everything up to the last space. */
  private static Request parse(byte[] line) throws Refusal {
    String text;
    try { // strictly: a name that is not UTF-8 could not be written back under its own bytes
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(line))
              .toString();
    } catch (CharacterCodingException e) {
      throw new Refusal("ERROR bad-name");
    }
    if (!text.startsWith("PUT ")) {
      throw new Refusal("ERROR bad-request");
    }
    int lastSpace = text.lastIndexOf(' ');
    if (lastSpace < "PUT ".length()) {
      throw new Refusal("ERROR bad-request");
    }
    String name = text.substring("PUT ".length(), lastSpace);
    String size = text.substring(lastSpace + 1);
    int nameBytes = name.getBytes(StandardCharsets.UTF_8).length;
    if (nameBytes == 0 || nameBytes > MAX_NAME_BYTES || name.indexOf('/') >= 0
        || name.indexOf('\0') >= 0 || name.equals(".") || name.equals("..")) {
      throw new Refusal("ERROR bad-name");
    }
    if (size.isEmpty() || size.length() > 13 || !size.chars().allMatch(c -> c >= '0' && c <= '9')
        || Long.parseLong(size) > MAX_SIZE) {
      throw new Refusal("ERROR bad-size");
    }
    return new Request(name, Long.parseLong(size));
  }

  /**
   * Copies exactly the request's size into DIR/name.part while hashing it, then renames it to
   * DIR/name. Returns the SHA-256 in hex. On any failure the .part file is removed.
   */
  private static String receive(LineReader reader, Request request)
      throws IOException, Refusal {
    Path part;
    Path target;
    try {
      part = directory.resolve(request.name() + ".part");
      target = directory.resolve(request.name());
    } catch (InvalidPathException e) { // a non-ASCII name while the locale is not UTF-8
      System.err.println("FileReceiver: cannot store '" + request.name() + "' (run under a UTF-8"
          + " locale, e.g. LANG=C.UTF-8, for non-ASCII names): " + e.getMessage());
      throw new Refusal("ERROR cannot-write");
    }
    MessageDigest sha256 = sha256();
    OutputStream file;
    try { // CREATE_NEW: two uploads of one name at once must not write into the same .part
      file = Files.newOutputStream(part, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    } catch (FileAlreadyExistsException e) {
      throw new Refusal("ERROR busy");
    } catch (IOException e) {
      System.err.println("FileReceiver: cannot create " + part + ": " + e.getMessage());
      throw new Refusal("ERROR cannot-write");
    }
    boolean complete = false;
    try {
      try (file) {
        byte[] chunk = new byte[65536];
        long done = 0;
        while (done < request.size()) {
          int n = reader.read(chunk, 0, (int) Math.min(chunk.length, request.size() - done));
          if (n < 0) {
            throw new IOException(
                request.name() + ": connection ended after " + done + " of " + request.size()
                    + " bytes");
          }
          sha256.update(chunk, 0, n);
          file.write(chunk, 0, n);
          done += n;
        }
      }
      Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      complete = true;
    } finally {
      if (!complete) {
        Files.deleteIfExists(part); // an incomplete upload leaves no file behind
      }
    }
    return HexFormat.of().formatHex(sha256.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  private static void refuse(Socket connection, String answer, String peer) {
    System.err.println("FileReceiver: refused a request from " + peer + ": " + answer);
    try {
      OutputStream out = connection.getOutputStream();
      out.write((answer + "\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
    } catch (IOException e) {
      return; // the sender is gone
    }
    ExampleNet.closeGently(connection);
  }
}
