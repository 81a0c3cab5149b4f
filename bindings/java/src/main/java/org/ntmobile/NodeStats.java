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
    long handshakesFailed) {}
