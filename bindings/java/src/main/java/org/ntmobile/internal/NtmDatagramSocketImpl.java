package org.ntmobile.internal;

import com.sun.jna.Memory;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocketImpl;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketOption;
import java.net.StandardSocketOptions;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link DatagramSocketImpl} over one ntm UDP descriptor, for {@code NTMDatagramSocket}
 * (through {@code DatagramSocket}'s protected constructor).
 *
 * <p>{@code connect} is left to {@code DatagramSocket} itself, which then filters datagrams by
 * source in Java: ntm_connect cannot dissolve a datagram association again (it takes no
 * AF_UNSPEC address), so {@code disconnect} could not be honoured natively. Multicast is not
 * part of the virtual network: those calls throw {@link SocketException}.
 */
public final class NtmDatagramSocketImpl extends DatagramSocketImpl {
  /** The largest UDP payload. */
  private static final int MAX_DATAGRAM = 65535;

  private final Object stateLock = new Object();
  private volatile NativeFd handle;
  private boolean closed;
  private int family;

  private volatile int timeoutMs;
  private boolean reuseAddress;
  private boolean broadcast;
  private int receiveBuffer = -1;
  private int sendBufferHint = -1;
  private int trafficClassHint;

  private final ReentrantLock sendLock = new ReentrantLock();
  private final ReentrantLock receiveLock = new ReentrantLock();
  private Memory sendBuffer;
  private Memory receiveBuffer0;

  /**
   * DatagramSocket.receive shortens a packet's length to what arrived; the JDK's own sockets
   * still fill up to the packet's original buffer length on the next receive (a field this class
   * cannot read). Remembering the capacity per packet gives reused packets the same behaviour.
   */
  private final Map<DatagramPacket, Capacity> capacities =
      Collections.synchronizedMap(new WeakHashMap<>());

  private static final class Capacity {
    final byte[] data;
    final int offset;
    final int receivedLength;
    final int capacity;

    Capacity(byte[] data, int offset, int receivedLength, int capacity) {
      this.data = data;
      this.offset = offset;
      this.receivedLength = receivedLength;
      this.capacity = capacity;
    }
  }

  @Override
  protected void create() throws SocketException {
    // The descriptor waits for bind(), which knows the address family.
  }

  @Override
  protected void bind(int lport, InetAddress laddr) throws SocketException {
    if (handle != null) {
      throw new SocketException("Already bound");
    }
    if (laddr == null) {
      laddr = Inet.ANY4;
    }
    int fam;
    if (laddr.isAnyLocalAddress()) {
      fam = NodeQuery.hasVirtualIPv6() ? Posix.AF_INET6 : Posix.AF_INET;
    } else {
      fam = SockAddr.familyOf(laddr);
    }
    int fd = SocketCalls.newSocket(fam, Posix.SOCK_DGRAM);
    NativeFd h = new NativeFd(fd);
    try {
      if (fam == Posix.AF_INET6 && laddr.isAnyLocalAddress()) {
        SocketCalls.setInt(fd, Posix.IPPROTO_IPV6, Posix.IPV6_V6ONLY, 0, "IPV6_V6ONLY");
      }
      if (reuseAddress) {
        SocketCalls.setInt(fd, Posix.SOL_SOCKET, Posix.SO_REUSEADDR, 1, "SO_REUSEADDR");
      }
      if (broadcast) {
        SocketCalls.setInt(fd, Posix.SOL_SOCKET, Posix.SO_BROADCAST, 1, "SO_BROADCAST");
      }
      if (receiveBuffer > 0) {
        SocketCalls.setInt(fd, Posix.SOL_SOCKET, Posix.SO_RCVBUF, receiveBuffer, "SO_RCVBUF");
      }
      if (timeoutMs > 0) {
        SocketCalls.setReceiveTimeout(fd, timeoutMs);
      }
      InetAddress bindTo =
          laddr.isAnyLocalAddress() ? (fam == Posix.AF_INET6 ? Inet.ANY6 : Inet.ANY4) : laddr;
      Memory sa = SockAddr.allocate();
      int len = SockAddr.write(sa, bindTo, lport, fam);
      if (NtmSockets.ntm_bind(fd, sa, len) != 0) {
        throw Errors.socket("bind " + laddr.getHostAddress() + ":" + lport, NtmSockets.errno());
      }
      localPort = SocketCalls.localAddress(fd).getPort();
    } catch (SocketException e) {
      h.close();
      throw e;
    }
    synchronized (stateLock) {
      if (closed) {
        h.close();
        throw new SocketException("Socket closed");
      }
      family = fam;
      handle = h;
    }
  }

  private NativeFd boundHandle() throws SocketException {
    NativeFd h = handle;
    if (h == null) {
      synchronized (stateLock) {
        throw new SocketException(closed ? "Socket closed" : "Socket is not bound");
      }
    }
    return h;
  }

  @Override
  protected void send(DatagramPacket p) throws IOException {
    NativeFd h = boundHandle();
    InetAddress to = p.getAddress();
    if (to == null) {
      throw new IllegalArgumentException("datagram packet has no destination address");
    }
    sendLock.lock();
    try {
      int fd = h.acquire();
      try {
        int len = p.getLength();
        if (sendBuffer == null || sendBuffer.size() < Math.max(len, 1)) {
          sendBuffer = new Memory(Math.max(2048, len));
        }
        if (len > 0) {
          sendBuffer.write(0, p.getData(), p.getOffset(), len);
        }
        Memory sa = SockAddr.allocate();
        int salen = SockAddr.write(sa, to, p.getPort(), family);
        for (;; ) {
          long n = NtmSockets.ntm_sendto(fd, sendBuffer, len, Posix.MSG_NOSIGNAL, sa, salen);
          if (n >= 0) {
            return;
          }
          int err = NtmSockets.errno();
          if (h.isClosed()) {
            throw new SocketException("Socket closed");
          }
          if (err == Posix.EINTR) {
            continue;
          }
          throw Errors.datagram(
              "sendto " + to.getHostAddress() + ":" + p.getPort(), err);
        }
      } finally {
        h.release();
      }
    } finally {
      sendLock.unlock();
    }
  }

  @Override
  protected int peek(InetAddress i) throws IOException {
    // Legacy call (InetAddress cannot be filled in); the JDK uses peekData with this class.
    DatagramPacket tmp = new DatagramPacket(new byte[1], 1);
    return peekData(tmp);
  }

  @Override
  protected int peekData(DatagramPacket p) throws IOException {
    receive(p, Posix.MSG_PEEK);
    return p.getPort();
  }

  @Override
  protected void receive(DatagramPacket p) throws IOException {
    receive(p, 0);
  }

  private void receive(DatagramPacket p, int flags) throws IOException {
    NativeFd h = boundHandle();
    receiveLock.lock();
    try {
      int fd = h.acquire();
      try {
        byte[] data = p.getData();
        int offset = p.getOffset();
        int capacity = p.getLength();
        Capacity known = capacities.get(p);
        if (known != null
            && known.data == data
            && known.offset == offset
            && known.receivedLength == capacity) {
          capacity = Math.min(known.capacity, data.length - offset);
        }
        if (receiveBuffer0 == null) {
          receiveBuffer0 = new Memory(MAX_DATAGRAM);
        }
        Memory sa = SockAddr.allocate();
        Memory salen = new Memory(4);
        for (;; ) {
          salen.setInt(0, SockAddr.SIZE);
          long n =
              NtmSockets.ntm_recvfrom(
                  fd, receiveBuffer0, Math.max(capacity, 1), flags, sa, salen);
          if (n >= 0) {
            int got = (int) Math.min(n, capacity);
            if (got > 0) {
              receiveBuffer0.read(0, data, offset, got);
            }
            InetSocketAddress from = SockAddr.read(sa);
            p.setAddress(from.getAddress());
            p.setPort(from.getPort());
            p.setLength(got);
            capacities.put(p, new Capacity(data, offset, got, capacity));
            return;
          }
          int err = NtmSockets.errno();
          if (h.isClosed()) {
            throw new SocketException("Socket closed");
          }
          if (err == Posix.EINTR) {
            continue;
          }
          if (err == Posix.EAGAIN && timeoutMs > 0) {
            throw Errors.timeout("Receive");
          }
          throw Errors.datagram("recvfrom", err);
        }
      } finally {
        h.release();
      }
    } finally {
      receiveLock.unlock();
    }
  }

  @Override
  protected void connect(InetAddress address, int port) throws SocketException {
    // DatagramSocket falls back to filtering by source itself (see the class comment).
    throw new SocketException("ntmobile: datagram connect is done by DatagramSocket");
  }

  @Override
  protected void disconnect() {
    // Nothing native to undo: connect() never reached the stack.
  }

  @Override
  protected void close() {
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

  // ------------------------------------------------------------------ multicast: not in the virtual network

  private static SocketException noMulticast() {
    return new SocketException("multicast is not supported by ntmobile's virtual network");
  }

  @Override
  @Deprecated
  protected void setTTL(byte ttl) throws IOException {
    throw noMulticast();
  }

  @Override
  @Deprecated
  protected byte getTTL() throws IOException {
    throw noMulticast();
  }

  @Override
  protected void setTimeToLive(int ttl) throws IOException {
    throw noMulticast();
  }

  @Override
  protected int getTimeToLive() throws IOException {
    throw noMulticast();
  }

  @Override
  protected void join(InetAddress inetaddr) throws IOException {
    throw noMulticast();
  }

  @Override
  protected void leave(InetAddress inetaddr) throws IOException {
    throw noMulticast();
  }

  @Override
  protected void joinGroup(SocketAddress mcastaddr, NetworkInterface netIf) throws IOException {
    throw noMulticast();
  }

  @Override
  protected void leaveGroup(SocketAddress mcastaddr, NetworkInterface netIf) throws IOException {
    throw noMulticast();
  }

  // ------------------------------------------------------------------ options

  private void onDescriptor(int level, int name, int value, String what) throws SocketException {
    NativeFd h = handle;
    if (h == null) {
      return;
    }
    int fd = h.acquire();
    try {
      SocketCalls.setInt(fd, level, name, value, what);
    } finally {
      h.release();
    }
  }

  @Override
  public void setOption(int optID, Object value) throws SocketException {
    synchronized (stateLock) {
      if (closed) {
        throw new SocketException("Socket closed");
      }
    }
    switch (optID) {
      case SO_TIMEOUT:
        {
          int t = (Integer) value;
          if (t < 0) {
            throw new IllegalArgumentException("timeout < 0");
          }
          timeoutMs = t;
          NativeFd h = handle;
          if (h != null) {
            int fd = h.acquire();
            try {
              SocketCalls.setReceiveTimeout(fd, t);
            } finally {
              h.release();
            }
          }
          return;
        }
      case SO_REUSEADDR:
        reuseAddress = (Boolean) value;
        onDescriptor(Posix.SOL_SOCKET, Posix.SO_REUSEADDR, reuseAddress ? 1 : 0, "SO_REUSEADDR");
        return;
      case SO_BROADCAST:
        broadcast = (Boolean) value;
        onDescriptor(Posix.SOL_SOCKET, Posix.SO_BROADCAST, broadcast ? 1 : 0, "SO_BROADCAST");
        return;
      case SO_RCVBUF:
        if ((Integer) value <= 0) {
          throw new IllegalArgumentException("receive buffer size <= 0");
        }
        receiveBuffer = (Integer) value;
        onDescriptor(Posix.SOL_SOCKET, Posix.SO_RCVBUF, receiveBuffer, "SO_RCVBUF");
        return;
      case SO_SNDBUF:
        if ((Integer) value <= 0) {
          throw new IllegalArgumentException("send buffer size <= 0");
        }
        sendBufferHint = (Integer) value; // datagrams are not buffered by the stack
        return;
      case IP_TOS:
        trafficClassHint = (Integer) value; // inner packets carry no TOS through the tunnel
        return;
      case IP_MULTICAST_IF:
      case IP_MULTICAST_IF2:
      case IP_MULTICAST_LOOP:
        throw noMulticast();
      default:
        throw new SocketException("socket option " + optID + " is not supported by ntmobile");
    }
  }

  @Override
  public Object getOption(int optID) throws SocketException {
    switch (optID) {
      case SO_TIMEOUT:
        return timeoutMs;
      case SO_REUSEADDR:
        return reuseAddress;
      case SO_BROADCAST:
        return broadcast;
      case SO_RCVBUF:
        return receiveBuffer > 0 ? receiveBuffer : MAX_DATAGRAM * 16;
      case SO_SNDBUF:
        return sendBufferHint > 0 ? sendBufferHint : MAX_DATAGRAM;
      case IP_TOS:
        return trafficClassHint;
      case SO_BINDADDR:
        {
          NativeFd h = handle;
          if (h == null) {
            return Inet.ANY4;
          }
          int fd = h.acquire();
          try {
            return SocketCalls.localAddress(fd).getAddress();
          } finally {
            h.release();
          }
        }
      case IP_MULTICAST_IF:
      case IP_MULTICAST_IF2:
      case IP_MULTICAST_LOOP:
        throw noMulticast();
      default:
        throw new SocketException("socket option " + optID + " is not supported by ntmobile");
    }
  }

  private static final Set<SocketOption<?>> OPTIONS =
      Set.of(
          StandardSocketOptions.SO_SNDBUF,
          StandardSocketOptions.SO_RCVBUF,
          StandardSocketOptions.SO_REUSEADDR,
          StandardSocketOptions.SO_BROADCAST,
          StandardSocketOptions.IP_TOS);

  @Override
  protected Set<SocketOption<?>> supportedOptions() {
    return OPTIONS;
  }

  private static int legacyId(SocketOption<?> name) {
    if (name == StandardSocketOptions.SO_SNDBUF) return SO_SNDBUF;
    if (name == StandardSocketOptions.SO_RCVBUF) return SO_RCVBUF;
    if (name == StandardSocketOptions.SO_REUSEADDR) return SO_REUSEADDR;
    if (name == StandardSocketOptions.SO_BROADCAST) return SO_BROADCAST;
    return IP_TOS;
  }

  @Override
  protected <T> void setOption(SocketOption<T> name, T value) throws IOException {
    if (!OPTIONS.contains(name)) {
      throw new UnsupportedOperationException("'" + name + "' not supported");
    }
    setOption(legacyId(name), value);
  }

  @Override
  @SuppressWarnings("unchecked")
  protected <T> T getOption(SocketOption<T> name) throws IOException {
    if (!OPTIONS.contains(name)) {
      throw new UnsupportedOperationException("'" + name + "' not supported");
    }
    return (T) getOption(legacyId(name));
  }
}
