package org.ntmobile;

import java.time.Duration;
import java.util.Optional;

/**
 * One row of the tunnel table (ntm_tunnel_info), as of {@link NTMNode#tunnels()}.
 *
 * @param peerName peer FQDN
 * @param peerNodeId peer NodeID, 16 hex digits
 * @param virtualIPv4 peer virtual IPv4 ("" if none)
 * @param virtualIPv6 peer virtual IPv6 ("" if none)
 * @param state session state
 * @param path direct or relayed
 * @param endpoint peer real endpoint packets go to now ("" if none)
 * @param localPathId our PathID for the current session (0 if none)
 * @param bytesSent inner bytes sent to this peer
 * @param bytesReceived inner bytes received from this peer
 * @param packetsSent inner packets sent
 * @param packetsReceived inner packets received
 * @param lastActivity time since the last packet either way; empty if never
 * @param sessionAge time since the current session's handshake; empty if none
 * @param rtt smoothed round-trip time of the tunnel; empty while unknown
 * @param pathMtu largest inner packet known to reach the peer on the current path, in bytes; 0
 *     while not yet measured
 */
public record TunnelInfo(
    String peerName,
    String peerNodeId,
    String virtualIPv4,
    String virtualIPv6,
    TunnelState state,
    PathKind path,
    String endpoint,
    long localPathId,
    long bytesSent,
    long bytesReceived,
    long packetsSent,
    long packetsReceived,
    Optional<Duration> lastActivity,
    Optional<Duration> sessionAge,
    Optional<Duration> rtt,
    int pathMtu) {}
