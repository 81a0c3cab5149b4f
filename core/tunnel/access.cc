#include "tunnel/access.h"

#include <algorithm>
#include <optional>

namespace ntm::tunnel {

namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

constexpr uint8_t kIcmp = 1;
constexpr uint8_t kIcmpV6 = 58;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpAck = 0x10;

// What the policy looks at in an inner packet.
struct Flow {
  enum Kind { ports, icmp, later_fragment, other } kind = other;
  uint8_t protocol = 0;
  uint16_t src = 0, dst = 0;
  bool opens = false;  // a TCP SYN without ACK: a new connection
};

// The transport header at `offset` of a first (or only) fragment. A first fragment too short to
// hold the whole TCP or UDP header is refused: its flags could arrive in a later fragment.
std::optional<Flow> transport(std::span<const uint8_t> p, size_t offset, uint8_t protocol) {
  Flow f;
  f.protocol = protocol;
  if (protocol == kIcmp || protocol == kIcmpV6) {
    f.kind = Flow::icmp;
    return f;
  }
  if (protocol != kProtocolTcp && protocol != kProtocolUdp) return f;  // other
  const size_t need = protocol == kProtocolTcp ? 20 : 8;
  if (p.size() < offset + need) return std::nullopt;
  f.kind = Flow::ports;
  f.src = be16(&p[offset]);
  f.dst = be16(&p[offset + 2]);
  if (protocol == kProtocolTcp) {
    const uint8_t flags = p[offset + 13];
    f.opens = (flags & kTcpSyn) && !(flags & kTcpAck);
  }
  return f;
}

std::optional<Flow> parse(std::span<const uint8_t> p) {
  if (p.empty()) return std::nullopt;
  if ((p[0] >> 4) == 4) {
    if (p.size() < 20) return std::nullopt;
    const size_t ihl = size_t{p[0] & 0x0fu} * 4;
    if (ihl < 20 || p.size() < ihl) return std::nullopt;
    if ((be16(&p[6]) & 0x1fff) != 0) return Flow{Flow::later_fragment};
    return transport(p, ihl, p[9]);
  }
  if ((p[0] >> 4) == 6) {
    if (p.size() < 40) return std::nullopt;
    uint8_t next = p[6];
    size_t offset = 40;
    // Extension headers: hop-by-hop, routing, destination options, fragment (RFC 8200 4.1).
    for (int i = 0; i < 8; ++i) {
      if (next == 0 || next == 43 || next == 60) {
        if (p.size() < offset + 8) return std::nullopt;
        const uint8_t following = p[offset];
        offset += (size_t{p[offset + 1]} + 1) * 8;
        next = following;
      } else if (next == 44) {
        if (p.size() < offset + 8) return std::nullopt;
        if ((be16(&p[offset + 2]) >> 3) != 0) return Flow{Flow::later_fragment};
        next = p[offset];
        offset += 8;
      } else {
        return transport(p, offset, next);
      }
    }
    return std::nullopt;  // too many extension headers to be honest
  }
  return std::nullopt;
}

bool any_contains(const std::vector<PortRange>& ranges, uint8_t protocol, uint16_t port) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const PortRange& r) { return r.contains(protocol, port); });
}

}  // namespace

void UdpFlows::record(uint16_t local_port, TimePoint now) {
  for (auto& f : flows_) {
    if (f.port == local_port) {
      f.last = now;
      return;
    }
  }
  if (flows_.size() < kMaxFlows) {
    flows_.push_back({local_port, now});
    return;
  }
  *std::min_element(flows_.begin(), flows_.end(),
                    [](const Flow& a, const Flow& b) { return a.last < b.last; }) = {local_port, now};
}

bool UdpFlows::recent(uint16_t local_port, TimePoint now) const {
  return std::any_of(flows_.begin(), flows_.end(), [&](const Flow& f) {
    return f.port == local_port && now - f.last <= kUdpFlowLifetime;
  });
}

bool access_allows_inbound(const PeerAccess& access, const UdpFlows& flows,
                           std::span<const uint8_t> inner, UdpFlows::TimePoint now) noexcept {
  if (!access.restricted) return true;
  if (access.denied()) return false;
  auto f = parse(inner);
  if (!f) return false;
  switch (f->kind) {
    case Flow::icmp:
    case Flow::later_fragment:  // reassembled only with its checked first fragment (lwIP drops
      return true;              // overlapping fragments)
    case Flow::other:
      return false;
    case Flow::ports:
      break;
  }
  if (any_contains(access.inbound, f->protocol, f->dst)) return true;
  if (!any_contains(access.outbound, f->protocol, f->src)) return false;
  // From a port of the peer's we may open: a reply to us, if it does not open anything.
  if (f->protocol == kProtocolTcp) return !f->opens;
  return flows.recent(f->dst, now);
}

bool access_allows_outbound(const PeerAccess& access, UdpFlows& flows,
                            std::span<const uint8_t> inner, UdpFlows::TimePoint now) {
  if (!access.restricted) return true;
  if (access.denied()) return false;
  auto f = parse(inner);
  if (!f) return false;
  switch (f->kind) {
    case Flow::icmp:
    case Flow::later_fragment:
      return true;
    case Flow::other:
      return false;
    case Flow::ports:
      break;
  }
  if (any_contains(access.outbound, f->protocol, f->dst)) {
    if (f->protocol == kProtocolUdp) flows.record(f->src, now);
    return true;
  }
  // A reply from a service of ours the peer may open.
  if (!any_contains(access.inbound, f->protocol, f->src)) return false;
  return f->protocol != kProtocolTcp || !f->opens;
}

}  // namespace ntm::tunnel
