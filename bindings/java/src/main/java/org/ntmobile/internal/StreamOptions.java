package org.ntmobile.internal;

import java.net.SocketException;
import java.net.SocketOption;
import java.net.SocketOptions;
import java.net.StandardSocketOptions;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import jdk.net.ExtendedSocketOptions;

/**
 * A stream socket's options ({@link SocketOptions} IDs and {@link StandardSocketOptions}):
 * remembered, so they can be applied when the descriptor is created, and applied at once when
 * it exists. SO_BINDADDR is the socket's own business ({@link NtmSocketImpl}).
 *
 * <p>What the virtual stack has: SO_TIMEOUT (as SO_RCVTIMEO), TCP_NODELAY, SO_KEEPALIVE,
 * SO_REUSEADDR, SO_RCVBUF, and jdk.net's TCP_KEEPIDLE, TCP_KEEPINTERVAL, TCP_KEEPCOUNT (the same
 * options, applied the same way, as the Python and Ruby bindings' setsockopt). Kept and reported but without effect: SO_SNDBUF (lwIP's send buffer is
 * fixed), SO_LINGER (lwIP is built without it; close always lingers in the background, up to 2 s
 * at ntm_stop), IP_TOS (no TOS crosses the tunnel), SO_OOBINLINE (no urgent data).
 */
final class StreamOptions {
  /** lwIP's send buffer (TCP_SND_BUF), reported for SO_SNDBUF. */
  private static final int STACK_SEND_BUFFER = 512 * 1024;
  /** lwIP's default receive buffer (RECV_BUFSIZE_DEFAULT), reported before there is a socket. */
  private static final int STACK_RECEIVE_BUFFER = 8 * 1024 * 1024;

  /** jdk.net's keepalive timers and the TCP_* option each one sets. */
  private static final Map<SocketOption<Integer>, Integer> KEEPALIVE_TIMERS =
      Map.of(
          ExtendedSocketOptions.TCP_KEEPIDLE, Posix.TCP_KEEPIDLE,
          ExtendedSocketOptions.TCP_KEEPINTERVAL, Posix.TCP_KEEPINTVL,
          ExtendedSocketOptions.TCP_KEEPCOUNT, Posix.TCP_KEEPCNT);

  private static final Set<SocketOption<?>> CLIENT_OPTIONS = clientOptions();

  private static Set<SocketOption<?>> clientOptions() {
    Set<SocketOption<?>> all =
        new HashSet<>(
            Set.of(
                StandardSocketOptions.SO_KEEPALIVE,
                StandardSocketOptions.SO_SNDBUF,
                StandardSocketOptions.SO_RCVBUF,
                StandardSocketOptions.SO_REUSEADDR,
                StandardSocketOptions.SO_LINGER,
                StandardSocketOptions.IP_TOS,
                StandardSocketOptions.TCP_NODELAY));
    all.addAll(KEEPALIVE_TIMERS.keySet());
    return Set.copyOf(all);
  }
  private static final Set<SocketOption<?>> SERVER_OPTIONS =
      Set.of(StandardSocketOptions.SO_RCVBUF, StandardSocketOptions.SO_REUSEADDR);

  private final boolean server;
  private volatile int timeoutMs;
  private volatile boolean tcpNoDelay;
  private volatile boolean keepAlive;
  private volatile boolean reuseAddress;
  private volatile int receiveBuffer = -1;
  private volatile int sendBufferHint = -1;
  private volatile int lingerHint = -1;
  private volatile int trafficClassHint;
  private volatile boolean oobInlineHint;
  /** Keepalive timers set by the application (TCP_KEEP* option number -> value). */
  private final Map<Integer, Integer> keepaliveTimers = new ConcurrentHashMap<>();

  StreamOptions(boolean server) {
    this.server = server;
  }

  /** SO_TIMEOUT in milliseconds; 0 waits forever. */
  int timeoutMs() {
    return timeoutMs;
  }

  /** Applies the remembered options to a new descriptor (listeners always reuse addresses). */
  void applyOnOpen(int fd) throws SocketException {
    if (reuseAddress || server) {
      SocketCalls.setInt(fd, Posix.SOL_SOCKET, Posix.SO_REUSEADDR, 1, "SO_REUSEADDR");
    }
    applyConnectionOptions(fd);
    if (timeoutMs > 0) {
      SocketCalls.setReceiveTimeout(fd, timeoutMs);
    }
  }

