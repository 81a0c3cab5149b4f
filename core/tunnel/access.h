// Access control between nodes, as a node enforces it on its tunnels (docs/security.md, "Access
// policy"). The operator's policy lives at the DC; with every Direction (and a PeerAccess notice
// when the policy changes) the DC tells each end which virtual ports it may open on the peer
// (`outbound`) and which of its own ports the peer may open (`inbound`). The node checks every
// inner packet against them - received ones before they reach the stack, sent ones before they
// are sealed - so a peer cannot get past the policy by ignoring it (WireGuard has no such layer;
// this is the shape of Tailscale's packet filter).
//
// Replies: TCP segments from a port we may open are replies unless they open a connection (a SYN
// without ACK); UDP datagrams from such a port are replies only to a local port we sent from to
// that peer in the last kUdpFlowLifetime (UdpFlows), so a peer cannot reach an unlisted UDP
// service of ours by choosing its source port. ICMP passes between peers that may talk at all
// (echo, errors); any other protocol is refused while the access is restricted.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace ntm::tunnel {

// IP protocol numbers a port range applies to (0: TCP and UDP).
inline constexpr uint8_t kProtocolAny = 0;
inline constexpr uint8_t kProtocolTcp = 6;
inline constexpr uint8_t kProtocolUdp = 17;

struct PortRange {
  uint8_t protocol = kProtocolAny;
  uint16_t first = 0;
  uint16_t last = 65535;
  bool contains(uint8_t proto, uint16_t port) const noexcept {
    return (protocol == kProtocolAny || protocol == proto) && port >= first && port <= last;
  }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct PeerAccess {
  // false: every port both ways (no policy: "all nodes of a domain may talk").
  bool restricted = false;
  std::vector<PortRange> inbound;   // our ports the peer may open
  std::vector<PortRange> outbound;  // the peer's ports we may open
  // Restricted with nothing either way: the pair may not talk at all.
  bool denied() const noexcept { return restricted && inbound.empty() && outbound.empty(); }
  friend bool operator==(const PeerAccess&, const PeerAccess&) = default;
};

// UDP replies are accepted this long after we last sent from the local port (a stateful
// firewall's UDP timeout).
inline constexpr std::chrono::seconds kUdpFlowLifetime{180};

// Local UDP ports we recently sent from to one restricted peer. Bounded: the oldest is replaced.
class UdpFlows {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr size_t kMaxFlows = 64;
  void record(uint16_t local_port, TimePoint now);
  bool recent(uint16_t local_port, TimePoint now) const;

 private:
  struct Flow {
    uint16_t port = 0;
    TimePoint last{};
  };
  std::vector<Flow> flows_;
};

// May the peer's inner packet reach our stack? Reads only the IP and transport headers.
bool access_allows_inbound(const PeerAccess& access, const UdpFlows& flows,
                           std::span<const uint8_t> inner, UdpFlows::TimePoint now) noexcept;
// May our inner packet go to the peer? Records the UDP flows replies may come back on.
bool access_allows_outbound(const PeerAccess& access, UdpFlows& flows,
                            std::span<const uint8_t> inner, UdpFlows::TimePoint now);

}  // namespace ntm::tunnel
