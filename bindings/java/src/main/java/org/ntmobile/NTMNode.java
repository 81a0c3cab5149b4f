package org.ntmobile;

import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.lang.ref.Reference;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.ntmobile.internal.LibraryLog;
import org.ntmobile.internal.NativeFd;
import org.ntmobile.internal.NtmApi;
import org.ntmobile.internal.NtmStructs;

/**
 * This process's ntmobile node: started from {@link NodeOptions}, stopped by {@link #close()}.
 * One node runs per process at a time (the C library's rule); while it runs, {@link NTMSocket},
 * {@link NTMServerSocket} and {@link NTMDatagramSocket} use its virtual addresses.
 *
 * <pre>{@code
 * try (NTMNode node = NTMNode.start(options)) {
 *   try (Socket s = new NTMSocket("bob.example", 7000)) { ... }
 * }
 * }</pre>
 */
public final class NTMNode implements AutoCloseable {
  private static final NtmApi API = NtmApi.INSTANCE;
  private static final Object LOCK = new Object();
  private static NTMNode current;
  private static boolean shutdownHookInstalled;

  /**
   * System property: "false" leaves out the shutdown hook that stops a node the application did
   * not close (the process still exits: libntm stops delivering callbacks and tears the node down
   * at exit on its own, only without the graceful end of open connections).
   */
  public static final String SHUTDOWN_HOOK_PROPERTY = "ntm.shutdownHook";

  /** How long the shutdown hook lets queued events reach their listeners. */
  private static final Duration HOOK_EVENT_DRAIN = Duration.ofMillis(500);

  private final List<NodeEventListener> listeners = new CopyOnWriteArrayList<>();
  private final ExecutorService events;
  private final NtmStructs.EventCallback callback;
  private volatile Thread eventThread;
  private volatile boolean running;

