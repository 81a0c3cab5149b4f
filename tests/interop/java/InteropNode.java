// InteropNode: the Java node of the interop suite (tests/interop/README.md is its spec): a
// control-plane node that either serves the interop protocol (TCP request lines on both virtual
// families, UDP PING -> PONG) or runs the client steps against a server node by FQDN, printing
// one record per stdout line. One file, because Java runs it in source-file mode:
//
//   NTM_LIBRARY=build/c-api java -cp bindings/java/target/ntmobile-0.3.0.jar \
//     tests/interop/java/InteropNode.java server|client --server HOST:PORT --server-cert PEM \
//     --account NAME --password PW [--state DIR] [--listen HOST:PORT]... [--port 7000] \
//     [--log LEVEL]
//     client only: --peer FQDN [--bytes 8388608] [--family 4|6|both] [--udp-count 5]
//     [--rate-mbps R]
//
// Exit status: 0 success, 1 failure (a FAIL record, or the node did not start), 2 bad arguments.

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.DatagramPacket;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.ntmobile.LogLevel;
import org.ntmobile.NTMDatagramSocket;
import org.ntmobile.NTMException;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMResolver;
import org.ntmobile.NTMServerSocket;
import org.ntmobile.NTMSocket;
import org.ntmobile.NodeInfo;
import org.ntmobile.NodeOptions;
import org.ntmobile.TunnelInfo;

