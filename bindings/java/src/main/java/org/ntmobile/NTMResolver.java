package org.ntmobile;

import java.net.InetAddress;
import java.net.UnknownHostException;
import org.ntmobile.internal.Resolver;

/**
 * Name resolution in the virtual network (ntm_getaddrinfo): node names (this node's and its
 * peers') and numeric virtual addresses. The system's DNS is never asked.
 */
public final class NTMResolver {
  private NTMResolver() {}

  /**
   * Every virtual address of {@code host}, IPv4 first. The addresses carry {@code host} as their
   * host name.
   *
   * @throws UnknownHostException if no node of that name is known (EAI_NONAME), or no node runs
   */
  public static InetAddress[] getAllByName(String host) throws UnknownHostException {
    return Resolver.resolve(host);
  }

  /** The first virtual address of {@code host} (IPv4 when it has one). */
  public static InetAddress getByName(String host) throws UnknownHostException {
    return Resolver.resolve(host)[0];
  }
}