  /**
   * Applies the options to an accepted connection; {@code listenerHadTimeout}: the listener's
   * SO_RCVTIMEO may have been inherited and is replaced by this socket's own.
   */
  void applyOnAccept(int fd, boolean listenerHadTimeout) throws SocketException {
    if (listenerHadTimeout || timeoutMs > 0) {
      SocketCalls.setReceiveTimeout(fd, timeoutMs);
    }
    applyConnectionOptions(fd);
  }

  private void applyConnectionOptions(int fd) throws SocketException {
    if (tcpNoDelay) {
      SocketCalls.setInt(fd, Posix.IPPROTO_TCP, Posix.TCP_NODELAY, 1, "TCP_NODELAY");
    }
    if (keepAlive) {
      SocketCalls.setInt(fd, Posix.SOL_SOCKET, Posix.SO_KEEPALIVE, 1, "SO_KEEPALIVE");
    }
    if (receiveBuffer > 0) {
      SocketCalls.setInt(fd, Posix.SOL_SOCKET, Posix.SO_RCVBUF, receiveBuffer, "SO_RCVBUF");
    }
    for (Map.Entry<Integer, Integer> t : keepaliveTimers.entrySet()) {
      SocketCalls.setInt(fd, Posix.IPPROTO_TCP, t.getKey(), t.getValue(), "TCP_KEEP*");
    }
  }

  /** True for jdk.net's keepalive timers, which have no SocketOptions ID. */
  static boolean isKeepaliveTimer(SocketOption<?> name) {
    return KEEPALIVE_TIMERS.containsKey(name);
  }

  /** Sets a keepalive timer (seconds, or a count); applied at once when there is a descriptor. */
  void setKeepaliveTimer(SocketOption<?> name, Object value, NativeFd h) throws SocketException {
    if (!(value instanceof Integer) || (Integer) value < 1) {
      throw new IllegalArgumentException("'" + name + "' needs a positive Integer, not " + value);
    }
    int option = KEEPALIVE_TIMERS.get(name);
    int v = (Integer) value;
    keepaliveTimers.put(option, v);
    onDescriptor(h, fd -> SocketCalls.setInt(fd, Posix.IPPROTO_TCP, option, v, name.name()));
  }

  /** Reads a keepalive timer: the connection's value, or the one set before it existed. */
  int keepaliveTimer(SocketOption<?> name, NativeFd h) throws SocketException {
    int option = KEEPALIVE_TIMERS.get(name);
    if (h != null) {
      int fd = h.acquire();
      try {
        return SocketCalls.getInt(fd, Posix.IPPROTO_TCP, option, name.name());
      } finally {
        h.release();
      }
    }
    return keepaliveTimers.getOrDefault(option, 0);
  }

  /** Runs {@code action} on the descriptor if there is one (else it waits for applyOnOpen). */
  private static void onDescriptor(NativeFd h, FdAction action) throws SocketException {
    if (h == null) {
      return;
    }
    int fd = h.acquire();
    try {
      action.run(fd);
    } finally {
      h.release();
    }
  }

  private interface FdAction {
    void run(int fd) throws SocketException;
  }