  private NTMNode(List<NodeEventListener> initial) {
    listeners.addAll(initial);
    events =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "ntm-events");
              t.setDaemon(true);
              eventThread = t;
              return t;
            });
    callback = this::onNativeEvent;
    // The library's event thread attaches to the JVM (as a daemon) for each event and detaches
    // after it: events are rare, and a JVM that exits then waits for no thread of ours in native
    // code (an attached idle thread made exits without the shutdown hook take up to a second).
    // libntm itself starts no callback once the process exits.
    Native.setCallbackThreadInitializer(
        callback, new CallbackThreadInitializer(true, true, "ntm-event-callback"));
  }

  /** The version of the loaded libntm, "MAJOR.MINOR.PATCH". */
  public static String libraryVersion() {
    return API.ntm_version();
  }

  /** The running node, if one was started through this class. */
  public static Optional<NTMNode> current() {
    synchronized (LOCK) {
      return Optional.ofNullable(current != null && current.running ? current : null);
    }
  }

  /**
   * Starts this process's node: binds the UDP sockets, brings up the virtual interface and loads
   * the peers. Returns once the node is usable.
   *
   * @throws NTMException EINVAL naming a bad option, ESTATE if a node already runs, EIO if a UDP
   *     address cannot be bound
   */
  public static NTMNode start(NodeOptions options) throws NTMException {
    synchronized (LOCK) {
      if (API.ntm_is_running() != 0) {
        throw NTMException.of(
            NTMException.ESTATE,
            "a node already runs in this process (one node per process): close it first");
      }
      NTMNode node = new NTMNode(options.listeners);
      NtmStructs.Options o = new NtmStructs.Options();
      int rc = API.ntm_options_init(o, NtmStructs.OPTIONS_VERSION);
      if (rc == NtmApi.NTM_EVERSION && !options.usesControlPlane()) {
        // An older libntm (version 1 options only) still runs static-peer nodes.
        rc = API.ntm_options_init(o, NtmStructs.OPTIONS_VERSION_STATIC_ONLY);
      }
      check(rc, "ntm_options_init");
      o.name = options.name;
      o.private_key = options.privateKey;
      o.virtual_ipv4 = options.virtualIPv4;
      o.virtual_ipv6 = options.virtualIPv6;
      if (options.listenIPv4 != null) {
        o.listen_ipv4 = options.listenIPv4;
      }
      if (options.listenIPv6 != null) {
        o.listen_ipv6 = options.listenIPv6;
      }
      NtmStructs.StaticPeer[] peers = null;
      if (!options.peers.isEmpty()) {
        peers = (NtmStructs.StaticPeer[]) new NtmStructs.StaticPeer().toArray(options.peers.size());
        for (int i = 0; i < peers.length; i++) {
          StaticPeer p = options.peers.get(i);
          check(API.ntm_static_peer_init(peers[i], NtmStructs.STATIC_PEER_VERSION), "peer init");
          peers[i].name = p.name();
          peers[i].public_key = p.publicKey();
          peers[i].endpoint = p.endpoint();
          peers[i].virtual_ipv4 = p.virtualIPv4();
          peers[i].virtual_ipv6 = p.virtualIPv6();
          peers[i].write();
        }
        o.peers = peers[0].getPointer();
        o.peer_count = peers.length;
      }
      if (options.cipher != null) {
        o.cipher = options.cipher.code;
      }
      o.mtu = options.mtu;
      if (options.idleTimeout != null) {
        o.idle_timeout_ms = (int) Math.min(Integer.MAX_VALUE, options.idleTimeout.toMillis());
      }
      if (options.logLevel != null) {
        o.log_level = options.logLevel.code;
      }
      o.event_cb = node.callback;
      o.server = options.server;
      o.server_certificate = options.serverCertificate;
      o.account = options.account;
      o.password = options.password;
      o.state_dir = options.stateDirectory == null ? null : options.stateDirectory.toString();
      if (options.directTimeout != null) {
        o.direct_timeout_ms = millis(options.directTimeout);
      }
      o.memory_limit = options.memoryLimit;
      o.max_sockets = options.maxSockets;
      o.max_connections_per_peer = options.maxConnectionsPerPeer;
      o.max_socket_buffer = options.maxSocketBuffer;
      if (options.keepaliveInterval != null) {
        o.keepalive_interval_ms = millis(options.keepaliveInterval);
      }
      if (options.startTimeout != null) {
        o.start_timeout_ms = millis(options.startTimeout);
      }
      o.control_socket = options.controlSocket == null ? null : options.controlSocket.toString();
      NativeFd.nextNodeRun();
      LibraryLog.install();
      rc = API.ntm_start(o);
      if (rc != NtmApi.NTM_OK) {
        String message = API.ntm_last_error();
        node.events.shutdownNow();
        throw NTMException.of(rc, "ntm_start: " + API.ntm_strerror(rc) + ": " + message);
      }
      Reference.reachabilityFence(peers); // ntm_start copied the peer array; keep it till then
      node.running = true;
      current = node;
      installShutdownHook();
      return node;
    }
  }

  /**
   * Stops a node still running when the JVM exits (main returned, System.exit, SIGTERM, Ctrl-C),
   * while the JVM can still run the last event callbacks: connections end with FIN, peers see
   * the tunnel go.
   */
  private static void installShutdownHook() {
    if (shutdownHookInstalled
        || "false".equalsIgnoreCase(System.getProperty(SHUTDOWN_HOOK_PROPERTY, "true"))) {
      return;
    }
    Thread hook = new Thread(NTMNode::closeAtExit, "ntm-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    shutdownHookInstalled = true;
  }

  private static void closeAtExit() {
    NTMNode node;
    synchronized (LOCK) {
      node = current;
    }
    if (node != null) {
      node.close(HOOK_EVENT_DRAIN);
    }
    LibraryLog.uninstall(); // the JVM is going away: the last lines go to stderr
  }

  /**
   * Which lines libntm logs from now on (to the {@code org.ntmobile.*} System.Loggers once a
   * node started, else stderr). {@link NodeOptions} sets it again when a node starts.
   */
  public static void setLibraryLogLevel(LogLevel level) throws NTMException {
    check(API.ntm_set_log_level(level.code), "ntm_set_log_level");
  }

  /** A duration in whole milliseconds for an unsigned int field (clamped; negative is 0). */
  private static int millis(Duration d) {
    return (int) Math.max(0, Math.min(Integer.MAX_VALUE, d.toMillis()));
  }

  private static void check(int rc, String what) throws NTMException {
    if (rc != NtmApi.NTM_OK) {
      throw NTMException.of(rc, what + ": " + API.ntm_strerror(rc) + ": " + API.ntm_last_error());
    }
  }

  /** Runs on the library's event thread: copy the event and hand it to the Java thread. */
  private void onNativeEvent(Pointer eventPointer, Pointer userData) {
    try {
      NtmStructs.Event e = new NtmStructs.Event(eventPointer);
      NodeEvent event =
          new NodeEvent(
              NodeEvent.Type.of(e.type),
              nz(e.peer_name),
              nz(e.peer_node_id),
              nz(e.endpoint),
              PathKind.of(e.path),
              nz(e.message));
      events.execute(() -> deliver(event));
    } catch (Throwable t) {
      // Nothing may propagate into the C library; a rejected event (node closing) is dropped.
    }
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }

  private void deliver(NodeEvent event) {
    for (NodeEventListener l : listeners) {
      try {
        l.onEvent(event);
      } catch (RuntimeException e) {
        Thread t = Thread.currentThread();
        t.getUncaughtExceptionHandler().uncaughtException(t, e);
      }
    }
  }

  /** Adds a listener for events from now on. */
  public void addEventListener(NodeEventListener listener) {
    listeners.add(listener);
  }

  public void removeEventListener(NodeEventListener listener) {
    listeners.remove(listener);
  }

  /** True until {@link #close()}. */
  public boolean isRunning() {
    return running;
  }

  /**
   * Tells the node that the host's network changed (a new Wi-Fi or mobile network, an address
   * came or went), for applications that hear it first; on Linux the node also watches the
   * host's addresses itself. The node sends an authenticated path update to each peer from its
   * new address, registers again with the DC and makes TCP connections retransmit at once;
   * connections on virtual addresses survive. Returns at once.
   *
   * @throws NTMException if the node is not running
   */
  public void notifyNetworkChange() throws NTMException {
    check(API.ntm_notify_network_change(), "ntm_notify_network_change");
  }

  /** This node's identity, addresses and bound UDP endpoints. */
  public NodeInfo info() throws NTMException {
    NtmStructs.NodeInfo i = new NtmStructs.NodeInfo();
    check(API.ntm_get_node_info(i), "ntm_get_node_info");
    return new NodeInfo(
        NtmStructs.text(i.node_id),
        NtmStructs.text(i.name),
        NtmStructs.text(i.public_key),
        literal(NtmStructs.text(i.virtual_ipv4)).map(a -> (Inet4Address) a),
        literal(NtmStructs.text(i.virtual_ipv6)).map(a -> (Inet6Address) a),
        NtmStructs.text(i.endpoint_ipv4),
        NtmStructs.text(i.endpoint_ipv6),
        i.mtu);
  }

  /** This node's virtual IPv4 address, if it has one. */
  public Optional<Inet4Address> virtualIPv4() throws NTMException {
    return info().virtualIPv4();
  }

  /** This node's virtual IPv6 address, if it has one. */
  public Optional<Inet6Address> virtualIPv6() throws NTMException {
    return info().virtualIPv6();
  }

  /** A literal address (never a name lookup); empty for "". */
  private static Optional<InetAddress> literal(String text) {
    if (text.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(InetAddress.getByName(text)); // numeric: parsed, not resolved
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  /** A snapshot of the tunnel table. */
  public List<TunnelInfo> tunnels() throws NTMException {
    PointerByReference rows = new PointerByReference();
    LongByReference count = new LongByReference();
    check(API.ntm_tunnels_snapshot(rows, count), "ntm_tunnels_snapshot");
    Pointer base = rows.getValue();
    List<TunnelInfo> out = new ArrayList<>();
    try {
      if (base != null && count.getValue() > 0) {
        NtmStructs.TunnelInfo first = new NtmStructs.TunnelInfo(base);
        NtmStructs.TunnelInfo[] all =
            (NtmStructs.TunnelInfo[]) first.toArray((int) count.getValue());
        for (NtmStructs.TunnelInfo t : all) {
          t.read();
          out.add(
              new TunnelInfo(
                  NtmStructs.text(t.peer_name),
                  NtmStructs.text(t.peer_node_id),
                  NtmStructs.text(t.virtual_ipv4),
                  NtmStructs.text(t.virtual_ipv6),
                  TunnelState.of(t.state),
                  PathKind.of(t.path),
                  NtmStructs.text(t.endpoint),
                  Integer.toUnsignedLong(t.local_path_id),
                  t.bytes_sent,
                  t.bytes_received,
                  t.packets_sent,
                  t.packets_received,
                  t.last_activity_ms < 0
                      ? Optional.empty()
                      : Optional.of(Duration.ofMillis(t.last_activity_ms)),
                  t.session_age_ms < 0
                      ? Optional.empty()
                      : Optional.of(Duration.ofMillis(t.session_age_ms)),
                  t.rtt_us < 0 ? Optional.empty() : Optional.of(Duration.ofNanos(t.rtt_us * 1000)),
                  t.path_mtu));
        }
      }
    } finally {
      API.ntm_tunnels_free(base);
    }
    return out;
  }

  /** The node's counters since it started. */
  public NodeStats stats() throws NTMException {
    NtmStructs.Stats s = new NtmStructs.Stats();
    check(API.ntm_get_stats(s), "ntm_get_stats");
    return new NodeStats(
        s.packets_sent,
        s.packets_received,
        s.bytes_sent,
        s.bytes_received,
        s.dropped_malformed,
        s.dropped_unknown_path,
        s.dropped_auth,
        s.dropped_replay,
        s.dropped_no_tunnel,
        s.handshakes_completed,
        s.handshakes_failed,
        s.dropped_spoofed,
        s.dropped_policy,
        s.dropped_limit,
        s.handshakes_initiated,
        s.logins,
        s.registrations,
        s.network_changes,
        s.resolves_sent,
        s.directions_received,
        s.dc_keepalives_sent,
        s.dc_keepalives_missed,
        s.relay_fallbacks,
        s.direct_upgrades,
        s.tcp_connections,
        s.memory_used);
  }

  /**
   * Stops the node (ntm_stop): connections already closed get up to 2 seconds to deliver their
   * last bytes, then every ntm socket is closed (blocked calls fail with "Socket closed"), the
   * tunnels are torn down and the UDP sockets released. Then the remaining events are delivered.
   * Idempotent.
   */
  @Override
  public void close() {
    close(Duration.ofSeconds(5));
  }

  private void close(Duration eventDrain) {
    synchronized (LOCK) {
      if (!running) {
        return;
      }
      running = false;
      NativeFd.nextNodeRun();
      API.ntm_stop();
      if (current == this) {
        current = null;
      }
    }
    events.shutdown();
    if (Thread.currentThread() != eventThread) {
      try {
        events.awaitTermination(eventDrain.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public String toString() {
    return "NTMNode[running=" + running + "]";
  }
}
