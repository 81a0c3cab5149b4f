// The AllowedIPs rule: an authenticated peer may only send inner packets from its own virtual
// addresses. A hostile but authenticated node (A below) that writes another node's address (C's,
// or B's own) into the source is dropped and counted as dropped_spoofed; B's stack never sees it.
#include <catch2/catch.hpp>

#include "engine_harness.h"
#include "tunnel/engine.h"
#include "tunnel/inner_source.h"
#include "wire/capsule.h"

namespace ntm::tunnel::test {
namespace {

// A and B established; B also knows a third node C (whose address A will claim).
struct SpoofSetup {
  SpoofSetup() {
    REQUIRE(p.b.table.add(c.identity(), true));
    p.establish(kT0);
  }
  // A seals `inner` for B (A's engine routes by destination only) and B receives it.
  void a_sends(const Bytes& inner) {
    REQUIRE(p.a.send(inner, kT0 + 1s) == SendResult::sent);
    EnginePair::forward(p.a, p.b, kT0 + 1s);
  }
  const EngineStats& b_stats() const { return p.b.engine.stats(); }

  EnginePair p;
  Node c{3};
};

TEST_CASE("engine drops an inner IPv4 packet whose source is another peer's address and counts "
          "it as dropped_spoofed",
          "[tunnel][spoof]") {
  SpoofSetup s;
  s.a_sends(ipv4_packet(s.c.vip4, s.p.b.vip4, 100, 1));
  CHECK(s.p.b.sink.delivered.empty());
  CHECK(s.b_stats().dropped_spoofed == 1);
  CHECK(s.b_stats().dropped_malformed == 0);
  // The same tunnel still carries A's genuine packets.
  const Bytes genuine = s.p.a_to_b_v4(100, 2);
  s.a_sends(genuine);
  REQUIRE(s.p.b.sink.delivered.size() == 1);
  CHECK(s.p.b.sink.delivered[0] == genuine);
  CHECK(s.b_stats().dropped_spoofed == 1);
}

TEST_CASE("engine drops an inner IPv6 packet whose source is another peer's address",
          "[tunnel][spoof]") {
  SpoofSetup s;
  s.a_sends(ipv6_packet(s.c.vip6, s.p.b.vip6, 100, 1));
  CHECK(s.p.b.sink.delivered.empty());
  CHECK(s.b_stats().dropped_spoofed == 1);
  const Bytes genuine = s.p.a_to_b_v6(100, 2);
  s.a_sends(genuine);
  REQUIRE(s.p.b.sink.delivered.size() == 1);
  CHECK(s.p.b.sink.delivered[0] == genuine);
}

TEST_CASE("engine drops inner packets claiming the receiver's own or an unowned address",
          "[tunnel][spoof]") {
  SpoofSetup s;
  const Ipv4 nobody4{100, 64, 9, 9};
  Ipv6 nobody6{0xfd};
  nobody6[15] = 99;
  s.a_sends(ipv4_packet(s.p.b.vip4, s.p.b.vip4, 10, 1));  // reflected to B itself
  s.a_sends(ipv6_packet(s.p.b.vip6, s.p.b.vip6, 10, 2));
  s.a_sends(ipv4_packet(nobody4, s.p.b.vip4, 10, 3));
  s.a_sends(ipv6_packet(nobody6, s.p.b.vip6, 10, 4));
  CHECK(s.p.b.sink.delivered.empty());
  CHECK(s.b_stats().dropped_spoofed == 4);
  // A spoofed packet is not data from the peer: it does not count in the peer's statistics.
  CHECK(s.p.peer_a_at_b()->packets_received.load() == 0);
}

TEST_CASE("engine drops an authenticated inner packet that is not IPv4 or IPv6 as malformed",
          "[tunnel][spoof]") {
  SpoofSetup s;
  Bytes junk = s.p.a_to_b_v4(40, 1);
  junk[0] = 0x55;  // version 5
  // A's engine cannot route junk, so seal it through a valid packet's slot by hand: send a valid
  // packet and have B see a capsule whose plaintext is junk (sealed with A's session key).
  auto peer = s.p.peer_b_at_a();
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(peer->mutex);
    session = peer->current;
  }
  REQUIRE(session);
  auto buffer = s.p.a.sink.datagram_buffer(kDatagramHeadroom + junk.size() + kDatagramTailroom);
  std::copy(junk.begin(), junk.end(), buffer.begin() + kDatagramHeadroom);
  const uint64_t counter = session->send_counter++;
  auto capsule = buffer.subspan(kRelayHeaderRoom);
  wire::encode_capsule_header(wire::CapsuleHeader{0, session->remote_path_id, counter},
                              capsule.first<wire::kCapsuleHeaderSize>());
  session->send_aead.seal(wire::capsule_nonce(counter), capsule.first(wire::kCapsuleHeaderSize),
                          capsule.subspan(wire::kCapsuleHeaderSize, junk.size()),
                          capsule.subspan(wire::kCapsuleHeaderSize, junk.size() + wire::kTagSize));
  s.p.b.receive(Bytes(capsule.begin(),
                      capsule.begin() + static_cast<ptrdiff_t>(wire::kCapsuleOverhead + junk.size())),
                s.p.a.endpoint, kT0 + 1s);
  CHECK(s.p.b.sink.delivered.empty());
  CHECK(s.b_stats().dropped_malformed == 1);
  CHECK(s.b_stats().dropped_spoofed == 0);
}

TEST_CASE("a peer without a virtual IPv6 address may not send IPv6 at all", "[tunnel][spoof]") {
  PeerIdentity only_v4;
  only_v4.vip4 = Ipv4{100, 64, 0, 1};
  const Ipv4 dst4{100, 64, 0, 2};
  Ipv6 any6{0xfd};
  CHECK(classify_inner_source(only_v4, ipv4_packet(*only_v4.vip4, dst4, 0, 1)) ==
        InnerSource::peer);
  CHECK(classify_inner_source(only_v4, ipv6_packet(any6, any6, 0, 1)) == InnerSource::spoofed);
  CHECK(classify_inner_source(only_v4, Bytes{0x45}) == InnerSource::malformed);
  CHECK(classify_inner_source(PeerIdentity{}, ipv4_packet(dst4, dst4, 0, 1)) ==
        InnerSource::spoofed);
}

}  // namespace
}  // namespace ntm::tunnel::test
