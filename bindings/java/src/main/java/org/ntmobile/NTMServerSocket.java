package org.ntmobile;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketException;
import org.ntmobile.internal.NtmSocketImpl;

/**
 * A listening TCP socket in the virtual network that is a {@link java.net.ServerSocket}:
 * {@link #accept()} returns {@link NTMSocket}s, {@link #setSoTimeout(int)} bounds the wait
 * ({@link java.net.SocketTimeoutException}), {@link #close()} from another thread ends a blocked
 * accept with {@link SocketException}.
 *
 * <p>Binding to a wildcard address (no address, 0.0.0.0 or ::) listens on all the node's virtual
 * addresses, IPv4 and IPv6; bind to one virtual address to listen on that one only.
 */
public class NTMServerSocket extends ServerSocket {
  /** An unbound server socket; see {@link #bind(java.net.SocketAddress, int)}. */
  public NTMServerSocket() throws IOException {
    super(new NtmSocketImpl(true));
  }

  /** Listens on {@code port} (0 for any) of all the node's virtual addresses. */
  public NTMServerSocket(int port) throws IOException {
    this(port, 50, null);
  }

  /** Listens on {@code port} of all virtual addresses with a backlog. */
  public NTMServerSocket(int port, int backlog) throws IOException {
    this(port, backlog, null);
  }

  /** Listens on {@code port} of {@code bindAddress} (null: all virtual addresses). */
  public NTMServerSocket(int port, int backlog, InetAddress bindAddress) throws IOException {
    this();
    if (port < 0 || port > 0xffff) {
      throw new IllegalArgumentException("port out of range: " + port);
    }
    try {
      InetAddress address = bindAddress != null ? bindAddress : InetAddress.getByAddress(new byte[4]);
      bind(new InetSocketAddress(address, port), backlog);
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
  }

  /** Waits for a connection and returns it as an {@link NTMSocket}. */
  @Override
  public NTMSocket accept() throws IOException {
    if (isClosed()) {
      throw new SocketException("Socket is closed");
    }
    if (!isBound()) {
      throw new SocketException("Socket is not bound yet");
    }
    NTMSocket s = new NTMSocket(new NtmSocketImpl(false));
    try {
      implAccept(s);
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
    return s;
  }

  @Override
  public String toString() {
    if (!isBound()) {
      return "NTMServerSocket[unbound]";
    }
    return "NTMServerSocket[addr=" + getInetAddress() + ",localport=" + getLocalPort() + "]";
  }
}
