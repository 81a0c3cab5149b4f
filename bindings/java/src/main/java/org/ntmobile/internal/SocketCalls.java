package org.ntmobile.internal;

import com.sun.jna.Memory;
import java.net.InetSocketAddress;
import java.net.SocketException;

/** Small wrappers over the socket calls shared by the stream and datagram implementations. */
final class SocketCalls {
  private SocketCalls() {}

  static int newSocket(int family, int type) throws SocketException {
    int fd = NtmSockets.ntm_socket(family, type, 0);
    if (fd < 0) {
      throw Errors.socket("ntm_socket", NtmSockets.errno());
    }
    return fd;
  }

  static void setInt(int fd, int level, int name, int value, String what)
      throws SocketException {
    Memory m = new Memory(4);
    m.setInt(0, value);
    if (NtmSockets.ntm_setsockopt(fd, level, name, m, 4) != 0) {
      throw Errors.socket("setsockopt " + what, NtmSockets.errno());
    }
  }

  static int getInt(int fd, int level, int name, String what) throws SocketException {
    Memory m = new Memory(4);
    Memory len = new Memory(4);
    len.setInt(0, 4);
    if (NtmSockets.ntm_getsockopt(fd, level, name, m, len) != 0) {
      throw Errors.socket("getsockopt " + what, NtmSockets.errno());
    }
    return m.getInt(0);
  }

  /** SO_RCVTIMEO as a struct timeval (two longs on LP64); 0 waits forever. */
  static void setReceiveTimeout(int fd, int millis) throws SocketException {
    Memory tv = new Memory(16);
    tv.setLong(0, millis / 1000);
    tv.setLong(8, (millis % 1000) * 1000L);
    if (NtmSockets.ntm_setsockopt(fd, Posix.SOL_SOCKET, Posix.SO_RCVTIMEO, tv, 16) != 0) {
      throw Errors.socket("setsockopt SO_RCVTIMEO", NtmSockets.errno());
    }
  }

  static InetSocketAddress localAddress(int fd) throws SocketException {
    Memory sa = SockAddr.allocate();
    Memory len = new Memory(4);
    len.setInt(0, SockAddr.SIZE);
    if (NtmSockets.ntm_getsockname(fd, sa, len) != 0) {
      throw Errors.socket("getsockname", NtmSockets.errno());
    }
    return SockAddr.read(sa);
  }

  /**
   * Waits up to {@code timeoutMs} for {@code events} on one descriptor; returns the revents, or
   * 0 on timeout.
   */
  static short pollOne(int fd, short events, int timeoutMs) throws SocketException {
    Memory pfd = new Memory(8);
    pfd.setInt(0, fd);
    pfd.setShort(4, events);
    pfd.setShort(6, (short) 0);
    int rc = NtmSockets.ntm_poll(pfd, 1, timeoutMs);
    if (rc < 0) {
      throw Errors.socket("ntm_poll", NtmSockets.errno());
    }
    return rc == 0 ? 0 : pfd.getShort(6);
  }

  static void setNonBlocking(int fd, boolean on) throws SocketException {
    if (NtmSockets.ntm_fcntl(fd, Posix.F_SETFL, on ? Posix.O_NONBLOCK : 0) < 0) {
      throw Errors.socket("fcntl O_NONBLOCK", NtmSockets.errno());
    }
  }
}
