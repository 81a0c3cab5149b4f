#include <catch2/catch.hpp>

#include <vector>

#include "tunnel/access.h"

using namespace ntm::tunnel;

namespace {

using Packet = std::vector<uint8_t>;
constexpr uint8_t kSyn = 0x02, kAck = 0x10;
const auto t0 = UdpFlows::TimePoint{} + std::chrono::hours(1);

void put16(Packet& p, size_t at, uint16_t v) {
  p[at] = static_cast<uint8_t>(v >> 8);
  p[at + 1] = static_cast<uint8_t>(v);
}

// An IPv4 packet of `protocol` with a transport header of `transport` bytes.
Packet v4(uint8_t protocol, uint16_t sport, uint16_t dport, uint8_t flags = 0,
          size_t transport = 20) {
  Packet p(20 + transport, 0);
  p[0] = 0x45;
  p[9] = protocol;
  if (transport >= 4) {
    put16(p, 20, sport);
    put16(p, 22, dport);
  }
  if (protocol == kProtocolTcp && transport >= 14) p[20 + 13] = flags;
  return p;
}

// IPv6 with a hop-by-hop options header before the transport header.
Packet v6_hop_by_hop(uint8_t protocol, uint16_t sport, uint16_t dport, uint8_t flags = 0) {
  Packet p(40 + 8 + 20, 0);
  p[0] = 0x60;
  p[6] = 0;  // hop-by-hop
  p[40] = protocol;
  p[41] = 0;  // 8 bytes
  put16(p, 48, sport);
  put16(p, 50, dport);
  if (protocol == kProtocolTcp) p[48 + 13] = flags;
  return p;
}

PeerAccess limited(std::vector<PortRange> inbound, std::vector<PortRange> outbound) {
  return PeerAccess{true, std::move(inbound), std::move(outbound)};
}

}  // namespace

TEST_CASE("unrestricted access lets every packet through both ways", "[tunnel][policy]") {
  UdpFlows flows;
  const PeerAccess open;
  CHECK(access_allows_inbound(open, flows, v4(kProtocolTcp, 1, 2, kSyn), t0));
  CHECK(access_allows_outbound(open, flows, v4(47, 0, 0), t0));
  CHECK(access_allows_inbound(open, flows, Packet{}, t0));
}

TEST_CASE("TCP: the peer may open only its allowed ports of ours; segments from a port we may "
          "open pass unless they open a connection",
          "[tunnel][policy]") {
  UdpFlows flows;
  const auto a = limited({{kProtocolTcp, 22, 22}}, {{kProtocolTcp, 80, 80}});
  CHECK(access_allows_inbound(a, flows, v4(kProtocolTcp, 40000, 22, kSyn), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolTcp, 40000, 23, kSyn), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolUdp, 40000, 22, 0, 8), t0));
  // Replies of the peer's port 80 to our connection, and not a new connection from it.
  CHECK(access_allows_inbound(a, flows, v4(kProtocolTcp, 80, 51000, kSyn | kAck), t0));
  CHECK(access_allows_inbound(a, flows, v4(kProtocolTcp, 80, 51000, kAck), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolTcp, 80, 9999, kSyn), t0));
  // Our side: we open 80 and answer from 22; we do not open 22 or anything else.
  CHECK(access_allows_outbound(a, flows, v4(kProtocolTcp, 51000, 80, kSyn), t0));
  CHECK(access_allows_outbound(a, flows, v4(kProtocolTcp, 22, 40000, kSyn | kAck), t0));
  CHECK_FALSE(access_allows_outbound(a, flows, v4(kProtocolTcp, 22, 40000, kSyn), t0));
  CHECK_FALSE(access_allows_outbound(a, flows, v4(kProtocolTcp, 51000, 81, kSyn), t0));
  // The same through an IPv6 extension header.
  CHECK(access_allows_inbound(a, flows, v6_hop_by_hop(kProtocolTcp, 40000, 22, kSyn), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v6_hop_by_hop(kProtocolTcp, 40000, 23, kSyn), t0));
}

TEST_CASE("UDP: a datagram from a port we may open is a reply only to a local port we recently "
          "sent from to that peer",
          "[tunnel][policy]") {
  UdpFlows flows;
  const auto a = limited({}, {{kProtocolUdp, 53, 53}});
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolUdp, 53, 41000, 0, 8), t0));
  CHECK(access_allows_outbound(a, flows, v4(kProtocolUdp, 41000, 53, 0, 8), t0));
  CHECK(access_allows_inbound(a, flows, v4(kProtocolUdp, 53, 41000, 0, 8), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolUdp, 53, 41001, 0, 8), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolUdp, 54, 41000, 0, 8), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolUdp, 53, 41000, 0, 8),
                                    t0 + kUdpFlowLifetime + std::chrono::seconds(1)));
  CHECK_FALSE(access_allows_outbound(a, flows, v4(kProtocolUdp, 41000, 54, 0, 8), t0));
}

TEST_CASE("ICMP passes between peers that may talk; other protocols, truncated headers and a "
          "denied pair do not; later fragments pass (lwIP reassembles them only with their "
          "checked first fragment)",
          "[tunnel][policy]") {
  UdpFlows flows;
  const auto a = limited({{kProtocolAny, 5000, 5000}}, {});
  CHECK(access_allows_inbound(a, flows, v4(1, 0, 0, 0, 8), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(47, 0, 0, 0, 8), t0));
  CHECK_FALSE(access_allows_inbound(a, flows, v4(kProtocolTcp, 1, 5000, kSyn, 12), t0));
  CHECK(access_allows_inbound(a, flows, v4(kProtocolUdp, 1, 5000, 0, 8), t0));
  auto later = v4(kProtocolUdp, 1, 6000, 0, 8);
  put16(later, 6, 100);  // fragment offset 800
  CHECK(access_allows_inbound(a, flows, later, t0));
  const auto denied = limited({}, {});
  CHECK(denied.denied());
  CHECK_FALSE(access_allows_inbound(denied, flows, v4(1, 0, 0, 0, 8), t0));
  CHECK_FALSE(access_allows_outbound(denied, flows, v4(1, 0, 0, 0, 8), t0));
}

TEST_CASE("UdpFlows keeps at most kMaxFlows ports, replacing the oldest", "[tunnel][policy]") {
  UdpFlows flows;
  for (uint16_t p = 0; p < UdpFlows::kMaxFlows; ++p) flows.record(p + 1000, t0 + std::chrono::seconds(p));
  flows.record(9999, t0 + std::chrono::seconds(100));
  CHECK(flows.recent(9999, t0 + std::chrono::seconds(100)));
  CHECK_FALSE(flows.recent(1000, t0 + std::chrono::seconds(100)));
  CHECK(flows.recent(1001, t0 + std::chrono::seconds(100)));
}
