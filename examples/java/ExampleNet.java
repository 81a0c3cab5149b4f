// ExampleNet: the node-side plumbing the Java examples share - starting and stopping the node,
// a server's listener, accept loop and orderly stop (Server), connecting by node name within a
// deadline, the tunnel table in the examples' common one-line format (the same as the C, Python
// and Ruby examples print), closing a connection without losing the last answer, address
// formatting, and a UTF-8 stdout.

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import org.ntmobile.NTMException;
import org.ntmobile.NTMNode;
import org.ntmobile.NTMResolver;
import org.ntmobile.NTMServerSocket;
import org.ntmobile.NTMSocket;
import org.ntmobile.NodeInfo;
import org.ntmobile.NodeOptions;
import org.ntmobile.TunnelInfo;

final class ExampleNet {
  /**
   * Standard output in UTF-8, flushed at every println: chat lines are UTF-8 whatever the
   * locale says, and a test reading the output sees each line as soon as it is printed.
   */
  static final PrintStream OUT =
      new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);

  private ExampleNet() {}

  /** Starts a client's node, or prints "PROGRAM: cannot start the node: ..." and exits with 1. */
  static NTMNode startNode(String program, NodeOptions options) {
    try {
      return NTMNode.start(options);
    } catch (NTMException e) {
      System.err.println(program + ": cannot start the node: " + e.getMessage());
      System.exit(1);
      return null; // not reached
    }
  }

  /** The end of a client: the tunnel table if asked, then the node closes and the JVM exits. */
  static void stopNode(NTMNode node, boolean showTunnels, int status) {
    if (showTunnels) {
      printTunnels(node, OUT);
    }
    node.close();
    System.exit(status);
  }

  /**
   * A server's node: a listener on one port of every virtual address (IPv4 and IPv6, through
   * NTMServerSocket - a java.net.ServerSocket), an accept thread, and one thread per connection.
   * The program waits in {@link #awaitStop}, closes what it owns, then calls {@link #stop}.
   */
  static final class Server {
    private final String program;
    private final StopSignal stop;
    private final NTMNode node;
    private final ServerSocket listener;
    /** Connections being served and their threads, for {@link #closeConnections}. */
    private final Map<Socket, Thread> connections = new ConcurrentHashMap<>();

    private Server(String program, StopSignal stop, NTMNode node, ServerSocket listener) {
      this.program = program;
      this.stop = stop;
      this.node = node;
      this.listener = listener;
    }

    /**
     * Starts the node, listens on {@code port}, prints {@code readyLine} of the node's info on
     * stdout and accepts connections, each served by {@code serve} in a thread of its own (the
     * socket is closed when it returns). Exits with status 1 after "PROGRAM: cannot start: ..."
     * when the node or the listener cannot start.
     */
    static Server start(
        String program,
        NodeOptions options,
        int port,
        Function<NodeInfo, String> readyLine,
        Consumer<Socket> serve) {
      StopSignal stop = new StopSignal();
      NTMNode node = null;
      Server server = null;
      try {
        node = NTMNode.start(options);
        server = new Server(program, stop, node, new NTMServerSocket(port));
        OUT.println(readyLine.apply(node.info()));
      } catch (IOException e) { // NTMException (the node) or the listener
        System.err.println(program + ": cannot start: " + e.getMessage());
        if (node != null) {
          node.close();
        }
        System.exit(1);
      }
      Server accepting = server;
      Thread acceptor = new Thread(() -> accepting.acceptConnections(serve), program + "-accept");
      acceptor.setDaemon(true);
      acceptor.start();
      return server;
    }

    /** Blocks until SIGINT/SIGTERM, then closes the listener (no new connections). */
    void awaitStop() {
      stop.await();
      System.err.println(program + ": stopping");
      try {
        listener.close(); // ends the accept loop
      } catch (IOException e) {
        // closing anyway
      }
    }

    /** Closes every connection still served and waits up to {@code wait} for their threads. */
    void closeConnections(Duration wait) {
      connections.keySet().forEach(ExampleNet::closeQuietly);
      long until = System.nanoTime() + wait.toNanos();
      for (Thread thread : connections.values()) {
        try {
          thread.join(Math.max(1, (until - System.nanoTime()) / 1_000_000));
        } catch (InterruptedException e) {
          break;
        }
      }
    }

    /** Prints the tunnel table if asked, closes the node and exits with status 0. */
    void stop(boolean showTunnels) {
      if (showTunnels) {
        printTunnels(node, OUT);
      }
      node.close(); // also closes the connections still open
      stop.done();
    }

    private void acceptConnections(Consumer<Socket> serve) {
      while (!listener.isClosed()) {
        try {
          Socket connection = listener.accept();
          Thread thread =
              new Thread(() -> serveOne(connection, serve), program + "-" + connection.getPort());
          thread.setDaemon(true);
          connections.put(connection, thread);
          thread.start();
        } catch (IOException e) {
          if (!listener.isClosed()) {
            System.err.println(program + ": accept failed: " + e.getMessage());
          }
        }
      }
    }

    private void serveOne(Socket connection, Consumer<Socket> serve) {
      try {
        serve.accept(connection);
      } finally {
        closeQuietly(connection);
        connections.remove(connection);
      }
    }
  }

  /** A "NAME:PORT" (or "[v6]:PORT") target. */
  record Target(String host, int port) {
    /** Parses the text, or returns empty when it is not HOST:PORT with a port 1-65535. */
    static Optional<Target> parse(String text) {
      int colon = text.lastIndexOf(':');
      if (colon <= 0) {
        return Optional.empty();
      }
      String host = text.substring(0, colon);
      if (host.startsWith("[") && host.endsWith("]")) {
        host = host.substring(1, host.length() - 1);
      }
      try {
        int port = Integer.parseInt(text.substring(colon + 1));
        return port >= 1 && port <= 65535 && !host.isEmpty()
            ? Optional.of(new Target(host, port))
            : Optional.empty();
      } catch (NumberFormatException e) {
        return Optional.empty();
      }
    }

    @Override
    public String toString() {
      return host + ":" + port;
    }
  }

  /**
   * Resolves the target's name through the node (never the system's DNS), takes its virtual
   * IPv4 address (or IPv6) and connects within {@code timeout}.
   *
   * @throws UnknownHostException for an unknown name or one without an address of that family
   * @throws IOException when the connection fails (refused, no route, timed out)
   */
  static NTMSocket connect(Target target, boolean ipv6, Duration timeout) throws IOException {
    InetAddress address = null;
    for (InetAddress a : NTMResolver.getAllByName(target.host())) {
      if ((a instanceof Inet6Address) == ipv6) {
        address = a;
        break;
      }
    }
    if (address == null) {
      throw new UnknownHostException(
          target.host() + " has no virtual IPv" + (ipv6 ? "6" : "4") + " address");
    }
    NTMSocket socket = new NTMSocket();
    try {
      socket.connect(
          new InetSocketAddress(address, target.port()), (int) Math.max(1, timeout.toMillis()));
    } catch (IOException e) {
      socket.close();
      throw e;
    }
    return socket;
  }

  /**
   * Prints the node's tunnel table, one line per tunnel:
   * {@code tunnel <peer> vip4=<a> vip6=<a> path=<direct|relay|none> endpoint=<host:port>
   * sent=<n> received=<n>}.
   */
  static void printTunnels(NTMNode node, PrintStream out) {
    try {
      for (TunnelInfo t : node.tunnels()) {
        out.printf(
            "tunnel %s vip4=%s vip6=%s path=%s endpoint=%s sent=%d received=%d%n",
            t.peerName(),
            t.virtualIPv4(),
            t.virtualIPv6(),
            t.path().name().toLowerCase(Locale.ROOT),
            t.endpoint(),
            t.bytesSent(),
            t.bytesReceived());
      }
      out.flush();
    } catch (NTMException e) {
      System.err.println("cannot read the tunnel table: " + e.getMessage());
    }
  }

  /** "vip4 100.64.0.2, vip6 fd00:6e74:6d::2" ("-" for an address the node does not have). */
  static String virtualAddresses(NodeInfo info) {
    return "vip4 "
        + info.virtualIPv4().map(ExampleNet::text).orElse("-")
        + ", vip6 "
        + info.virtualIPv6().map(ExampleNet::text).orElse("-");
  }

  /**
   * An address as text; IPv6 in its short form (RFC 5952: "fd00:6e74:6d::2", where Java's
   * getHostAddress gives "fd00:6e74:6d:0:0:0:0:2"), so every language prints the same.
   */
  static String text(InetAddress address) {
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
      i = j == i ? i + 1 : j;
    }
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        s.append("::");
        i += bestLength - 1;
        continue;
      }
      if (s.length() > 0 && s.charAt(s.length() - 1) != ':') {
        s.append(':');
      }
      s.append(Integer.toHexString(groups[i]));
    }
    return s.toString();
  }

  /**
   * Ends a connection after a final answer without destroying it: half-closes (FIN after the
   * answer), reads and drops what the peer still sends for a moment, then closes. Closing with
   * unread data would reset the connection, and a reset can discard the answer before the peer
   * has read it.
   */
  static void closeGently(Socket socket) {
    try (socket) {
      socket.shutdownOutput();
      socket.setSoTimeout(2000);
      InputStream in = socket.getInputStream();
      byte[] sink = new byte[16384];
      long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (System.nanoTime() < until && in.read(sink) >= 0) {
        // drain
      }
    } catch (SocketTimeoutException e) {
      // the peer keeps the connection open: close it now
    } catch (IOException e) {
      // already closed or reset: nothing left to protect
    }
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
