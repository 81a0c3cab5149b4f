// The tunnel engine when a path may have died (issue 12 items 1, 2 and 5): after our address
// changed, or when a tunnel resumes after going idle, the path is stale until an authenticated
// packet comes back. Meanwhile the engine asks the DC for a direction (needs_direction) at once
// and again with backoff, at once after a re-registration, falls back to the relay it has, and
// the other end probes the new candidates the DC hands it.
#include <catch2/catch.hpp>

#include "engine_harness.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "wire/handshake.h"

namespace ntm::tunnel::test {
namespace {

const Endpoint kRelay = Endpoint::v4({198, 51, 100, 1}, 7802);
constexpr uint32_t kRelayId = 7;

std::optional<Peer::Relay> relay() { return Peer::Relay{kRelay, kRelayId}; }

size_t inits_to(const RecordingSink& sink, const Endpoint& to) {
  size_t n = 0;
  for (const auto& d : sink.sent) {
    if (d.to == to && type_of(d.bytes) == wire::MessageType::handshake_init) ++n;
  }
  return n;
}

Endpoint endpoint_of_locked(const TunnelTable::Ref& peer) {
  std::lock_guard lock(peer->mutex);
  return peer->endpoint;
}

// An established direct tunnel between unpinned peers (control-plane mode) that know each
// other's candidates and a relay, as after a direction.
struct RoamPair : EnginePair {
  RoamPair() : EnginePair(PairOptions{std::chrono::hours(1), /*pinned=*/false}) {
    establish(kT0);
    for (auto [peer, other] : {std::pair{peer_b_at_a(), &b}, std::pair{peer_a_at_b(), &a}}) {
      std::lock_guard lock(peer->mutex);
      peer->candidates = {other->endpoint};
      peer->relay = relay();
    }
  }
  // A's address changes at `moved` (its path update is lost: a NAT drops it), and the DC's
  // Direction reaches A 50 ms later with B where it was.
  void a_moves_and_is_directed(TimePoint moved) {
    a.engine.on_network_change(a.sink, moved);
    a.sink.sent.clear();
    a.engine.direct(hold_a, {b.endpoint}, relay(), a.sink, moved + 50ms);
  }
  // Holds the entries as the node's sockets would (unpinned entries may expire otherwise).
  TunnelTable::Ref hold_a = peer_b_at_a(), hold_b = peer_a_at_b();
};

TEST_CASE("after a network change the engine asks the DC at once, then with backoff until the "
          "peer answers, and at once after a re-registration",
          "[tunnel][roam]") {
  RoamPair p;
  p.a.engine.on_network_change(p.a.sink, kT0 + 1s);
  CHECK(p.a.sink.count(EngineEventType::needs_direction) == 1);  // no waiting for silence
  p.a.sink.events.clear();
  // The path update is lost (a new NAT in between): requests follow 250, 500, 1000 ms apart.
  p.a.sink.sent.clear();
  std::vector<int> at_ms;
  for (int ms = 20; ms <= 2000; ms += 20) {
    p.a.tick(kT0 + 1s + std::chrono::milliseconds(ms));
    if (p.a.sink.count(EngineEventType::needs_direction) > at_ms.size()) at_ms.push_back(ms);
  }
  CHECK(at_ms == std::vector<int>{260, 760, 1760});
  // Registered again (the DC was out of reach): asks at once.
  p.a.sink.events.clear();
  p.a.engine.on_registered(p.a.sink, kT0 + 3s);
  CHECK(p.a.sink.count(EngineEventType::needs_direction) == 1);
  // The peer answers (an authenticated packet): no more requests.
  p.a.sink.sent.clear();
  REQUIRE(p.b.send(p.b_to_a_v4(20, 1), kT0 + 3s) == SendResult::sent);
  p.b_to_a(kT0 + 3s);
  p.a.sink.events.clear();
  for (int s = 4; s < 20; ++s) p.a.tick(kT0 + std::chrono::seconds(s));
  CHECK(p.a.sink.count(EngineEventType::needs_direction) == 0);
  p.a.engine.on_registered(p.a.sink, kT0 + 20s);
  CHECK(p.a.sink.count(EngineEventType::needs_direction) == 0);
}

TEST_CASE("a stale direct tunnel falls back to the relay it has after direct_timeout",
          "[tunnel][roam]") {
  RoamPair p;
  const TimePoint moved = kT0 + 1s;
  p.a.engine.on_network_change(p.a.sink, moved);
  p.a.sink.sent.clear();  // the path update is lost
  p.a.tick(moved + kDefaultDirectTimeout - 20ms);
  CHECK(inits_to(p.a.sink, kRelay) == 0);
  p.a.sink.clear();
  p.a.tick(moved + kDefaultDirectTimeout + 20ms);
  {
    std::lock_guard lock(p.hold_a->mutex);
    CHECK(p.hold_a->path == PathKind::relay);
    CHECK(p.hold_a->endpoint == kRelay);
  }
  REQUIRE(p.a.sink.sent.size() == 1);  // the handshake through the relay
  CHECK(p.a.sink.sent[0].to == kRelay);
  CHECK(p.a.sink.sent[0].bytes[0] == wire::kRelayedType);
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 1);
}

bool relayed(const TunnelTable::Ref& peer) {
  std::lock_guard lock(peer->mutex);
  return peer->path == PathKind::relay;
}

TEST_CASE("Directions repeated while a moved tunnel punches neither restart the punch nor "
          "postpone the relay",
          "[tunnel][roam]") {
  // Both ends ask the DC at once, again with backoff and after registering: the DC answers
  // each request with a Direction to both. Each used to restart the punch and move the relay
  // deadline on by the direct timeout: the soak saw 2-3 s gaps where 1 s was due.
  RoamPair p;
  const TimePoint moved = kT0 + 1s;
  p.a_moves_and_is_directed(moved);
  CHECK(inits_to(p.a.sink, p.b.endpoint) == 1);  // the punch
  p.a.sink.sent.clear();
  for (auto at : {300ms, 800ms}) {
    p.a.tick(moved + at - 1ms);
    p.a.sink.sent.clear();  // the punch's own retry (500 ms) goes; no other init
    p.a.engine.direct(p.hold_a, {p.b.endpoint}, relay(), p.a.sink, moved + at);
    CHECK(inits_to(p.a.sink, p.b.endpoint) == 0);
  }
  p.a.tick(moved + kDefaultDirectTimeout - 10ms);
  CHECK_FALSE(relayed(p.hold_a));
  p.a.sink.clear();
  p.a.tick(moved + kDefaultDirectTimeout + 10ms);
  CHECK(relayed(p.hold_a));
  REQUIRE(p.a.sink.sent.size() == 1);  // the handshake through the relay
  CHECK(p.a.sink.sent[0].to == kRelay);
}

TEST_CASE("a moved tunnel that fell back to the relay stays there when more Directions come, "
          "and follows a new relay",
          "[tunnel][roam]") {
  RoamPair p;
  const TimePoint moved = kT0 + 1s;
  p.a_moves_and_is_directed(moved);
  p.a.tick(moved + kDefaultDirectTimeout + 10ms);
  REQUIRE(relayed(p.hold_a));
  p.a.sink.clear();
  // The next Direction (still stale: the relay has not answered yet) offers the same path.
  p.a.engine.direct(p.hold_a, {p.b.endpoint}, relay(), p.a.sink, moved + 1750ms);
  CHECK(relayed(p.hold_a));
  CHECK(inits_to(p.a.sink, p.b.endpoint) == 0);
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 0);
  for (int ms = 1760; ms <= 3000; ms += 20) p.a.tick(moved + std::chrono::milliseconds(ms));
  CHECK(relayed(p.hold_a));  // no punching timed out again: no deadline to hit
  CHECK(inits_to(p.a.sink, p.b.endpoint) == 0);
  // A Direction naming another relay (the DC chose again): the tunnel moves to it.
  p.a.sink.clear();
  const Endpoint other_relay = Endpoint::v4({198, 51, 100, 2}, 7802);
  p.a.engine.direct(p.hold_a, {p.b.endpoint}, Peer::Relay{other_relay, 9}, p.a.sink,
                    moved + 3100ms);
  REQUIRE(p.a.sink.sent.size() == 1);  // the handshake through the new relay
  CHECK(p.a.sink.sent[0].to == other_relay);
  CHECK(p.a.sink.sent[0].bytes[0] == wire::kRelayedType);
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 1);
  CHECK(endpoint_of_locked(p.hold_a) == other_relay);
}

