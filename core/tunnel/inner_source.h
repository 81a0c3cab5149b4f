// WireGuard's AllowedIPs rule for received inner packets: a peer may only send packets whose
// source is one of its own virtual addresses. Without it an authenticated node could speak "as"
// any other node to us (and our replies would go to that other node).
#pragma once

#include <cstdint>
#include <span>

#include "tunnel/peer.h"

namespace ntm::tunnel {

enum class InnerSource {
  peer,       // the source is the peer's virtual IPv4 or IPv6 address
  spoofed,    // a well-formed packet from any other source address
  malformed,  // not an IPv4/IPv6 packet whose header we can read
};

// Classifies a decrypted inner packet received from `peer`. Reads only the IP header.
InnerSource classify_inner_source(const PeerIdentity& peer,
                                  std::span<const uint8_t> inner) noexcept;

}  // namespace ntm::tunnel
