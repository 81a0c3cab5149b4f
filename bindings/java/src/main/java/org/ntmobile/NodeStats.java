package org.ntmobile;

/**
 * Node-wide counters since the node started (ntm_stats).
 *
 * @param packetsSent tunnel datagrams sent (data and handshake)
 * @param packetsReceived tunnel datagrams received
 * @param bytesSent UDP payload bytes sent
 * @param bytesReceived UDP payload bytes received
 * @param droppedMalformed datagrams that failed to parse
 * @param droppedUnknownPath datagrams for a PathID we do not have
 * @param droppedAuth datagrams whose MAC did not verify
 * @param droppedReplay datagrams with a counter already seen or too old
 * @param droppedNoTunnel inner packets for a virtual address without a peer
 * @param handshakesCompleted sessions established (either side)
 * @param handshakesFailed handshakes that timed out or were rejected
 * @param droppedSpoofed authenticated packets whose inner source is not the sending peer's
 * @param droppedPolicy packets and connections refused by the access policy
 * @param droppedLimit connections and packets refused by a limit (memory, sockets, queues)
 * @param handshakesInitiated handshake initiations sent, retries included
 * @param logins successful logins at the Account Server
 * @param registrations registrations the Direction Coordinator acknowledged
 * @param networkChanges changes of the host's addresses or routes the node acted on
 * @param resolvesSent resolve requests sent to the DC, retransmissions included
 * @param directionsReceived directions received from the DC
 * @param dcKeepalivesSent keepalives sent to the DC
 * @param dcKeepalivesMissed keepalives the DC left unanswered
 * @param relayFallbacks times a tunnel moved from a direct path to a relay
 * @param directUpgrades times a relayed tunnel moved to a direct path
 * @param tcpConnections TCP connections open now (a gauge)
 * @param memoryUsed bytes of the memory budget in use now (a gauge)
 */
public record NodeStats(
    long packetsSent,
    long packetsReceived,
    long bytesSent,
    long bytesReceived,
    long droppedMalformed,
    long droppedUnknownPath,
    long droppedAuth,
    long droppedReplay,
    long droppedNoTunnel,
    long handshakesCompleted,
    long handshakesFailed,
    long droppedSpoofed,
    long droppedPolicy,
    long droppedLimit,
    long handshakesInitiated,
    long logins,
    long registrations,
    long networkChanges,
    long resolvesSent,
    long directionsReceived,
    long dcKeepalivesSent,
    long dcKeepalivesMissed,
    long relayFallbacks,
    long directUpgrades,
    long tcpConnections,
    long memoryUsed) {}
