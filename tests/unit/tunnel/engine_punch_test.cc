// Hole punching through NATs that let unsolicited packets create state (constants.h,
// kPunchOpenHopLimit and kPunchLead): a fresh punch opens our own NAT with a hop-limited init to
// every IPv4 candidate and sends the init that reaches the peer only after the lead; retries,
// and re-punching a tunnel that has a session (a move), go at once.
#include <catch2/catch.hpp>

#include <vector>

#include "engine_harness.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "wire/constants.h"

namespace ntm::tunnel::test {
namespace {

constexpr auto kLead = 20ms;
const Endpoint kRelayServer = Endpoint::v4({198, 51, 100, 1}, 7802);
const Endpoint kCandidateV6 = Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
                                           51822);

std::optional<Peer::Relay> relay() { return Peer::Relay{kRelayServer, 7}; }

std::vector<SentDatagram> inits(const std::vector<SentDatagram>& sent) {
  std::vector<SentDatagram> out;
  for (const auto& d : sent) {
    if (!d.bytes.empty() && d.bytes[0] == static_cast<uint8_t>(wire::MessageType::handshake_init)) {
      out.push_back(d);
    }
  }
  return out;
}

// The hop limit of the one init the sink holds, which must go to `to`.
uint8_t sole_init_hop_limit(const RecordingSink& sink, const Endpoint& to) {
  auto sent = inits(sink.sent);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].to == to);
  return sent[0].hop_limit;
}

// A (the node under test, lead kLead) and B, which know each other but not where the other is.
struct PunchPair {
  PunchPair()
      : a(1, NodeOptions{.punch_lead = kLead}), b(2, NodeOptions{}) {
    REQUIRE(a.table.add(b.identity(), true));
    REQUIRE(b.table.add(a.identity(), true));
  }
  TunnelTable::Ref b_at_a() const { return a.table.find_node_id(b.node_id); }
  // The tunnel up by a fresh punch from behind a NAT: the opening init, then the full one that
  // B answers `kLead` after `now`.
  void punch_through(TimePoint now) {
    a.engine.set_punch_open_hop_limit(kPunchOpenHopLimit);
    a.engine.direct(b_at_a(), {b.endpoint}, relay(), a.sink, now);
    a.tick(now + kLead);
    auto sent = inits(a.sink.sent);
    REQUIRE(sent.size() == 2);
    b.receive(sent[1].bytes, a.endpoint, now + kLead);
    a.receive(b.sink.sent.at(0).bytes, b.endpoint, now + kLead);
    REQUIRE(EnginePair::has_session(b_at_a()));
    a.sink.clear();
    b.sink.clear();
  }
  std::vector<Endpoint> b_candidates() const { return {b.private_endpoint, b.endpoint, kCandidateV6}; }

  Node a;
  Node b;
};


TEST_CASE("a fresh punch from behind a NAT opens it with hop-limited inits to the IPv4 "
          "candidates, then sends the full inits after the lead",
          "[tunnel][punch]") {
  PunchPair p;
  p.a.engine.set_punch_open_hop_limit(kPunchOpenHopLimit);
  p.a.engine.direct(p.b_at_a(), p.b_candidates(), relay(), p.a.sink, kT0);
  auto opening = inits(p.a.sink.sent);
  REQUIRE(opening.size() == 2);  // the IPv6 candidate gets no opening punch
  for (const auto& d : opening) {
    CHECK(d.hop_limit == kPunchOpenHopLimit);
    CHECK(d.to.is_v4());
  }
  p.a.sink.clear();

  p.a.tick(kT0 + kLead - 1ms);
  CHECK(inits(p.a.sink.sent).empty());  // not before the lead

  p.a.tick(kT0 + kLead);
  auto full = inits(p.a.sink.sent);
  REQUIRE(full.size() == 3);
  for (const auto& d : full) CHECK(d.hop_limit == 0);
  CHECK(full[0].bytes == opening[0].bytes);  // the same init, now with the normal hop limit
  CHECK(full[0].to == p.b.private_endpoint);
  CHECK(full[1].to == p.b.endpoint);
  CHECK(full[2].to == kCandidateV6);
  p.a.sink.clear();

  p.a.tick(kT0 + kLead + 10ms);
  CHECK(inits(p.a.sink.sent).empty());  // once

  // The peer answers the full init: the tunnel is up.
  p.b.receive(full[1].bytes, p.a.endpoint, kT0 + kLead + 10ms);
  REQUIRE(p.b.sink.sent.size() == 1);
  p.a.receive(p.b.sink.sent[0].bytes, p.b.endpoint, kT0 + kLead + 11ms);
  std::lock_guard lock(p.b_at_a()->mutex);
  CHECK(p.b_at_a()->current != nullptr);
  CHECK(p.b_at_a()->endpoint == p.b.endpoint);
}

