package org.ntmobile;

import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketException;
import org.ntmobile.internal.NtmDatagramSocketImpl;

/**
 * A UDP socket in the virtual network that is a {@link java.net.DatagramSocket}: send and
 * receive {@link java.net.DatagramPacket}s to and from virtual addresses,
 * {@link #setSoTimeout(int)} bounds a receive ({@link java.net.SocketTimeoutException}),
 * {@link #close()} from another thread ends a blocked receive with {@link SocketException}.
 *
 * <p>Binding to a wildcard address receives on all the node's virtual addresses, IPv4 and IPv6.
 * {@code connect} works (DatagramSocket then filters by source); multicast does not exist in the
 * virtual network, so its options throw {@link SocketException}.
 */
public class NTMDatagramSocket extends DatagramSocket {
  /** Bound to any free port on all virtual addresses. */
  public NTMDatagramSocket() throws SocketException {
    this(new InetSocketAddress(wildcard(), 0));
  }

  /** Bound to {@code port} on all virtual addresses. */
  public NTMDatagramSocket(int port) throws SocketException {
    this(new InetSocketAddress(wildcard(), port));
  }

  /** Bound to {@code port} of {@code address} (null: all virtual addresses). */
  public NTMDatagramSocket(int port, InetAddress address) throws SocketException {
    this(new InetSocketAddress(address != null ? address : wildcard(), port));
  }

  /** Bound to {@code bindAddress}, or left unbound if it is null. */
  public NTMDatagramSocket(SocketAddress bindAddress) throws SocketException {
    super(new NtmDatagramSocketImpl());
    if (bindAddress != null) {
      try {
        bind(bindAddress);
      } catch (SocketException | RuntimeException e) {
        close();
        throw e;
      }
    }
  }

  private static InetAddress wildcard() throws SocketException {
    try {
      return InetAddress.getByAddress(new byte[4]);
    } catch (java.net.UnknownHostException e) {
      throw new SocketException(e.getMessage());
    }
  }
}
