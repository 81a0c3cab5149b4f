// Path MTU discovery (tunnel/path_mtu.h): padded probes of every size from the virtual MTU down,
// acknowledged by the peer when they arrive; the largest acknowledged size becomes path_mtu. The
// test is the path: it drops datagrams above a size, as a narrow link with ICMP dropped does.
#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "engine_harness.h"
#include "tunnel/path_mtu.h"
#include "wire/constants.h"

namespace ntm::tunnel::test {
namespace {

constexpr uint16_t kVirtualMtu = 1420;
// A 1280-byte IPv4 path: 1280 - 20 - 8 = 1252 bytes of UDP payload, 1220 of inner packet.
constexpr size_t kPathPayload = 1252;

struct MtuPair {
  MtuPair()
      : a(1, NodeOptions{.virtual_mtu = kVirtualMtu}), b(2, NodeOptions{.virtual_mtu = kVirtualMtu}) {
    auto b_at_a = a.table.add(b.identity(), true);
    REQUIRE(b_at_a);
    {
      std::lock_guard lock(b_at_a->mutex);
      b_at_a->endpoint = b.endpoint;
    }
    REQUIRE(b.table.add(a.identity(), true));
  }
  TunnelTable::Ref b_at_a() const { return a.table.find_node_id(b.node_id); }
  TunnelTable::Ref a_at_b() const { return b.table.find_node_id(a.node_id); }

  // Carries what `from` sent to `to`, dropping datagrams larger than `limit`.
  static size_t carry(Node& from, Node& to, TimePoint now, size_t limit) {
    std::vector<SentDatagram> out;
    out.swap(from.sink.sent);
    size_t n = 0;
    for (const auto& d : out) {
      if (d.to != to.endpoint || d.bytes.size() > limit) continue;
      to.receive(d.bytes, from.endpoint, now);
      ++n;
    }
    return n;
  }
  void pump(TimePoint now, size_t limit = 65535) {
    pump_until_quiet([&] { return carry(a, b, now, limit) + carry(b, a, now, limit); });
  }

