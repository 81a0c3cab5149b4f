package org.ntmobile.internal;

import com.sun.jna.Memory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.net.SocketOption;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A {@link SocketImpl} over one ntm stream descriptor: what {@code NTMSocket} and
 * {@code NTMServerSocket} hand to {@code java.net.Socket}'s and {@code ServerSocket}'s protected
 * constructors.
 *
 * <p>The descriptor is created when its family is known (connect, or bind of a listener);
 * options set before that are remembered and applied then. Reads honour SO_TIMEOUT through
 * SO_RCVTIMEO (the stack reports EAGAIN, thrown as {@link SocketTimeoutException}); a connect
 * with a timeout is non-blocking connect plus {@code ntm_poll}.
 */
public final class NtmSocketImpl extends SocketImpl {
  private final boolean server;
  private final StreamOptions options;
  private final Object stateLock = new Object();
  private volatile NativeFd handle;
  private boolean closed;

  // A client socket's bind(): applied when connect() creates the descriptor.
  private InetAddress pendingBindAddress;
  private int pendingBindPort;

  private volatile boolean inputShutdown;
  private volatile boolean outputShutdown;
  private volatile boolean endOfStream;
  private StreamIO.Input input;
  private StreamIO.Output output;

  /** @param server true for a listening socket (NTMServerSocket), false for a connection. */
  public NtmSocketImpl(boolean server) {
    this.server = server;
    this.options = new StreamOptions(server);
  }

  // ------------------------------------------------------------------ lifecycle

  @Override
  protected void create(boolean stream) throws IOException {
    if (!stream) {
      throw new SocketException("ntmobile: datagram sockets are NTMDatagramSocket, not Socket");
    }
    // The descriptor waits for the address family (connect or bind).
  }

  /** Creates the descriptor for {@code family} and applies the remembered options. */
  private NativeFd open(int family) throws SocketException {
    int fd = SocketCalls.newSocket(family, Posix.SOCK_STREAM);
    NativeFd h = new NativeFd(fd);
    try {
      options.applyOnOpen(fd);
    } catch (SocketException e) {
      h.close();
      throw e;
    }
    synchronized (stateLock) {
      if (closed) {
        h.close();
        throw new SocketException("Socket closed");
      }
      handle = h;
    }
    return h;
  }

  /** Forgets a descriptor that failed to connect (the socket may try another address). */
  private void discard(NativeFd h) {
    synchronized (stateLock) {
      if (handle == h) {
        handle = null;
      }
    }
    h.close();
  }

  @Override
  protected void close() throws IOException {
    NativeFd h;
    synchronized (stateLock) {
      if (closed) {
        return;
      }
      closed = true;
      h = handle;
    }
    if (h != null) {
      h.close();
    }
  }

  /** The descriptor, or "Socket closed" / "Socket is not connected". */
  NativeFd connectedHandle() throws SocketException {
    NativeFd h = handle;
    if (h == null) {
      synchronized (stateLock) {
        throw new SocketException(closed ? "Socket closed" : "Socket is not connected");
      }
    }
    return h;
  }

  // ------------------------------------------------------------------ connect

  @Override
  protected void connect(String host, int port) throws IOException {
    connect(InetSocketAddress.createUnresolved(host, port), 0);
  }

  @Override
  protected void connect(InetAddress address, int port) throws IOException {
    connect(new InetSocketAddress(address, port), 0);
  }

