package org.ntmobile;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How to start a node ({@link NTMNode#start}); made with {@link #builder()}.
 *
 * <pre>{@code
 * NodeOptions options = NodeOptions.builder()
 *     .name("alice.example")
 *     .privateKey(alicePrivateKey)
 *     .virtualIPv4("100.64.0.1")
 *     .virtualIPv6("fd00:6e74:6d::1")
 *     .listen("127.0.0.1:0")
 *     .staticPeer(bob)
 *     .eventListener(event -> System.err.println(event))
 *     .build();
 * }</pre>
 *
 * <p>Two modes, as in ntm.h:
 *
 * <ul>
 *   <li>static-peer mode (no {@link Builder#server server}): name, private key and a virtual
 *       address are required, and every peer is listed with {@link Builder#staticPeer}.
 *   <li>control-plane mode ({@link Builder#server server} set): the node logs in to the Account
 *       Server with {@link Builder#account account} and {@link Builder#password password}, which
 *       gives it its name; the Direction Coordinator gives its virtual addresses and finds peers
 *       by name. Name and virtual addresses are then left unset; the private key is optional
 *       (see {@link Builder#stateDirectory}).
 * </ul>
 */
public final class NodeOptions {
  final String name;
  final String privateKey;
  final String virtualIPv4;
  final String virtualIPv6;
  final String listenIPv4;
  final String listenIPv6;
  final List<StaticPeer> peers;
  final Cipher cipher;
  final int mtu;
  final Duration idleTimeout;
  final LogLevel logLevel;
  final List<NodeEventListener> listeners;
  final String server;
  final String serverCertificate;
  final String account;
  final String password;
  final Path stateDirectory;
  final Duration directTimeout;
  final long memoryLimit;
  final int maxSockets;
  final int maxConnectionsPerPeer;
  final long maxSocketBuffer;
  final Duration keepaliveInterval;
  final Duration startTimeout;
  final Path controlSocket;

  private NodeOptions(Builder b) {
    this.name = b.name;
    this.privateKey = b.privateKey;
    this.virtualIPv4 = b.virtualIPv4;
    this.virtualIPv6 = b.virtualIPv6;
    this.listenIPv4 = b.listenIPv4;
    this.listenIPv6 = b.listenIPv6;
    this.peers = List.copyOf(b.peers);
    this.cipher = b.cipher;
    this.mtu = b.mtu;
    this.idleTimeout = b.idleTimeout;
    this.logLevel = b.logLevel;
    this.listeners = List.copyOf(b.listeners);
    this.server = b.server;
    this.serverCertificate = b.serverCertificate;
    this.account = b.account;
    this.password = b.password;
    this.stateDirectory = b.stateDirectory;
    this.directTimeout = b.directTimeout;
    this.memoryLimit = b.memoryLimit;
    this.maxSockets = b.maxSockets;
    this.maxConnectionsPerPeer = b.maxConnectionsPerPeer;
    this.maxSocketBuffer = b.maxSocketBuffer;
    this.keepaliveInterval = b.keepaliveInterval;
    this.startTimeout = b.startTimeout;
    this.controlSocket = b.controlSocket;
  }

  /** True when the node logs in to an Account Server (control-plane mode). */
  public boolean usesControlPlane() {
    return server != null;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** This node's name (FQDN). */
  public String name() {
    return name;
  }

  /** The static peers, in the order given. */
  public List<StaticPeer> peers() {
    return peers;
  }

  /** Never shows the private key or the password. */
  @Override
  public String toString() {
    if (server != null) {
      return "NodeOptions[control plane " + server + ", account=" + account + ", peers=" + peers
          + "]";
    }
    return "NodeOptions[" + name + ", " + virtualIPv4 + ", " + virtualIPv6 + ", peers=" + peers
        + "]";
  }

  /** Builds {@link NodeOptions}; name, private key and one virtual address are required. */
  public static final class Builder {
    private String name;
    private String privateKey;
    private String virtualIPv4;
    private String virtualIPv6;
    private String listenIPv4;
    private String listenIPv6;
    private final List<StaticPeer> peers = new ArrayList<>();
    private Cipher cipher;
    private int mtu;
    private Duration idleTimeout;
    private LogLevel logLevel;
    private final List<NodeEventListener> listeners = new ArrayList<>();
    private String server;
    private String serverCertificate;
    private String account;
    private String password;
    private Path stateDirectory;
    private Duration directTimeout;
    private long memoryLimit;
    private int maxSockets;
    private int maxConnectionsPerPeer;
    private long maxSocketBuffer;
    private Duration keepaliveInterval;
    private Duration startTimeout;
    private Path controlSocket;

    private Builder() {}

    /** This node's name (FQDN), e.g. "alice.example". Required in static-peer mode. */
    public Builder name(String name) {
      this.name = Objects.requireNonNull(name, "name");
      return this;
    }

    /**
     * This node's X25519 private key, base64 (see {@link KeyPair}). Required in static-peer
     * mode; in control-plane mode, unset means: load it from the state directory, or make one.
     */
    public Builder privateKey(String privateKey) {
      this.privateKey = Objects.requireNonNull(privateKey, "privateKey");
      return this;
    }

    /** This node's virtual IPv4 address, e.g. "100.64.0.1". */
    public Builder virtualIPv4(String address) {
      this.virtualIPv4 = address;
      return this;
    }

    /** This node's virtual IPv6 address, e.g. "fd00:6e74:6d::1". */
    public Builder virtualIPv6(String address) {
      this.virtualIPv6 = address;
      return this;
    }

    /**
     * Real UDP address to bind for IPv4, default "0.0.0.0:0" (any port); "" disables IPv4.
     */
    public Builder listenIPv4(String hostPort) {
      this.listenIPv4 = hostPort;
      return this;
    }

    /** Real UDP address to bind for IPv6, default "[::]:0"; "" disables IPv6. */
    public Builder listenIPv6(String hostPort) {
      this.listenIPv6 = hostPort;
      return this;
    }

    /**
     * The real UDP addresses to bind, one per family ("127.0.0.1:0", "[::1]:0"); families not
     * listed are disabled (as the C examples' --listen).
     */
    public Builder listen(String... hostPorts) {
      this.listenIPv4 = "";
      this.listenIPv6 = "";
      for (String hp : hostPorts) {
        if (hp.startsWith("[")) {
          this.listenIPv6 = hp;
        } else {
          this.listenIPv4 = hp;
        }
      }
      return this;
    }

    /** Adds a peer known in advance. */
    public Builder staticPeer(StaticPeer peer) {
      this.peers.add(Objects.requireNonNull(peer, "peer"));
      return this;
    }

    /** Tunnel AEAD; default {@link Cipher#AES_256_GCM}. */
    public Builder cipher(Cipher cipher) {
      this.cipher = cipher;
      return this;
    }

    /** Virtual MTU; 0 for the default 1420. */
    public Builder mtu(int mtu) {
      if (mtu < 0) {
        throw new IllegalArgumentException("mtu < 0");
      }
      this.mtu = mtu;
      return this;
    }

    /** Idle tunnels older than this are dropped (and rebuilt on demand); default 180 s. */
    public Builder idleTimeout(Duration timeout) {
      this.idleTimeout = timeout;
      return this;
    }

    /** libntm's logging to stderr; default {@link LogLevel#WARN}. */
    public Builder logLevel(LogLevel level) {
      this.logLevel = level;
      return this;
    }

    /** Adds a listener that sees every event from the start (including STARTED). */
    public Builder eventListener(NodeEventListener listener) {
      this.listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * The Account Server, "192.0.2.1:7800" or "[2001:db8::1]:7800": switches to control-plane
     * mode.
     */
    public Builder server(String hostPort) {
      this.server = hostPort;
      return this;
    }

    /** The Account Server's TLS certificate to trust (pinned): PEM text, or a PEM file's path. */
    public Builder serverCertificate(String pemOrPath) {
      this.serverCertificate = pemOrPath;
      return this;
    }

    /** Account name at the Account Server. */
    public Builder account(String account) {
      this.account = account;
      return this;
    }

    /** The account's password or one-time enrollment token. */
    public Builder password(String password) {
      this.password = password;
      return this;
    }

    /** Where the node keeps its key across restarts (control-plane mode); unset keeps nothing. */
    public Builder stateDirectory(Path directory) {
      this.stateDirectory = directory;
      return this;
    }

    /** How long hole punching may take before a tunnel falls back to a relay; default 1 s. */
    public Builder directTimeout(Duration timeout) {
      this.directTimeout = timeout;
      return this;
    }

    /**
     * The node's memory budget in bytes (socket buffers, queued packets, connection state): near
     * it receive windows shrink, at it new connections are refused. 0 for the default 256 MiB.
     */
    public Builder memoryLimit(long bytes) {
      this.memoryLimit = nonNegative(bytes, "memoryLimit");
      return this;
    }

    /** Size of the socket table (sockets open at once); 0 for the default 16384. */
    public Builder maxSockets(int count) {
      this.maxSockets = (int) nonNegative(count, "maxSockets");
      return this;
    }

    /** TCP connections one peer may hold open to this node at once; 0 for the default 1024. */
    public Builder maxConnectionsPerPeer(int count) {
      this.maxConnectionsPerPeer = (int) nonNegative(count, "maxConnectionsPerPeer");
      return this;
    }

    /** Upper bound of a TCP socket's auto-tuned buffers in bytes; 0 for the default 16 MiB. */
    public Builder maxSocketBuffer(long bytes) {
      this.maxSocketBuffer = nonNegative(bytes, "maxSocketBuffer");
      return this;
    }

    /** Interval of keepalives on idle tunnels (they keep NAT mappings open); default 25 s. */
    public Builder keepaliveInterval(Duration interval) {
      this.keepaliveInterval = interval;
      return this;
    }

    /** Control-plane mode: how long start keeps retrying a busy AS or DC; default 30 s. */
    public Builder startTimeout(Duration timeout) {
      this.startTimeout = timeout;
      return this;
    }

    /** Unix socket on which the node serves its local control API (`ntm status`); none. */
    public Builder controlSocket(Path path) {
      this.controlSocket = path;
      return this;
    }

    private static long nonNegative(long value, String what) {
      if (value < 0) {
        throw new IllegalArgumentException(what + " must not be negative (0 for the default)");
      }
      return value;
    }

    /**
     * Checks the mode's required options (the library checks the rest when the node starts).
     *
     * @throws IllegalArgumentException naming what is missing
     */
    public NodeOptions build() {
      if (server == null) {
        if (name == null || privateKey == null) {
          throw new IllegalArgumentException("a static-peer node needs a name and a private key");
        }
        if (virtualIPv4 == null && virtualIPv6 == null) {
          throw new IllegalArgumentException("a static-peer node needs a virtual IPv4 or IPv6 address");
        }
      } else {
        if (serverCertificate == null || account == null) {
          throw new IllegalArgumentException(
              "a control-plane node needs the server certificate and an account");
        }
        if (name != null || virtualIPv4 != null || virtualIPv6 != null) {
          throw new IllegalArgumentException(
              "in control-plane mode the servers assign the name and virtual addresses");
        }
      }
      return new NodeOptions(this);
    }
  }
}