public final class InteropNode {
  /** The language this node reports in HELLO, READY, RESULT and DONE. */
  static final String LANG = "java";
  /** Every blocking step of a client run ends by this long after the program started. */
  static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(60);
  /** After the deadline, when the client closes its sockets to end blocked reads and writes. */
  static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);
  /** After the deadline, how long the client may take to notice before it is stopped hard. */
  static final long HARD_STOP_GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);
  /** A server connection idle (nothing read) this long is dropped. */
  static final int IDLE_MILLIS = 60_000;
  /** Longest request or response line, without its '\n'. */
  static final int MAX_LINE = 1024;
  /** Size of the chunks uploaded, downloaded and hashed. */
  static final int CHUNK = 65536;
  /** How long the server's shutdown waits for connection threads to print SERVED. */
  static final long CONNECTIONS_GRACE_MILLIS = 5000;
  /** UDP: each PING is sent again after this long without its PONG, at most this many times. */
  static final int PING_RETRY_MILLIS = 200;
  static final int PING_TRIES = 25;
  /**
   * A paced upload prints PROGRESS this often: the spec promises at least every 100 ms, and the
   * margin absorbs scheduling delays on a busy host.
   */
  static final long PROGRESS_EVERY_MILLIS = 50;
  /** A paced upload writes about this much time's worth of bytes at once. */
  static final long PACE_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  public static void main(String[] args) {
    long started = System.nanoTime();
    Config config;
    try {
      config = Config.parse(args);
    } catch (BadArguments e) {
      System.err.println("InteropNode: " + e.getMessage());
      System.err.println(Config.USAGE);
      System.exit(2);
      return;
    }
    if (config == null) { // --help
      System.out.println(Config.USAGE);
      return;
    }
    // A server takes SIGTERM/SIGINT from the start, so that one during login still ends in order.
    Server.Stop stop = config.isServer ? Server.Stop.install() : null;
    int status = runNode(config, started, stop);
    if (stop != null) {
      stop.done(status);
    }
    System.exit(status);
  }

  /** Starts the node, runs the role and closes the node; returns the exit status. */
  private static int runNode(Config config, long started, Server.Stop stop) {
    NTMNode node;
    try {
      node = NTMNode.start(config.nodeOptions());
    } catch (NTMException | RuntimeException e) {
      warn("cannot start the node as account '" + config.account + "' at " + config.server + ": "
          + e.getMessage());
      return 1;
    }
    try {
      if (stop != null) {
        if (config.httpPort != 0) {
          InteropHttp.startServer(config.httpPort);
        }
        return new Server(config, node, stop).run();
      }
      int status = new Client(config, node, started + DEADLINE_NANOS).run();
      if (status == 0 && config.httpPort != 0 && !InteropHttp.request(config.peer, config.httpPort)) {
        return 1;
      }
      return status;
    } catch (IOException | RuntimeException e) {
      warn(e.toString());
      return 1;
    } finally {
      node.close();
    }
  }

  // ---- records, diagnostics, small helpers -------------------------------------------------

  /** Prints one stdout record ("KEYWORD key=value ...") and flushes; thread-safe. */
  static void record(String line) {
    synchronized (System.out) {
      System.out.print(line + "\n");
      System.out.flush();
    }
  }

  /** A diagnostic on stderr (never a record). */
  static void warn(String message) {
    System.err.println("InteropNode: " + message);
  }

  /** An address as inet_ntop writes it (RFC 5952 for IPv6), like the other languages' nodes. */
  static String addressText(InetAddress address) {
    if (!(address instanceof Inet6Address)) {
      return address.getHostAddress();
    }
    byte[] b = address.getAddress();
    int[] groups = new int[8];
    for (int i = 0; i < 8; i++) {
      groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLength = 1; // a single zero group is not shortened
    for (int i = 0; i < 8; ) {
      int j = i;
      while (j < 8 && groups[j] == 0) {
        j++;
      }
      if (j - i > bestLength) {
        bestStart = i;
        bestLength = j - i;
      }
      i = Math.max(j, i + 1);
    }
    if (bestStart < 0) {
      return hexGroups(groups, 0, 8);
    }
    return hexGroups(groups, 0, bestStart) + "::" + hexGroups(groups, bestStart + bestLength, 8);
  }

  private static String hexGroups(int[] groups, int from, int to) {
    List<String> parts = new ArrayList<>();
    for (int i = from; i < to; i++) {
      parts.add(Integer.toHexString(groups[i]));
    }
    return String.join(":", parts);
  }

  /** Closes `c` to end its use (and wake a call blocked on it); a failure changes nothing. */
  static void closeQuietly(Closeable c) {
    try {
      c.close();
    } catch (IOException e) {
      // closing anyway
    }
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
  }

  static String sha256Line(MessageDigest digest) {
    return "SHA256 " + HexFormat.of().formatHex(digest.digest());
  }

  // ---- the command line ----------------------------------------------------------------------

  static final class BadArguments extends Exception {
    private static final long serialVersionUID = 1L;

    BadArguments(String message) {
      super(message);
    }
  }

  /** The parsed command line. */
  static final class Config {
    static final String USAGE =
        "usage: InteropNode server|client --server HOST:PORT --server-cert PEM_FILE --account NAME\n"
            + "                   --password PW [--state DIR] [--listen HOST:PORT]... [--port 7000]\n"
            + "                   [--log LEVEL]\n"
            + "  client only:     --peer FQDN [--bytes 8388608] [--family 4|6|both]"
            + " [--udp-count 5] [--rate-mbps R]\n"
            + "The interop node of tests/interop/README.md: records on stdout, diagnostics and"
            + " the library log\n(--log off|error|warn|info|debug) on stderr. --listen binds the"
            + " node's real UDP socket\n(repeat per family: 127.0.0.1:0, [::1]:0; families not"
            + " listed are off).";

    boolean isServer;
    String server;
    String serverCertificate;
    String account;
    String password;
    Path state;
    List<String> listen = new ArrayList<>(); // real UDP addresses; empty: the wildcards
    LogLevel log = LogLevel.WARN;
    int port = 7000;
    String peer;
    long bytes = 8L * 1024 * 1024;
    List<Integer> families = List.of(4, 6);
    int udpCount = 5;
    double rateMbps; // 0: no pacing
    int httpPort; // 0: no HTTP (server: serve it there; client: GET from the peer there)

    /** The configuration, or null for --help. */
    static Config parse(String[] args) throws BadArguments {
      if (args.length == 0) {
        throw new BadArguments("the first argument must be 'server' or 'client'");
      }
      if (args[0].equals("--help") || args[0].equals("-h")) {
        return null;
      }
      Config c = new Config();
      switch (args[0]) {
        case "server" -> c.isServer = true;
        case "client" -> c.isServer = false;
        default -> throw new BadArguments(
            "the first argument must be 'server' or 'client', not '" + args[0] + "'");
      }
      boolean clientOption = false;
      for (int i = 1; i < args.length; i += 2) {
        String option = args[i];
        if (i + 1 >= args.length) {
          throw new BadArguments(option.startsWith("-")
              ? "option " + option + " needs a value"
              : "unexpected argument '" + option + "'");
        }
        String value = args[i + 1];
        switch (option) {
          case "--server" -> c.server = value;
          case "--server-cert" -> c.serverCertificate = value;
          case "--account" -> c.account = value;
          case "--password" -> c.password = value;
          case "--state" -> c.state = Path.of(value);
          case "--listen" -> c.listen.add(value);
          case "--log" -> c.log = logLevel(value);
          case "--port" -> c.port = (int) integer(option, value, 1, 65535);
          case "--http-port" -> c.httpPort = (int) integer(option, value, 1, 65535);
          case "--peer" -> c.peer = value;
          case "--bytes" -> c.bytes = integer(option, value, 0, 1_000_000_000_000L);
          case "--family" -> c.families = families(value);
          case "--udp-count" -> c.udpCount = (int) integer(option, value, 0, 10000);
          case "--rate-mbps" -> c.rateMbps = number(option, value, 0.001, 100000);
          default -> throw new BadArguments("unknown option '" + option + "' (see --help)");
        }
        clientOption |= Set.of("--peer", "--bytes", "--family", "--udp-count", "--rate-mbps")
            .contains(option);
      }
      for (String[] required : new String[][] {
          {"--server", c.server}, {"--server-cert", c.serverCertificate},
          {"--account", c.account}, {"--password", c.password}}) {
        if (required[1] == null) {
          throw new BadArguments(required[0] + " is required (control-plane mode)");
        }
      }
      if (c.isServer && clientOption) {
        throw new BadArguments(
            "--peer, --bytes, --family, --udp-count and --rate-mbps are client options");
      }
      if (!c.isServer && c.peer == null) {
        throw new BadArguments("client needs --peer FQDN");
      }
      return c;
    }

    NodeOptions nodeOptions() {
      NodeOptions.Builder b =
          NodeOptions.builder()
              .server(server)
              .serverCertificate(serverCertificate)
              .account(account)
              .password(password)
              .logLevel(log);
      if (state != null) {
        b.stateDirectory(state);
      }
      if (!listen.isEmpty()) {
        b.listen(listen.toArray(new String[0])); // families not listed are off
      }
      return b.build();
    }

    private static LogLevel logLevel(String value) throws BadArguments {
      try {
        return LogLevel.valueOf(value.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new BadArguments("--log must be off, error, warn, info or debug, not '" + value + "'");
      }
    }

    private static List<Integer> families(String value) throws BadArguments {
      return switch (value) {
        case "4" -> List.of(4);
        case "6" -> List.of(6);
        case "both" -> List.of(4, 6);
        default -> throw new BadArguments("--family must be 4, 6 or both, not '" + value + "'");
      };
    }

    private static long integer(String option, String value, long min, long max)
        throws BadArguments {
      try {
        long n = Long.parseLong(value);
        if (n >= min && n <= max) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new BadArguments(
          option + " must be a whole number from " + min + " to " + max + ", not '" + value + "'");
    }

    private static double number(String option, String value, double min, double max)
        throws BadArguments {
      try {
        double n = Double.parseDouble(value);
        if (n >= min && n <= max) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new BadArguments(
          option + " must be a number from " + min + " to " + max + ", not '" + value + "'");
    }
  }

  // ---- stream I/O shared by both roles -------------------------------------------------------

  /** The other end sent what the protocol does not allow; the message is the FAIL reason. */
  static final class ProtocolFailure extends IOException {
    private static final long serialVersionUID = 1L;

    ProtocolFailure(String reason) {
      super(reason);
    }
  }

  /**
   * Request/response lines and counted byte runs over a connected socket. Lines are ISO-8859-1,
   * one char per byte, so an ECHO gives back exactly the bytes it got.
   */
  static final class LineStream {
    private final InputStream in;
    private final OutputStream out;

    LineStream(Socket socket) throws IOException {
      in = new BufferedInputStream(socket.getInputStream(), CHUNK);
      out = socket.getOutputStream();
    }

    /**
     * One line without its '\n'; null at a clean end of stream (before the line's first byte).
     * EOFException for an end inside a line, ProtocolFailure for a line over MAX_LINE bytes.
     */
    String readLine() throws IOException {
      byte[] line = new byte[MAX_LINE];
      int length = 0;
      for (;;) {
        int b = in.read();
        if (b < 0) {
          if (length == 0) {
            return null;
          }
          throw new EOFException("end of stream inside a line");
        }
        if (b == '\n') {
          return new String(line, 0, length, StandardCharsets.ISO_8859_1);
        }
        if (length == MAX_LINE) {
          throw new ProtocolFailure("line-too-long");
        }
        line[length++] = (byte) b;
      }
    }

    /** A line the other end must send: EOFException at the end of stream. */
    String expectLine() throws IOException {
      String line = readLine();
      if (line == null) {
        throw new EOFException("connection closed");
      }
      return line;
    }

    /** Reads exactly `count` bytes into `digest`. */
    void readHashed(long count, MessageDigest digest) throws IOException {
      byte[] buffer = new byte[CHUNK];
      while (count > 0) {
        int n = in.read(buffer, 0, (int) Math.min(count, buffer.length));
        if (n < 0) {
          throw new EOFException("connection closed");
        }
        digest.update(buffer, 0, n);
        count -= n;
      }
    }

    void sendLine(String text) throws IOException {
      out.write((text + "\n").getBytes(StandardCharsets.ISO_8859_1));
    }

    void send(byte[] data, int offset, int length) throws IOException {
      out.write(data, offset, length);
    }
  }

  // ---- server --------------------------------------------------------------------------------

  /** Serves the interop protocol until SIGTERM, SIGINT or the end of stdin. */
  static final class Server {
    /**
     * When the server stops: SIGTERM, SIGINT or the end of stdin, whichever comes first.
     *
     * <p>Java has no supported signal API: a signal runs the JVM's shutdown hooks, then the
     * process exits with status 128+signal. The hook here asks the server to stop, waits
     * (bounded) until main has closed the node and reported its status ({@link #done}), and ends
     * the process with that status (0 after a requested stop). So the JVM never exits under a
     * running node, whose threads may be calling back into Java (a JVM exiting while a native
     * thread attaches for a callback can hang), and a stop during login still ends in order.
     */
    static final class Stop {
      private static final long CLEANUP_BOUND_SECONDS = 20;

      private final CountDownLatch requested = new CountDownLatch(1);
      private final CountDownLatch cleanedUp = new CountDownLatch(1);
      private volatile String why = "";
      private volatile int status = 1;

      static Stop install() {
        Stop stop = new Stop();
        Runtime.getRuntime().addShutdownHook(new Thread(stop::onShutdown, "stop-signal"));
        return stop;
      }

      synchronized void request(String reason) {
        if (requested.getCount() > 0) {
          why = reason;
        }
        requested.countDown();
      }

      /** Turns the end of stdin into a stop request (a daemon thread, blocked in read). */
      void watchStdin() {
        Thread t = new Thread(() -> {
          byte[] buffer = new byte[256];
          try {
            while (System.in.read(buffer) >= 0) {
              // input is ignored: only its end matters
            }
          } catch (IOException e) {
            // an unreadable stdin ends like a closed one
          }
          request("end of stdin");
        }, "stdin-watch");
        t.setDaemon(true);
        t.start();
      }

      /** Blocks until a stop is requested; returns why. */
      String await() {
        for (;;) {
          try {
            requested.await();
            return why;
          } catch (InterruptedException e) {
            // only a stop request ends the wait
          }
        }
      }

      /** The node is closed: the process may exit with `exitStatus`. */
      void done(int exitStatus) {
        status = exitStatus;
        System.out.flush();
        System.err.flush();
        cleanedUp.countDown();
      }

      /** A signal, or System.exit after done(): exit with main's status once it is known. */
      private void onShutdown() {
        request("SIGTERM or SIGINT");
        try {
          cleanedUp.await(CLEANUP_BOUND_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          // exit anyway
        }
        Runtime.getRuntime().halt(status);
      }
    }

    private final Config config;
    private final NTMNode node;
    private final Stop stop;
    private final Set<Thread> connections = ConcurrentHashMap.newKeySet();
    private final SplittableRandom seeds = new SplittableRandom();
    private volatile boolean stopping;

    Server(Config config, NTMNode node, Stop stop) {
      this.config = config;
      this.node = node;
      this.stop = stop;
    }

    int run() throws IOException {
      // A wildcard bind covers both virtual families, for the listener and the UDP socket.
      NTMServerSocket listener;
      NTMDatagramSocket udp;
      try {
        listener = new NTMServerSocket(config.port, 64);
      } catch (IOException e) {
        warn("cannot listen on TCP port " + config.port + ": " + e.getMessage());
        return 1;
      }
      try {
        udp = new NTMDatagramSocket(config.port);
      } catch (IOException e) {
        warn("cannot bind UDP port " + config.port + ": " + e.getMessage());
        listener.close();
        return 1;
      }
      daemon("accept", () -> acceptLoop(listener));
      daemon("udp", () -> udpLoop(udp));
      NodeInfo info = node.info();
      record("READY lang=" + LANG + " fqdn=" + info.name()
          + " vip4=" + info.virtualIPv4().map(InteropNode::addressText).orElse("")
          + " vip6=" + info.virtualIPv6().map(InteropNode::addressText).orElse(""));
      stop.watchStdin();
      warn(stop.await() + ", stopping");
      // Closing the listener and the UDP socket ends their threads; closing the node closes the
      // connections, whose threads then print SERVED and end.
      stopping = true;
      listener.close();
      udp.close();
      node.close();
      awaitConnections();
      return 0;
    }

    private static Thread daemon(String name, Runnable body) {
      Thread t = new Thread(body, name);
      t.setDaemon(true);
      t.start();
      return t;
    }

    private void acceptLoop(NTMServerSocket listener) {
      while (!stopping) {
        Socket s;
        try {
          s = listener.accept();
        } catch (IOException e) {
          if (!stopping && !listener.isClosed()) {
            warn("accept: " + e.getMessage());
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100)); // e.g. no descriptors
            continue;
          }
          return;
        }
        long seed = seeds.nextLong(); // SplittableRandom is not thread-safe: split here
        Thread t = new Thread(() -> {
          try {
            serve(s, new SplittableRandom(seed));
          } finally {
            connections.remove(Thread.currentThread());
          }
        }, "connection-" + s.getPort());
        t.setDaemon(true);
        connections.add(t);
        t.start();
      }
    }

    /** Serves one connection's requests, then prints SERVED. */
    private void serve(Socket socket, SplittableRandom random) {
      String peer = addressText(socket.getInetAddress());
      int requests = 0;
      long bytesIn = 0;
      long bytesOut = 0;
      String line = "";
      try (socket) {
        socket.setSoTimeout(IDLE_MILLIS);
        LineStream io = new LineStream(socket);
        while ((line = io.readLine()) != null) {
          requests++;
          long count;
          if (line.startsWith("HELLO ")) {
            io.sendLine("HELLO " + LANG);
          } else if (line.startsWith("ECHO ")) {
            io.sendLine(line.substring(5));
          } else if ((count = countAfter(line, "UPLOAD ")) >= 0) {
            MessageDigest sha = sha256();
            io.readHashed(count, sha);
            bytesIn += count;
            io.sendLine(sha256Line(sha));
          } else if ((count = countAfter(line, "DOWNLOAD ")) >= 0) {
            MessageDigest sha = sha256();
            byte[] chunk = new byte[CHUNK];
            for (long left = count; left > 0; ) {
              int n = (int) Math.min(left, chunk.length);
              random.nextBytes(chunk);
              sha.update(chunk, 0, n);
              io.send(chunk, 0, n);
              left -= n;
              bytesOut += n;
            }
            io.sendLine(sha256Line(sha));
          } else if (line.equals("QUIT")) {
            io.sendLine("BYE");
            break;
          } else {
            io.sendLine("ERROR unknown-request");
            break;
          }
        }
      } catch (IOException e) {
        if (!stopping) {
          warn("connection from " + peer + ", at '" + abbreviate(line) + "': " + e);
        }
      }
      record("SERVED peer=" + peer + " requests=" + requests + " bytes_in=" + bytesIn
          + " bytes_out=" + bytesOut);
    }

    /** n of "PREFIXn" (decimal digits only), or -1 when the line is not that. */
    private static long countAfter(String line, String prefix) {
      if (!line.startsWith(prefix)) {
        return -1;
      }
      String digits = line.substring(prefix.length());
      if (digits.isEmpty() || !digits.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
        return -1;
      }
      try {
        return Long.parseLong(digits);
      } catch (NumberFormatException e) {
        return -1; // too large
      }
    }

    private static String abbreviate(String text) {
      return text.length() <= 40 ? text : text.substring(0, 40) + "...";
    }

    private void udpLoop(NTMDatagramSocket udp) {
      byte[] buffer = new byte[2048];
      while (!stopping) {
        DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
        try {
          udp.receive(packet);
          String text = new String(buffer, 0, packet.getLength(), StandardCharsets.ISO_8859_1);
          if (text.startsWith("PING ")) {
            byte[] pong = ("PONG" + text.substring(4)).getBytes(StandardCharsets.ISO_8859_1);
            udp.send(new DatagramPacket(pong, pong.length, packet.getSocketAddress()));
          }
        } catch (IOException e) {
          if (stopping || udp.isClosed()) {
            return;
          }
          warn("UDP: " + e.getMessage());
        }
      }
    }

    /** Waits (bounded) until every connection thread printed its SERVED record. */
    private void awaitConnections() {
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CONNECTIONS_GRACE_MILLIS);
      for (Thread t : List.copyOf(connections)) {
        long left = until - System.nanoTime();
        try {
          if (left > 0) {
            t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      if (!connections.isEmpty()) {
        warn(connections.size() + " connection(s) still open at exit");
      }
    }
  }

  // ---- client --------------------------------------------------------------------------------

  /** Runs the client steps for each family, then prints TUNNEL records and DONE. */
  static final class Client {
    private final Config config;
    private final NTMNode node;
    private final long deadline; // System.nanoTime() value
    private final SplittableRandom random = new SplittableRandom();
    private final Set<Closeable> open = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile int family;
    private volatile String step = "resolve";

    Client(Config config, NTMNode node, long deadline) {
      this.config = config;
      this.node = node;
      this.deadline = deadline;
    }

    /** Returns the exit status. */
    int run() {
      startWatchdog();
      for (int f : config.families) {
        family = f;
        if (!runFamily()) {
          return 1;
        }
      }
      try {
        for (TunnelInfo t : node.tunnels()) {
          record("TUNNEL peer=" + t.peerName() + " vip4=" + t.virtualIPv4()
              + " vip6=" + t.virtualIPv6() + " path=" + t.path().name().toLowerCase(Locale.ROOT)
              + " endpoint=" + t.endpoint() + " bytes_sent=" + t.bytesSent()
              + " bytes_received=" + t.bytesReceived());
        }
      } catch (NTMException e) {
        warn("tunnel table: " + e.getMessage());
        return 1;
      }
      if (!finished.compareAndSet(false, true)) {
        return 1; // the watchdog gave up on this run meanwhile
      }
      record("DONE lang=" + LANG);
      return 0;
    }

    /**
     * Bounds the blocking reads and writes, which have no timeout of their own: just after the
     * deadline it closes the open sockets (the blocked call then fails and is reported as a
     * timeout). The grace lets calls with their own deadline-bound timeout (connect, UDP
     * receive) return first: closing a socket under a connect in progress is not safe in lwIP.
     * If the run is still not over a little later (stuck outside a socket), it prints the FAIL
     * itself and stops the process.
     */
    private void startWatchdog() {
      Thread t = new Thread(() -> {
        parkUntil(deadline + CLOSE_GRACE_NANOS);
        if (finished.get()) {
          return;
        }
        for (Closeable c : open) {
          closeQuietly(c);
        }
        parkUntil(deadline + HARD_STOP_GRACE_NANOS);
        if (finished.compareAndSet(false, true)) {
          record("FAIL family=" + family + " step=" + step + " reason=timeout");
          Runtime.getRuntime().halt(1);
        }
      }, "deadline");
      t.setDaemon(true);
      t.start();
    }

    private static void parkUntil(long nanoTime) {
      for (long left; (left = nanoTime - System.nanoTime()) > 0; ) {
        LockSupport.parkNanos(left);
      }
    }

    private boolean deadlinePassed() {
      return System.nanoTime() - deadline >= 0;
    }

    private int millisLeft() throws SocketTimeoutException {
      long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
      if (left <= 0) {
        throw new SocketTimeoutException("deadline");
      }
      return (int) Math.min(Integer.MAX_VALUE, left);
    }

    /** All steps for the current family; prints RESULT or FAIL. */
    private boolean runFamily() {
      long started = System.nanoTime();
      step = "resolve";
      try {
        InetAddress address = resolve();
        step = "connect";
        String peerLang;
        try (NTMSocket socket = new NTMSocket()) {
          open.add(socket);
          socket.connect(new InetSocketAddress(address, config.port), millisLeft());
          LineStream io = new LineStream(socket);
          step = "hello";
          peerLang = hello(io);
          step = "echo";
          echoThree(io);
          step = "upload";
          upload(io);
          step = "download";
          download(io);
          step = "quit";
          io.sendLine("QUIT");
          expect(io.expectLine().equals("BYE"), "unexpected-reply");
        } finally {
          open.removeIf(c -> c instanceof NTMSocket);
        }
        step = "udp";
        pings(address);
        if (finished.get()) {
          return false; // the watchdog gave up on this run meanwhile
        }
        record(String.format(Locale.ROOT,
            "RESULT family=%d peer_lang=%s line=ok upload=ok download=ok udp=%d/%d seconds=%.3f",
            family, peerLang, config.udpCount, config.udpCount,
            (System.nanoTime() - started) / 1e9));
        return true;
      } catch (IOException | RuntimeException e) {
        if (finished.compareAndSet(false, true)) {
          record("FAIL family=" + family + " step=" + step + " reason=" + reason(e));
          warn("family " + family + ", step " + step + ": " + e);
        }
        return false;
      }
    }

    /** A short reason without spaces for a failure. */
    private String reason(Exception e) {
      if (e instanceof ProtocolFailure) {
        return e.getMessage();
      }
      if (e instanceof SocketTimeoutException || deadlinePassed()) {
        return "timeout";
      }
      if (e instanceof UnknownHostException) {
        return "unknown-name";
      }
      if (e instanceof EOFException) {
        return "connection-closed";
      }
      if (e instanceof NoRouteToHostException) {
        return "no-route-to-host";
      }
      String message = e.getMessage();
      if (e instanceof ConnectException && message != null && message.contains("ETIMEDOUT")) {
        return "timeout";
      }
      if (message == null || message.isBlank()) {
        return e.getClass().getSimpleName().toLowerCase(Locale.ROOT);
      }
      // The binding's messages end in "...: ERRNO: description"; the description is the reason.
      String tail = message.substring(message.lastIndexOf(": ") + 1);
      String slug = tail.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-")
          .replaceAll("^-|-$", "");
      return slug.isEmpty() ? "error" : slug.substring(0, Math.min(slug.length(), 60));
    }

    private static void expect(boolean condition, String reason) throws ProtocolFailure {
      if (!condition) {
        throw new ProtocolFailure(reason);
      }
    }

    /** The peer's virtual address of the current family, through the node's resolver. */
    private InetAddress resolve() throws IOException {
      for (InetAddress a : NTMResolver.getAllByName(config.peer)) {
        if (family == 4 ? a instanceof Inet4Address : a instanceof Inet6Address) {
          return a;
        }
      }
      throw new ProtocolFailure("no-ipv" + family + "-address");
    }

    private String hello(LineStream io) throws IOException {
      io.sendLine("HELLO " + LANG);
      String reply = io.expectLine();
      expect(reply.startsWith("HELLO ") && reply.length() > 6 && reply.indexOf(' ', 6) < 0,
          "unexpected-reply");
      return reply.substring(6);
    }

    private void echoThree(LineStream io) throws IOException {
      for (int i = 1; i <= 3; i++) {
        String text = LANG + "-" + family + "-" + i;
        io.sendLine("ECHO " + text);
        expect(io.expectLine().equals(text), "wrong-echo");
      }
    }

    /** Reads "SHA256 <hex>" and compares it with what went through `sha`. */
    private static void expectDigest(LineStream io, MessageDigest sha) throws IOException {
      String expected = sha256Line(sha);
      String reply = io.expectLine();
      expect(reply.startsWith("SHA256 "), "unexpected-reply");
      expect(reply.equals(expected), "sha256-mismatch");
    }

    private void upload(LineStream io) throws IOException {
      long total = config.bytes;
      io.sendLine("UPLOAD " + total);
      MessageDigest sha = sha256();
      byte[] chunk = new byte[CHUNK];
      AtomicLong sent = new AtomicLong();
      Progress progress = config.rateMbps > 0 ? Progress.start(family, sent) : null;
      try {
        long started = System.nanoTime();
        double bytesPerNano = config.rateMbps * 1e6 / 8 / 1e9;
        while (sent.get() < total) {
          int length = (int) Math.min(chunk.length, total - sent.get());
          random.nextBytes(chunk);
          sha.update(chunk, 0, length);
          if (progress == null) {
            io.send(chunk, 0, length);
            sent.addAndGet(length);
            continue;
          }
          // Writes of at least a pacing slice's worth (or the chunk's rest): the rate holds
          // without a flood of tiny writes at low rates.
          long slice = Math.max(1, (long) (PACE_SLICE_NANOS * bytesPerNano));
          for (int offset = 0; offset < length; ) {
            long quantum = Math.min(slice, length - offset);
            long allowed = (long) ((System.nanoTime() - started) * bytesPerNano) - sent.get();
            if (allowed < quantum) {
              millisLeft(); // throws at the deadline
              LockSupport.parkNanos((long) ((quantum - allowed) / bytesPerNano) + 1);
              continue;
            }
            int n = (int) Math.min(allowed, length - offset);
            io.send(chunk, offset, n);
            offset += n;
            sent.addAndGet(n);
          }
        }
      } finally {
        if (progress != null) {
          progress.stop();
        }
      }
      expectDigest(io, sha);
    }

    private void download(LineStream io) throws IOException {
      io.sendLine("DOWNLOAD " + config.bytes);
      MessageDigest sha = sha256();
      io.readHashed(config.bytes, sha);
      expectDigest(io, sha);
    }

    /** --udp-count PINGs, each retried until its PONG arrives. */
    private void pings(InetAddress address) throws IOException {
      try (NTMDatagramSocket socket = new NTMDatagramSocket()) {
        open.add(socket);
        byte[] buffer = new byte[2048];
        for (int i = 1; i <= config.udpCount; i++) {
          byte[] ping = ("PING " + LANG + "-" + family + "-" + i).getBytes(StandardCharsets.ISO_8859_1);
          String pong = "PONG " + LANG + "-" + family + "-" + i;
          boolean answered = false;
          for (int tries = 0; !answered && tries < PING_TRIES; tries++) {
            millisLeft();
            socket.send(new DatagramPacket(ping, ping.length, address, config.port));
            long retryAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PING_RETRY_MILLIS);
            while (!answered) {
              long wait = Math.min(TimeUnit.NANOSECONDS.toMillis(retryAt - System.nanoTime()),
                  millisLeft());
              if (wait <= 0) {
                break;
              }
              socket.setSoTimeout((int) wait);
              DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
              try {
                socket.receive(packet);
              } catch (SocketTimeoutException e) {
                break; // send again
              }
              // Anything else (a late PONG of an earlier try) is skipped.
              answered = pong.equals(
                  new String(buffer, 0, packet.getLength(), StandardCharsets.ISO_8859_1));
            }
          }
          expect(answered, "no-pong-for-ping-" + i);
        }
      } finally {
        open.removeIf(c -> c instanceof NTMDatagramSocket);
      }
    }
  }

  /**
   * PROGRESS records of a paced upload, from their own thread so that they keep coming while a
   * write blocks (e.g. while the path changes); the last one, after stop(), carries the total.
   */
  static final class Progress {
    private final int family;
    private final AtomicLong sent;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final Thread thread;

    private Progress(int family, AtomicLong sent) {
      this.family = family;
      this.sent = sent;
      this.thread = new Thread(this::loop, "progress");
      thread.setDaemon(true);
    }

    static Progress start(int family, AtomicLong sent) {
      Progress p = new Progress(family, sent);
      p.thread.start();
      return p;
    }

    private void loop() {
      try {
        do {
          print();
        } while (!stopped.await(PROGRESS_EVERY_MILLIS, TimeUnit.MILLISECONDS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    private void print() {
      record("PROGRESS family=" + family + " sent=" + sent.get());
    }

    /** Ends the ticks and prints the final count (after the last tick, never before one). */
    void stop() {
      stopped.countDown();
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      print();
    }
  }
}