TEST_CASE("a fresh punch from a host not behind a NAT sends no opening punch but still waits the "
          "lead, so the peer's opening punch leaves first",
          "[tunnel][punch]") {
  PunchPair p;
  p.a.engine.direct(p.b_at_a(), p.b_candidates(), relay(), p.a.sink, kT0);
  CHECK(inits(p.a.sink.sent).empty());
  p.a.tick(kT0 + kLead);
  CHECK(inits(p.a.sink.sent).size() == 3);
}

TEST_CASE("the peer's init arriving during the lead is answered at once", "[tunnel][punch]") {
  PunchPair p;
  p.a.engine.set_punch_open_hop_limit(kPunchOpenHopLimit);
  p.a.engine.direct(p.b_at_a(), p.b_candidates(), relay(), p.a.sink, kT0);
  p.a.sink.clear();
  // B was directed a moment earlier, its lead is over: its full init reaches A.
  auto a_at_b = p.b.table.find_node_id(p.a.node_id);
  p.b.engine.direct(a_at_b, p.a.candidates(), relay(), p.b.sink, kT0);
  auto b_inits = inits(p.b.sink.sent);
  REQUIRE(b_inits.size() == 2);
  p.a.receive(b_inits[1].bytes, p.b.endpoint, kT0 + 5ms);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].to == p.b.endpoint);
  CHECK(p.a.sink.sent[0].hop_limit == 0);
  CHECK(p.a.sink.sent[0].bytes[0] == static_cast<uint8_t>(wire::MessageType::handshake_response));
}

TEST_CASE("retries of a punch and a re-punch of a tunnel with a session go at once",
          "[tunnel][punch]") {
  PunchPair p;
  p.a.engine.set_punch_open_hop_limit(kPunchOpenHopLimit);
  p.a.engine.direct(p.b_at_a(), {p.b.endpoint}, relay(), p.a.sink, kT0);
  p.a.tick(kT0 + kLead);
  p.a.sink.clear();
  // Unanswered: the retry (500 ms later) is a full init at once.
  p.a.tick(kT0 + kHandshakeRetryInterval + 1ms);
  auto retry = inits(p.a.sink.sent);
  REQUIRE(retry.size() == 1);
  CHECK(retry[0].hop_limit == 0);
  // Answered: the tunnel is up. Then B moves and the DC directs A to B's new endpoint: the
  // probe goes at once (B's path update opened B's NAT already).
  const auto t1 = kT0 + kHandshakeRetryInterval + 2ms;
  p.b.receive(retry[0].bytes, p.a.endpoint, t1);
  p.a.receive(p.b.sink.sent.at(0).bytes, p.b.endpoint, t1);
  p.a.sink.clear();
  const Endpoint moved = Endpoint::v4({192, 0, 2, 99}, 40000);
  p.a.engine.direct(p.b_at_a(), {moved}, relay(), p.a.sink, t1 + 1s);
  CHECK(sole_init_hop_limit(p.a.sink, moved) == 0);
}

TEST_CASE("a moved tunnel whose peer moved too re-punches as a fresh one: our NAT first",
          "[tunnel][punch]") {
  // Both ends moved: each path update went to the other's old address, so neither new NAT has
  // a mapping towards the other, and both get the DC's Direction at the same moment - the race
  // kPunchLead exists for. A move of one end only keeps punching at once (the test above).
  PunchPair p;
  p.punch_through(kT0);
  const auto t1 = kT0 + 1s;
  p.a.engine.on_network_change(p.a.sink, t1);
  p.a.sink.clear();
  const Endpoint b_moved = Endpoint::v4({192, 0, 2, 99}, 40000);
  p.a.engine.direct(p.b_at_a(), {b_moved}, relay(), p.a.sink, t1 + 30ms);
  CHECK(sole_init_hop_limit(p.a.sink, b_moved) == kPunchOpenHopLimit);
  p.a.sink.clear();
  p.a.tick(t1 + 30ms + kLead);
  CHECK(sole_init_hop_limit(p.a.sink, b_moved) == 0);
}

TEST_CASE("a moved tunnel whose peer stayed re-punches at once", "[tunnel][punch]") {
  PunchPair p;
  p.punch_through(kT0);
  const auto t1 = kT0 + 1s;
  p.a.engine.on_network_change(p.a.sink, t1);
  p.a.sink.clear();
  p.a.engine.direct(p.b_at_a(), {p.b.endpoint}, relay(), p.a.sink, t1 + 30ms);
  CHECK(sole_init_hop_limit(p.a.sink, p.b.endpoint) == 0);
}

}  // namespace
}  // namespace ntm::tunnel::test