  /** SocketImpl.setOption: {@code h} is the descriptor, or null before there is one. */
  void set(int optID, Object value, NativeFd h) throws SocketException {
    switch (optID) {
      case SocketOptions.SO_TIMEOUT:
        {
          int t = (Integer) value;
          if (t < 0) {
            throw new IllegalArgumentException("timeout < 0");
          }
          timeoutMs = t;
          onDescriptor(h, fd -> SocketCalls.setReceiveTimeout(fd, t));
          return;
        }
      case SocketOptions.TCP_NODELAY:
        {
          boolean on = (Boolean) value;
          tcpNoDelay = on;
          onDescriptor(
              h,
              fd ->
                  SocketCalls.setInt(
                      fd, Posix.IPPROTO_TCP, Posix.TCP_NODELAY, on ? 1 : 0, "TCP_NODELAY"));
          return;
        }
      case SocketOptions.SO_KEEPALIVE:
        {
          boolean on = (Boolean) value;
          keepAlive = on;
          onDescriptor(
              h,
              fd ->
                  SocketCalls.setInt(
                      fd, Posix.SOL_SOCKET, Posix.SO_KEEPALIVE, on ? 1 : 0, "SO_KEEPALIVE"));
          return;
        }
      case SocketOptions.SO_REUSEADDR:
        {
          boolean on = (Boolean) value;
          reuseAddress = on;
          onDescriptor(
              h,
              fd ->
                  SocketCalls.setInt(
                      fd, Posix.SOL_SOCKET, Posix.SO_REUSEADDR, on ? 1 : 0, "SO_REUSEADDR"));
          return;
        }
      case SocketOptions.SO_RCVBUF:
        {
          int size = (Integer) value;
          if (size <= 0) {
            throw new IllegalArgumentException("receive buffer size <= 0");
          }
          receiveBuffer = size;
          onDescriptor(
              h, fd -> SocketCalls.setInt(fd, Posix.SOL_SOCKET, Posix.SO_RCVBUF, size, "SO_RCVBUF"));
          return;
        }
      case SocketOptions.SO_SNDBUF:
        if ((Integer) value <= 0) {
          throw new IllegalArgumentException("send buffer size <= 0");
        }
        sendBufferHint = (Integer) value;
        return;
      case SocketOptions.SO_LINGER:
        lingerHint = value instanceof Integer ? (Integer) value : -1;
        return;
      case SocketOptions.IP_TOS:
        trafficClassHint = (Integer) value;
        return;
      case SocketOptions.SO_OOBINLINE:
        oobInlineHint = (Boolean) value;
        return;
      default:
        throw new SocketException("socket option " + optID + " is not supported by ntmobile");
    }
  }

  /** SocketImpl.getOption (all but SO_BINDADDR). */
  Object get(int optID, NativeFd h) throws SocketException {
    switch (optID) {
      case SocketOptions.SO_TIMEOUT:
        return timeoutMs;
      case SocketOptions.TCP_NODELAY:
        return tcpNoDelay;
      case SocketOptions.SO_KEEPALIVE:
        return keepAlive;
      case SocketOptions.SO_REUSEADDR:
        return reuseAddress || server;
      case SocketOptions.SO_RCVBUF:
        if (h != null) {
          int fd = h.acquire();
          try {
            return SocketCalls.getInt(fd, Posix.SOL_SOCKET, Posix.SO_RCVBUF, "SO_RCVBUF");
          } finally {
            h.release();
          }
        }
        return receiveBuffer > 0 ? receiveBuffer : STACK_RECEIVE_BUFFER;
      case SocketOptions.SO_SNDBUF:
        return sendBufferHint > 0 ? sendBufferHint : STACK_SEND_BUFFER;
      case SocketOptions.SO_LINGER:
        return lingerHint < 0 ? (Object) Boolean.FALSE : (Object) lingerHint;
      case SocketOptions.IP_TOS:
        return trafficClassHint;
      case SocketOptions.SO_OOBINLINE:
        return oobInlineHint;
      default:
        throw new SocketException("socket option " + optID + " is not supported by ntmobile");
    }
  }

  /** The StandardSocketOptions a client (or listening) socket takes. */
  Set<SocketOption<?>> supported() {
    return server ? SERVER_OPTIONS : CLIENT_OPTIONS;
  }

  /** The SocketOptions ID of a supported standard option. */
  static int legacyId(SocketOption<?> name) {
    if (name == StandardSocketOptions.SO_KEEPALIVE) return SocketOptions.SO_KEEPALIVE;
    if (name == StandardSocketOptions.SO_SNDBUF) return SocketOptions.SO_SNDBUF;
    if (name == StandardSocketOptions.SO_RCVBUF) return SocketOptions.SO_RCVBUF;
    if (name == StandardSocketOptions.SO_REUSEADDR) return SocketOptions.SO_REUSEADDR;
    if (name == StandardSocketOptions.SO_LINGER) return SocketOptions.SO_LINGER;
    if (name == StandardSocketOptions.IP_TOS) return SocketOptions.IP_TOS;
    if (name == StandardSocketOptions.TCP_NODELAY) return SocketOptions.TCP_NODELAY;
    throw new UnsupportedOperationException("'" + name + "' not supported");
  }
}
