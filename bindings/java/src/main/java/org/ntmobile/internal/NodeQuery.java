package org.ntmobile.internal;

import java.net.SocketException;

/** What the sockets need to know about the running node. */
public final class NodeQuery {
  private NodeQuery() {}

  /** The running node's info; SocketException (ENETDOWN) when no node runs. */
  public static NtmStructs.NodeInfo info() throws SocketException {
    NtmStructs.NodeInfo info = new NtmStructs.NodeInfo();
    int rc = NtmApi.INSTANCE.ntm_get_node_info(info);
    if (rc != NtmApi.NTM_OK) {
      throw new SocketException(
          rc == NtmApi.NTM_ESTATE
              ? "the ntmobile node is not running (start an NTMNode first)"
              : "ntm_get_node_info: " + NtmApi.INSTANCE.ntm_last_error());
    }
    return info;
  }

  /** True when the running node has a virtual IPv6 address. */
  public static boolean hasVirtualIPv6() throws SocketException {
    return !NtmStructs.text(info().virtual_ipv6).isEmpty();
  }
}