  Node a;
  Node b;
};

TEST_CASE("probe sizes go from the virtual MTU down to 1200 in steps of 20", "[tunnel][mtu]") {
  auto sizes = mtu_probe_sizes(1420);
  REQUIRE(sizes.size() == 12);
  CHECK(sizes.front() == 1420);
  CHECK(sizes[10] == 1220);
  CHECK(sizes.back() == kMinTunnelMtu);
  CHECK(mtu_probe_sizes(1000) == std::vector<uint16_t>{1000});
}

TEST_CASE("probes and acks encode and decode; anything else is refused", "[tunnel][mtu]") {
  std::vector<uint8_t> probe(1300);
  encode_mtu_control({kControlMtuProbe, 0x01020304, 1300}, probe);
  CHECK(is_tunnel_control(probe));
  auto m = decode_mtu_control(probe);
  REQUIRE(m);
  CHECK(m->type == kControlMtuProbe);
  CHECK(m->round == 0x01020304);
  CHECK(m->size == 1300);
  probe.pop_back();  // the size no longer matches the length
  CHECK_FALSE(decode_mtu_control(probe));
  std::vector<uint8_t> ack(kMtuControlSize);
  encode_mtu_control({kControlMtuAck, 9, 1220}, ack);
  REQUIRE(decode_mtu_control(ack));
  CHECK(decode_mtu_control(ack)->size == 1220);
  ack.push_back(0);
  CHECK_FALSE(decode_mtu_control(ack));
  const std::vector<uint8_t> ipv4{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17};
  CHECK_FALSE(is_tunnel_control(ipv4));
}

TEST_CASE("the tunnel measures the largest inner packet that gets through, without ICMP",
          "[tunnel][mtu]") {
  MtuPair p;
  p.a.engine.connect(p.b_at_a(), p.a.sink, kT0);
  p.pump(kT0, kPathPayload);
  {
    std::lock_guard lock(p.b_at_a()->mutex);
    REQUIRE(p.b_at_a()->current);
  }
  p.a.tick(kT0 + 20ms);  // a round of probes, every size at once
  size_t probes = 0;
  for (const auto& d : p.a.sink.sent) {
    if (d.bytes.size() > wire::kCapsuleHeaderSize + wire::kTagSize + 1000) ++probes;
  }
  CHECK(probes == mtu_probe_sizes(kVirtualMtu).size());
  p.pump(kT0 + 21ms, kPathPayload);
  CHECK(p.b.sink.delivered.empty());  // probes never reach the stack
  CHECK(p.b_at_a()->path_mtu.load() == 0);  // the round is not over yet
  p.a.tick(kT0 + 20ms + kMtuRoundTime);
  CHECK(p.b_at_a()->path_mtu.load() == 1220);
  // B measured its own direction as well (its probes went when its session was confirmed).
  p.b.tick(kT0 + 40ms);
  p.pump(kT0 + 41ms);
  p.b.tick(kT0 + 40ms + kMtuRoundTime);
  CHECK(p.a_at_b()->path_mtu.load() == kVirtualMtu);
  CHECK(p.a.engine.stats().dropped_malformed.load() == 0);
  CHECK(p.b.engine.stats().dropped_malformed.load() == 0);
}

TEST_CASE("through a relay the largest probe is the same datagram size as direct",
          "[tunnel][mtu]") {
  // The relay header (8 bytes) and a family change at the RS (IPv4 in, IPv6 out) would make a
  // full-size relayed datagram too big for a 1500-byte link: the host fragments it and the
  // fragmented probe is acknowledged. The search starts 8 bytes lower through a relay.
  CHECK(probe_ceiling(1420, false) == 1420);
  CHECK(probe_ceiling(1420, true) == 1412);
  CHECK(probe_ceiling(1204, true) == kMinTunnelMtu);  // never below the smallest size searched
  CHECK(probe_ceiling(1000, true) == 1000);

  MtuPair p;
  p.a.engine.connect(p.b_at_a(), p.a.sink, kT0);
  p.pump(kT0);
  auto largest_probe = [&](const Endpoint& to) {
    size_t largest = 0, probes = 0;
    for (const auto& d : p.a.sink.sent) {
      if (!(d.to == to) || d.bytes.size() < wire::kCapsuleHeaderSize + wire::kTagSize + 1000) continue;
      largest = std::max(largest, d.bytes.size());
      ++probes;
    }
    return std::pair{largest, probes};
  };
  p.a.sink.clear();
  p.a.tick(kT0 + 20ms);
  const auto [direct_largest, direct_probes] = largest_probe(p.b.endpoint);
  CHECK(direct_largest == wire::kCapsuleHeaderSize + kVirtualMtu + wire::kTagSize);
  CHECK(direct_probes == mtu_probe_sizes(kVirtualMtu).size());

  const Endpoint relay_server = Endpoint::v4({192, 0, 2, 200}, 7802);
  {
    auto peer = p.b_at_a();
    std::lock_guard lock(peer->mutex);
    peer->path = PathKind::relay;
    peer->relay = Peer::Relay{relay_server, 77};
    peer->mtu_round_ends = TimePoint{};
    peer->mtu_next_search = TimePoint{};
  }
  p.a.sink.clear();
  p.a.tick(kT0 + 40ms);
  const auto [relayed_largest, relayed_probes] = largest_probe(relay_server);
  CHECK(relayed_largest == direct_largest);  // relay header included
  CHECK(relayed_probes == mtu_probe_sizes(kVirtualMtu - 8).size());
}

TEST_CASE("a peer that answers no probe leaves path_mtu unknown and the search stops",
          "[tunnel][mtu]") {
  MtuPair p;
  p.a.engine.connect(p.b_at_a(), p.a.sink, kT0);
  p.pump(kT0);
  auto t = kT0 + 20ms;
  int rounds = 0;
  for (int i = 0; i < 10; ++i, t += kMtuRoundTime + 1ms) {
    p.a.sink.clear();
    p.a.tick(t);
    if (p.a.sink.sent.size() >= mtu_probe_sizes(kVirtualMtu).size()) ++rounds;
    // Nothing reaches B.
  }
  CHECK(rounds == kMtuMaxRounds);
  CHECK(p.b_at_a()->path_mtu.load() == 0);
}

}  // namespace
}  // namespace ntm::tunnel::test