TEST_CASE("told that the peer moved, a tunnel probes the new candidates even while a handshake "
          "to the old endpoint is pending",
          "[tunnel][roam]") {
  RoamPair p;
  // B is rekeying towards A's old endpoint, unanswered (A has just left it).
  const TimePoint rekey = kT0 + kResponderRekeyAfterTime + 1s;
  REQUIRE(p.b.send(p.b_to_a_v4(20, 1), rekey) == SendResult::sent);
  REQUIRE(inits_to(p.b.sink, p.a.endpoint) == 1);
  {
    std::lock_guard lock(p.hold_b->mutex);
    REQUIRE(p.hold_b->pending);
  }
  p.b.sink.clear();
  // The DC directs B to A's new address.
  const Endpoint moved_to = Endpoint::v4({203, 0, 113, 9}, 40000);
  p.b.engine.direct(p.hold_b, {moved_to}, relay(), p.b.sink, rekey + 10ms);
  CHECK(inits_to(p.b.sink, moved_to) == 1);
}

TEST_CASE("a tunnel that resumes after going idle asks the DC where the peer is unless it "
          "answers within kResumeDirectionDelay",
          "[tunnel][roam]") {
  EnginePair p(PairOptions{3s, /*pinned=*/false});
  p.establish(kT0);
  auto hold = p.peer_b_at_a();  // a socket's hold
  const TimePoint idle = kT0 + 4s;
  p.a.tick(idle);  // keys dropped
  {
    std::lock_guard lock(hold->mutex);
    REQUIRE(!hold->current);
  }
  REQUIRE(p.a.table.find_node_id(p.b.node_id));  // held: not expired
  p.a.sink.clear();
  REQUIRE(p.a.send(p.a_to_b_v4(20, 1), idle) == SendResult::queued);  // handshake, unanswered
  p.a.sink.sent.clear();
  p.a.tick(idle + kResumeDirectionDelay - 20ms);
  CHECK(p.a.sink.count(EngineEventType::needs_direction) == 0);
  p.a.tick(idle + kResumeDirectionDelay + 20ms);
  CHECK(p.a.sink.count(EngineEventType::needs_direction) == 1);
}

TEST_CASE("an answered resume asks the DC nothing", "[tunnel][roam]") {
  EnginePair p(PairOptions{3s, /*pinned=*/false});
  p.establish(kT0);
  auto hold = p.peer_b_at_a();
  auto hold_b = p.peer_a_at_b();
  const TimePoint idle = kT0 + 4s;
  p.tick(idle);
  p.a.sink.clear();
  REQUIRE(p.a.send(p.a_to_b_v4(20, 1), idle) == SendResult::queued);
  p.pump(idle);
  REQUIRE(p.b.sink.delivered.size() == 1);
  for (int ms = 20; ms < 3000; ms += 20) p.a.tick(idle + std::chrono::milliseconds(ms));
  CHECK(p.a.sink.count(EngineEventType::needs_direction) == 0);
}

}  // namespace
}  // namespace ntm::tunnel::test
