package org.ntmobile;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import javax.net.ServerSocketFactory;

/** Makes {@link NTMServerSocket}s, for libraries that take a {@link ServerSocketFactory}. */
public class NTMServerSocketFactory extends ServerSocketFactory {
  private static final NTMServerSocketFactory DEFAULT = new NTMServerSocketFactory();

  /** A new factory; {@link #getDefault()} serves as well (it holds no state). */
  public NTMServerSocketFactory() {}

  /** A shared instance (the factory holds no state). */
  public static ServerSocketFactory getDefault() {
    return DEFAULT;
  }

  @Override
  public ServerSocket createServerSocket() throws IOException {
    return new NTMServerSocket();
  }

  @Override
  public ServerSocket createServerSocket(int port) throws IOException {
    return new NTMServerSocket(port);
  }

  @Override
  public ServerSocket createServerSocket(int port, int backlog) throws IOException {
    return new NTMServerSocket(port, backlog);
  }

  @Override
  public ServerSocket createServerSocket(int port, int backlog, InetAddress ifAddress)
      throws IOException {
    return new NTMServerSocket(port, backlog, ifAddress);
  }
}
