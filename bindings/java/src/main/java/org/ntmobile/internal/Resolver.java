package org.ntmobile.internal;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/** Node names and numeric virtual addresses to InetAddresses, through ntm_getaddrinfo. */
public final class Resolver {
  private Resolver() {}

  /**
   * Every virtual address of {@code host} (a node name, or a numeric IPv4/IPv6 address), in the
   * library's order (IPv4 first). The addresses carry {@code host} as their name, so
   * {@link InetAddress#getHostName()} never asks the system's DNS.
   *
   * @throws UnknownHostException if no peer (nor this node) has that name
   */
  public static InetAddress[] resolve(String host) throws UnknownHostException {
    if (host == null || host.isEmpty()) {
      throw new UnknownHostException("empty host name");
    }
    String lookup = host;
    if (lookup.startsWith("[") && lookup.endsWith("]")) {
      lookup = lookup.substring(1, lookup.length() - 1);
    }
    NtmStructs.AddrInfo hints = new NtmStructs.AddrInfo();
    hints.ai_socktype = Posix.SOCK_STREAM; // one entry per address
    PointerByReference result = new PointerByReference();
    int rc = NtmApi.INSTANCE.ntm_getaddrinfo(lookup, null, hints, result);
    if (rc != 0) {
      throw Errors.resolve(host, rc);
    }
    List<InetAddress> out = new ArrayList<>();
    Pointer head = result.getValue();
    try {
      boolean numeric = isNumeric(lookup);
      for (Pointer p = head; p != null; ) {
        NtmStructs.AddrInfo ai = new NtmStructs.AddrInfo(p);
        try {
          InetAddress a = SockAddr.read(ai.ai_addr).getAddress();
          out.add(InetAddress.getByAddress(numeric ? null : host, a.getAddress()));
        } catch (java.net.SocketException e) {
          // not an IPv4/IPv6 entry: skip it
        }
        p = ai.ai_next;
      }
    } finally {
      NtmApi.INSTANCE.ntm_freeaddrinfo(head);
    }
    if (out.isEmpty()) {
      throw new UnknownHostException(host + ": no virtual address");
    }
    return out.toArray(new InetAddress[0]);
  }

  /** True for an IPv4 dotted quad or anything with a colon (an IPv6 literal). */
  static boolean isNumeric(String host) {
    return host.indexOf(':') >= 0 || host.matches("\\d{1,3}(\\.\\d{1,3}){3}");
  }
}