  @Override
  protected void connect(SocketAddress endpoint, int timeout) throws IOException {
    if (!(endpoint instanceof InetSocketAddress)) {
      throw new IllegalArgumentException("Unsupported address type");
    }
    InetSocketAddress target = (InetSocketAddress) endpoint;
    long deadline = timeout > 0 ? System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeout) : 0;
    String host = target.getHostString();
    if (target.isUnresolved()) {
      connectAny(List.of(Resolver.resolve(host)), target.getPort(), deadline, host);
      return;
    }
    try {
      connectAny(List.of(target.getAddress()), target.getPort(), deadline, host);
    } catch (java.net.NoRouteToHostException e) {
      // The name was resolved elsewhere (e.g. the system's DNS, by new InetSocketAddress(name,
      // port)) to an address no peer owns: if the node knows the name, use its addresses.
      if (Resolver.isNumeric(host)) {
        throw e;
      }
      InetAddress[] virtual;
      try {
        virtual = Resolver.resolve(host);
      } catch (java.net.UnknownHostException unknown) {
        throw e;
      }
      connectAny(List.of(virtual), target.getPort(), deadline, host);
    }
  }

  /** Tries each address in turn (a bound client socket keeps to its family). */
  private void connectAny(List<InetAddress> addresses, int port, long deadline, String host)
      throws IOException {
    List<InetAddress> candidates = new ArrayList<>(addresses);
    InetAddress bound = pendingBindAddress;
    if (bound != null && !bound.isAnyLocalAddress()) {
      int family = SockAddr.familyOf(bound);
      candidates.removeIf(a -> SockAddr.familyOf(a) != family);
      if (candidates.isEmpty()) {
        throw new SocketException("no address of " + host + " in the bound socket's family");
      }
    }
    IOException failure = null;
    for (InetAddress address : candidates) {
      try {
        connectOne(address, port, deadline, host);
        return;
      } catch (SocketTimeoutException e) {
        throw e;
      } catch (IOException e) {
        synchronized (stateLock) {
          if (closed) {
            throw new SocketException("Socket closed");
          }
        }
        failure = e;
      }
    }
    throw failure;
  }

  private void connectOne(InetAddress address, int port, long deadline, String hostText)
      throws IOException {
    String target = hostText + "/" + address.getHostAddress() + ":" + port;
    int family = SockAddr.familyOf(address);
    NativeFd h = handle;
    boolean fresh = h == null;
    if (fresh) {
      h = open(family);
    }
    boolean ok = false;
    try {
      int fd = h.acquire();
      try {
        if (fresh && pendingBindAddress != null) {
          bindNative(fd, family, pendingBindAddress, pendingBindPort);
        }
        Memory sa = SockAddr.allocate();
        int len = SockAddr.write(sa, address, port, family);
        if (deadline == 0) {
          if (NtmSockets.ntm_connect(fd, sa, len) != 0) {
            throw connectError(h, target, NtmSockets.errno());
          }
        } else {
          connectWithDeadline(h, fd, sa, len, deadline, target);
        }
        h.setConnectedStream();
        this.address = address;
        this.port = port;
        this.localport = SocketCalls.localAddress(fd).getPort();
      } finally {
        h.release();
      }
      ok = true;
    } finally {
      if (!ok && fresh) {
        discard(h);
      }
    }
  }

  private void connectWithDeadline(
      NativeFd h, int fd, Memory sa, int len, long deadline, String target) throws IOException {
    SocketCalls.setNonBlocking(fd, true);
    if (NtmSockets.ntm_connect(fd, sa, len) != 0) {
      int err = NtmSockets.errno();
      if (err != Posix.EINPROGRESS && err != Posix.EALREADY) {
        throw connectError(h, target, err);
      }
      for (;; ) {
        long remaining = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        if (remaining <= 0) {
          throw new SocketTimeoutException("Connect timed out: " + target);
        }
        short revents =
            SocketCalls.pollOne(fd, Posix.POLLOUT, (int) Math.min(remaining, Integer.MAX_VALUE));
        if (h.isClosed()) {
          throw new SocketException("Socket closed");
        }
        if (revents != 0) {
          break;
        }
      }
      int soError = SocketCalls.getInt(fd, Posix.SOL_SOCKET, Posix.SO_ERROR, "SO_ERROR");
      if (soError != 0) {
        throw connectError(h, target, soError);
      }
    }
    SocketCalls.setNonBlocking(fd, false);
  }

  private static IOException connectError(NativeFd h, String target, int err) {
    if (h.isClosed()) {
      return new SocketException("Socket closed");
    }
    return Errors.connect(target, err); // libntm already gives BSD errnos (ECONNREFUSED ...)
  }

  // ------------------------------------------------------------------ bind, listen, accept

  @Override
  protected void bind(InetAddress host, int port) throws IOException {
    if (host == null) {
      host = InetAddress.getByAddress(new byte[4]);
    }
    if (!server) {
      // A client socket's family follows the address it connects to; bind with it then.
      if (handle != null || pendingBindAddress != null) {
        throw new SocketException("Already bound");
      }
      pendingBindAddress = host;
      pendingBindPort = port;
      this.localport = port;
      return;
    }
    if (handle != null) {
      throw new SocketException("Already bound");
    }
    int family;
    if (host.isAnyLocalAddress()) {
      // A wildcard listens on all the node's virtual addresses: one dual-stack IPv6 socket.
      family = NodeQuery.hasVirtualIPv6() ? Posix.AF_INET6 : Posix.AF_INET;
    } else {
      family = SockAddr.familyOf(host);
    }
    NativeFd h = open(family);
    boolean ok = false;
    try {
      int fd = h.acquire();
      try {
        if (family == Posix.AF_INET6 && host.isAnyLocalAddress()) {
          SocketCalls.setInt(fd, Posix.IPPROTO_IPV6, Posix.IPV6_V6ONLY, 0, "IPV6_V6ONLY");
        }
        bindNative(fd, family, host, port);
        this.localport = SocketCalls.localAddress(fd).getPort();
        this.address = host;
      } finally {
        h.release();
      }
      ok = true;
    } finally {
      if (!ok) {
        discard(h);
      }
    }
  }

  private static void bindNative(int fd, int family, InetAddress host, int port)
      throws SocketException {
    InetAddress bindTo = host;
    if (host.isAnyLocalAddress()) {
      bindTo =
          family == Posix.AF_INET6 ? Inet.ANY6 : Inet.ANY4; // wildcard of the socket's family
    }
    Memory sa = SockAddr.allocate();
    int len = SockAddr.write(sa, bindTo, port, family);
    if (NtmSockets.ntm_bind(fd, sa, len) != 0) {
      throw Errors.socket("bind " + host.getHostAddress() + ":" + port, NtmSockets.errno());
    }
  }

  @Override
  protected void listen(int backlog) throws IOException {
    NativeFd h = connectedHandle();
    int fd = h.acquire();
    try {
      if (NtmSockets.ntm_listen(fd, backlog) != 0) {
        throw Errors.socket("listen", NtmSockets.errno());
      }
    } finally {
      h.release();
    }
  }

  @Override
  protected void accept(SocketImpl s) throws IOException {
    if (!(s instanceof NtmSocketImpl)) {
      throw new SocketException("ntmobile accepts into NTMSocket only, not " + s.getClass());
    }
    NtmSocketImpl target = (NtmSocketImpl) s;
    NativeFd h = connectedHandle();
    int fd = h.acquire();
    try {
      Memory sa = SockAddr.allocate();
      Memory len = new Memory(4);
      for (;; ) {
        len.setInt(0, SockAddr.SIZE);
        int client = NtmSockets.ntm_accept(fd, sa, len);
        if (client >= 0) {
          NativeFd accepted = new NativeFd(client);
          InetSocketAddress peer;
          try {
            peer = SockAddr.read(sa);
          } catch (SocketException e) {
            accepted.close();
            throw e;
          }
          target.adopt(accepted, peer, options.timeoutMs() > 0);
          return;
        }
        int err = NtmSockets.errno();
        if (h.isClosed()) {
          throw new SocketException("Socket closed");
        }
        if (err == Posix.EINTR || err == Posix.ECONNABORTED) {
          continue;
        }
        if (err == Posix.EAGAIN && options.timeoutMs() > 0) {
          throw Errors.timeout("Accept");
        }
        throw Errors.socket("accept", err);
      }
    } finally {
      h.release();
    }
  }

  /** Takes over an accepted connection. */
  private void adopt(NativeFd h, InetSocketAddress peer, boolean clearInheritedTimeout)
      throws IOException {
    h.setConnectedStream();
    try {
      int fd = h.acquire();
      try {
        options.applyOnAccept(fd, clearInheritedTimeout);
        this.localport = SocketCalls.localAddress(fd).getPort();
      } finally {
        h.release();
      }
    } catch (IOException e) {
      h.close();
      throw e;
    }
    synchronized (stateLock) {
      if (closed || handle != null) {
        h.close();
        throw new SocketException(closed ? "Socket closed" : "Already connected");
      }
      handle = h;
    }
    this.address = peer.getAddress();
    this.port = peer.getPort();
  }

  // ------------------------------------------------------------------ streams

  @Override
  protected InputStream getInputStream() throws IOException {
    synchronized (stateLock) {
      if (input == null) {
        input = new StreamIO.Input(this);
      }
      return input;
    }
  }

  @Override
  protected OutputStream getOutputStream() throws IOException {
    synchronized (stateLock) {
      if (output == null) {
        output = new StreamIO.Output(this);
      }
      return output;
    }
  }

  @Override
  protected int available() throws IOException {
    if (endOfStream || inputShutdown) {
      return 0;
    }
    NativeFd h = connectedHandle();
    int fd = h.acquire();
    try {
      Memory peek = new Memory(64 * 1024);
      long n =
          NtmSockets.ntm_recv(fd, peek, peek.size(), Posix.MSG_PEEK | Posix.MSG_DONTWAIT);
      if (n == 0) {
        // lwIP hands out the end of stream once, even to a peek: remember it for read().
        endOfStream = true;
      }
      return n > 0 ? (int) n : 0;
    } finally {
      h.release();
    }
  }

  @Override
  protected void shutdownInput() throws IOException {
    NativeFd h = connectedHandle();
    int fd = h.acquire();
    try {
      inputShutdown = true;
      if (NtmSockets.ntm_shutdown(fd, Posix.SHUT_RD) != 0) {
        int err = NtmSockets.errno();
        if (err != Posix.ENOTCONN) {
          throw Errors.socket("shutdown input", err);
        }
      }
    } finally {
      h.release();
    }
  }

  @Override
  protected void shutdownOutput() throws IOException {
    NativeFd h = connectedHandle();
    int fd = h.acquire();
    try {
      outputShutdown = true;
      if (NtmSockets.ntm_shutdown(fd, Posix.SHUT_WR) != 0) {
        int err = NtmSockets.errno();
        if (err != Posix.ENOTCONN) {
          throw Errors.socket("shutdown output", err);
        }
      }
    } finally {
      h.release();
    }
  }

  /** True after the end of stream was read or input was shut down. */
  boolean inputEnded() {
    return endOfStream || inputShutdown;
  }

  void markEndOfStream() {
    endOfStream = true;
  }

  boolean outputShutdown() {
    return outputShutdown;
  }

  int timeoutMs() {
    return options.timeoutMs();
  }

  @Override
  protected boolean supportsUrgentData() {
    return false;
  }

  @Override
  protected void sendUrgentData(int data) throws IOException {
    throw new SocketException("ntmobile sockets do not send TCP urgent data");
  }

  // ------------------------------------------------------------------ options (StreamOptions)

  @Override
  public void setOption(int optID, Object value) throws SocketException {
    synchronized (stateLock) {
      if (closed) {
        throw new SocketException("Socket closed");
      }
    }
    options.set(optID, value, handle);
  }

  @Override
  public Object getOption(int optID) throws SocketException {
    if (optID != SO_BINDADDR) {
      return options.get(optID, handle);
    }
    NativeFd h = handle;
    if (h == null) {
      return pendingBindAddress != null ? pendingBindAddress : Inet.ANY4;
    }
    int fd = h.acquire();
    try {
      return SocketCalls.localAddress(fd).getAddress();
    } finally {
      h.release();
    }
  }

  @Override
  protected Set<SocketOption<?>> supportedOptions() {
    return options.supported();
  }

  @Override
  protected <T> void setOption(SocketOption<T> name, T value) throws IOException {
    if (!options.supported().contains(name)) {
      throw new UnsupportedOperationException("'" + name + "' not supported");
    }
    if (StreamOptions.isKeepaliveTimer(name)) {
      synchronized (stateLock) {
        if (closed) {
          throw new SocketException("Socket closed");
        }
      }
      options.setKeepaliveTimer(name, value, handle);
      return;
    }
    Object legacy = value;
    if (name == StandardSocketOptions.SO_LINGER && (Integer) value < 0) {
      legacy = Boolean.FALSE;
    }
    setOption(StreamOptions.legacyId(name), legacy);
  }

  @Override
  @SuppressWarnings("unchecked")
  protected <T> T getOption(SocketOption<T> name) throws IOException {
    if (!options.supported().contains(name)) {
      throw new UnsupportedOperationException("'" + name + "' not supported");
    }
    if (StreamOptions.isKeepaliveTimer(name)) {
      return (T) Integer.valueOf(options.keepaliveTimer(name, handle));
    }
    Object value = getOption(StreamOptions.legacyId(name));
    if (name == StandardSocketOptions.SO_LINGER && value instanceof Boolean) {
      value = -1;
    }
    return (T) value;
  }

  @Override
  public String toString() {
    NativeFd h = handle;
    return "NtmSocketImpl[fd=" + (h == null ? "none" : h.number()) + ", " + super.toString() + "]";
  }
}
