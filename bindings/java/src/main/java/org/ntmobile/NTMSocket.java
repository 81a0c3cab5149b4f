package org.ntmobile;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import org.ntmobile.internal.NtmSocketImpl;

/**
 * A TCP connection in the virtual network that is a {@link java.net.Socket}: code written
 * against {@code Socket} runs unchanged.
 *
 * <ul>
 *   <li>Connect by node name ({@code new NTMSocket("bob.example", 7000)}, or
 *       {@code connect(InetSocketAddress.createUnresolved("bob.example", 7000), timeout)}) or by
 *       virtual address; names resolve through the node ({@link NTMResolver}), never the system
 *       DNS.
 *   <li>{@link #getInetAddress()} and {@link #getLocalAddress()} report virtual addresses.
 *   <li>{@link #setSoTimeout(int)}: a read that waits longer throws
 *       {@link java.net.SocketTimeoutException}; the socket stays usable.
 *   <li>{@link #close()} from another thread makes a blocked read or write throw
 *       {@link SocketException}.
 *   <li>Errors: {@link java.net.ConnectException} (nothing listening),
 *       {@link java.net.NoRouteToHostException} (no peer owns the address),
 *       {@link java.net.UnknownHostException} (unknown name), {@link SocketException} otherwise.
 * </ul>
 *
 * <p>Not supported by the virtual stack: urgent data ({@link #sendUrgentData} throws), and
 * SO_LINGER, SO_SNDBUF and IP_TOS, which are accepted and reported back but do not change
 * behaviour. A node must be running ({@link NTMNode#start}).
 */
public class NTMSocket extends Socket {
  /** An unconnected socket; see {@link #connect(java.net.SocketAddress, int)}. */
  public NTMSocket() throws SocketException {
    super(new NtmSocketImpl(false));
  }

  /**
   * Connects to {@code port} of the node named {@code host} (or a numeric virtual address),
   * trying each of its virtual addresses (IPv4 first).
   *
   * @throws java.net.UnknownHostException if no node of that name is known
   */
  public NTMSocket(String host, int port) throws IOException {
    this();
    connectOrClose(InetSocketAddress.createUnresolved(host, port), 0);
  }

  /** Connects to a virtual address. */
  public NTMSocket(InetAddress address, int port) throws IOException {
    this();
    connectOrClose(new InetSocketAddress(address, port), 0);
  }

  /** Binds to a local virtual address and port, then connects to {@code host:port}. */
  public NTMSocket(String host, int port, InetAddress localAddress, int localPort)
      throws IOException {
    this();
    try {
      bind(new InetSocketAddress(localAddress, localPort));
    } catch (IOException e) {
      close();
      throw e;
    }
    connectOrClose(InetSocketAddress.createUnresolved(host, port), 0);
  }

  /** Binds to a local virtual address and port, then connects to {@code address:port}. */
  public NTMSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    this();
    try {
      bind(new InetSocketAddress(localAddress, localPort));
    } catch (IOException e) {
      close();
      throw e;
    }
    connectOrClose(new InetSocketAddress(address, port), 0);
  }

  /** A socket that {@link NTMServerSocket#accept()} connects. */
  NTMSocket(NtmSocketImpl impl) throws SocketException {
    super(impl);
  }

  private void connectOrClose(InetSocketAddress target, int timeout) throws IOException {
    try {
      connect(target, timeout);
    } catch (IOException | RuntimeException e) {
      try {
        close();
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  @Override
  public String toString() {
    if (isConnected()) {
      return "NTMSocket[addr=" + getInetAddress() + ",port=" + getPort() + ",localport="
          + getLocalPort() + "]";
    }
    return "NTMSocket[unconnected]";
  }
}
