package org.ntmobile;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.util.Optional;

/**
 * The running node's identity and addresses (ntm_node_info).
 *
 * @param nodeId NodeID, 16 hex digits
 * @param name FQDN
 * @param publicKey X25519 public key, base64
 * @param virtualIPv4 virtual IPv4 address, if any
 * @param virtualIPv6 virtual IPv6 address, if any
 * @param endpointIPv4 bound real UDP endpoint for IPv4 ("127.0.0.1:41234"), or "" if disabled
 * @param endpointIPv6 bound real UDP endpoint for IPv6 ("[::1]:41234"), or "" if disabled
 * @param mtu virtual MTU
 */
public record NodeInfo(
    String nodeId,
    String name,
    String publicKey,
    Optional<Inet4Address> virtualIPv4,
    Optional<Inet6Address> virtualIPv6,
    String endpointIPv4,
    String endpointIPv6,
    int mtu) {}
