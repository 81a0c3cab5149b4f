package org.ntmobile;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import javax.net.SocketFactory;

/**
 * Makes {@link NTMSocket}s, for libraries that take a {@link SocketFactory}: they then connect
 * through the virtual network without other changes. Host names resolve through the node.
 */
public class NTMSocketFactory extends SocketFactory {
  private static final NTMSocketFactory DEFAULT = new NTMSocketFactory();

  /** A new factory; {@link #getDefault()} serves as well (it holds no state). */
  public NTMSocketFactory() {}

  /** A shared instance (the factory holds no state). */
  public static SocketFactory getDefault() {
    return DEFAULT;
  }

  @Override
  public Socket createSocket() throws IOException {
    return new NTMSocket();
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    return new NTMSocket(host, port);
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort)
      throws IOException {
    return new NTMSocket(host, port, localHost, localPort);
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    return new NTMSocket(host, port);
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
      throws IOException {
    return new NTMSocket(address, port, localAddress, localPort);
  }
}
