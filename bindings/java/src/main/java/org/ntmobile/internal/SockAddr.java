package org.ntmobile.internal;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.UnknownHostException;

/**
 * Linux {@code struct sockaddr_in} / {@code sockaddr_in6} in native memory: family in host byte
 * order at 0, port in network order at 2, then the IPv4 address at 4 or flowinfo at 4 and the
 * IPv6 address at 8.
 */
public final class SockAddr {
  /** sizeof(struct sockaddr_in6), large enough for both families. */
  public static final int SIZE = 28;

  private static final int SIZE_IN = 16;

  private SockAddr() {}

  /** A zeroed buffer for one address. */
  public static Memory allocate() {
    Memory m = new Memory(SIZE);
    m.clear();
    return m;
  }

  /** The address family ({@link Posix#AF_INET} or {@link Posix#AF_INET6}) of an address. */
  public static int familyOf(InetAddress address) {
    return address instanceof Inet6Address ? Posix.AF_INET6 : Posix.AF_INET;
  }

  /**
   * Writes {@code address:port} for a socket of {@code socketFamily} (an IPv4 address on an IPv6
   * socket becomes IPv4-mapped) and returns the length to pass as {@code addrlen}.
   */
  public static int write(Memory m, InetAddress address, int port, int socketFamily)
      throws SocketException {
    m.clear();
    byte[] raw = address.getAddress();
    if (socketFamily == Posix.AF_INET) {
      if (raw.length != 4) {
        throw new SocketException("IPv6 address " + address.getHostAddress() + " on an IPv4 socket");
      }
      m.setShort(0, (short) Posix.AF_INET);
      putPort(m, port);
      m.write(4, raw, 0, 4);
      return SIZE_IN;
    }
    if (raw.length == 4) {
      byte[] mapped = new byte[16];
      mapped[10] = (byte) 0xff;
      mapped[11] = (byte) 0xff;
      System.arraycopy(raw, 0, mapped, 12, 4);
      raw = mapped;
    }
    m.setShort(0, (short) Posix.AF_INET6);
    putPort(m, port);
    m.write(8, raw, 0, 16);
    return SIZE;
  }

  private static void putPort(Memory m, int port) {
    m.setByte(2, (byte) (port >>> 8));
    m.setByte(3, (byte) port);
  }

  /**
   * Reads an address the library wrote. IPv4-mapped IPv6 addresses come back as
   * {@link Inet4Address} (as the JDK reports them).
   */
  public static InetSocketAddress read(Pointer m) throws SocketException {
    int family = m.getShort(0) & 0xffff;
    int port = ((m.getByte(2) & 0xff) << 8) | (m.getByte(3) & 0xff);
    byte[] raw;
    if (family == Posix.AF_INET) {
      raw = m.getByteArray(4, 4);
    } else if (family == Posix.AF_INET6) {
      raw = m.getByteArray(8, 16);
    } else {
      throw new SocketException("unexpected address family " + family);
    }
    try {
      return new InetSocketAddress(InetAddress.getByAddress(raw), port);
    } catch (UnknownHostException e) {
      throw new SocketException("bad address length " + raw.length);
    }
  }
}
