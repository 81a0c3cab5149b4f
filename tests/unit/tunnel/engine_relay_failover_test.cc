// A relayed tunnel whose Relay Server dies (docs/protocol.md 4.2, constants.h kRelaySilence):
// data sent through the relay and nothing back for kRelaySilence makes the node probe the relay
// with a handshake, and kRelayProbeWait later ask the DC for a path that avoids that relay
// (needs_direction naming it); a Direction with another relay moves both ends, including the
// one that noticed nothing. Two simulated relays; the test is the network. Time is explicit.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "engine_harness.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "wire/bytes.h"

namespace ntm::tunnel::test {
namespace {

const Endpoint kRelay1 = Endpoint::v4({198, 51, 100, 1}, 7802);
const Endpoint kRelay2 = Endpoint::v4({198, 51, 100, 2}, 7802);
constexpr uint32_t kRelayId1 = 0x01010101, kRelayId2 = 0x02020202;

// Two control-plane nodes (unpinned peers: they have a DC to ask) whose only path is a relay.
struct RelayedPair {
  RelayedPair() : a(1), b(2) {
    REQUIRE(a.table.add(b.identity(), /*pinned=*/false));
    REQUIRE(b.table.add(a.identity(), /*pinned=*/false));
  }
  TunnelTable::Ref b_at_a() const { return a.table.find_node_id(b.node_id); }
  TunnelTable::Ref a_at_b() const { return b.table.find_node_id(a.node_id); }

  // Carries what `from` sent through the relays that are up (unwrapped, with the relay_id of
  // the header, as from the RS); anything else is lost. Returns how many arrived.
  size_t carry(Node& from, Node& to, TimePoint now) {
    std::vector<SentDatagram> out;
    out.swap(from.sink.sent);
    size_t n = 0;
    for (const auto& d : out) {
      const bool up = (d.to == kRelay1 && relay1_up) || d.to == kRelay2;
      if (!up || d.bytes.size() <= wire::kRelayHeaderSize || d.bytes[0] != wire::kRelayedType) {
        ++lost;
        continue;
      }
      const uint32_t relay_id = wire::load_be32(&d.bytes[4]);
      to.receive(Bytes(d.bytes.begin() + wire::kRelayHeaderSize, d.bytes.end()), d.to, now,
                 relay_id);
      ++n;
    }
    return n;
  }
  void pump(TimePoint now) {
    pump_until_quiet([&] { return carry(a, b, now) + carry(b, a, now); });
  }
  // The tunnel up through relay 1 at kT0, with one packet from A answered by B if
  // `answered_once`; the sinks cleared.
  void relayed_through_relay1(bool answered_once) {
    direct_both(kRelay1, kRelayId1, kT0);
    pump(kT0);
    REQUIRE(endpoint_of(b_at_a()) == kRelay1);
    if (answered_once) REQUIRE(a_sends(kT0 + 10ms, 1, /*b_answers=*/true));
    a.sink.clear();
    b.sink.clear();
  }
  // The DC's Direction to both ends: no candidates (no common family), this relay.
  void direct_both(const Endpoint& relay, uint32_t relay_id, TimePoint now) {
    a.engine.direct(b_at_a(), {}, Peer::Relay{relay, relay_id}, a.sink, now);
    b.engine.direct(a_at_b(), {}, Peer::Relay{relay, relay_id}, b.sink, now);
  }
  // One data packet from A to B (and what B answers, if `b_answers`); true if it arrived.
  bool a_sends(TimePoint now, uint32_t seed, bool b_answers) {
    b.sink.delivered.clear();
    const Bytes packet = ipv4_packet(a.vip4, b.vip4, 40, seed);
    REQUIRE(a.send(packet, now) == SendResult::sent);
    carry(a, b, now);
    const bool arrived = b.sink.delivered.size() == 1 && b.sink.delivered[0] == packet;
    if (arrived && b_answers) {
      REQUIRE(b.send(ipv4_packet(b.vip4, a.vip4, 40, seed + 1), now) == SendResult::sent);
      carry(b, a, now);
    }
    return arrived;
  }
  void tick_both(TimePoint now) {
    a.tick(now);
    b.tick(now);
  }
  Endpoint endpoint_of(const TunnelTable::Ref& peer) {
    std::lock_guard lock(peer->mutex);
    return peer->endpoint;
  }

  Node a, b;
  bool relay1_up = true;
  size_t lost = 0;
};

std::vector<EngineEvent> of_type(const RecordingSink& sink, EngineEventType type) {
  std::vector<EngineEvent> out;
  for (const auto& e : sink.events)
    if (e.type == type) out.push_back(e);
  return out;
}

TEST_CASE("a relayed tunnel whose relay goes silent probes it with a handshake, then asks the DC "
          "for a path avoiding it, and a Direction with another relay moves both ends there",
          "[tunnel][relay]") {
  RelayedPair p;
  p.relayed_through_relay1(/*answered_once=*/true);

  // The RS dies; A keeps sending (B cannot answer what it does not get).
  p.relay1_up = false;
  const TimePoint t = kT0 + 100ms;
  CHECK_FALSE(p.a_sends(t, 3, true));
  CHECK_FALSE(p.a_sends(t + 200ms, 5, true));
  // The watch is armed from the first unanswered send.
  CHECK(p.a.engine.next_timer(t + 300ms) <= t + kRelaySilence);
  p.a.tick(t + kRelaySilence - 1ms);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.a.sink.events.empty());

  // kRelaySilence after it: a handshake through the relay (the probe), no DC request yet.
  p.a.tick(t + kRelaySilence);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].to == kRelay1);
  CHECK(p.a.sink.sent[0].bytes[wire::kRelayHeaderSize] ==
        static_cast<uint8_t>(wire::MessageType::handshake_init));
  CHECK(of_type(p.a.sink, EngineEventType::needs_direction).empty());
  p.carry(p.a, p.b, t + kRelaySilence);  // lost

  // Unanswered kRelayProbeWait later: the DC is asked, naming the relay.
  p.a.tick(t + kRelaySilence + kRelayProbeWait);
  auto asks = of_type(p.a.sink, EngineEventType::needs_direction);
  REQUIRE(asks.size() == 1);
  CHECK(asks[0].failed_relay == kRelay1);
  CHECK(p.b.sink.events.empty());  // B only receives: it noticed nothing

  // The DC directs both ends through the other relay; B moves too, and data flows again.
  p.a.sink.clear();
  const TimePoint moved = t + kRelaySilence + kRelayProbeWait + 20ms;
  p.direct_both(kRelay2, kRelayId2, moved);
  CHECK(p.endpoint_of(p.b_at_a()) == kRelay2);
  CHECK(p.endpoint_of(p.a_at_b()) == kRelay2);
  p.pump(moved);
  REQUIRE(p.a_sends(moved + 10ms, 7, true));
  CHECK(p.a.sink.delivered.size() == 1);
  // Answered: no more requests, and no request names a relay any more.
  p.a.sink.clear();
  for (auto now = moved + 20ms; now < moved + 3s; now += 100ms) {
    REQUIRE(p.a_sends(now, 9, true));
    p.a.tick(now);
    p.b.tick(now);
  }
  CHECK(of_type(p.a.sink, EngineEventType::needs_direction).empty());
  CHECK(of_type(p.b.sink, EngineEventType::needs_direction).empty());
}

TEST_CASE("a relayed tunnel whose relay died takes the DC's other relay at once, also when the "
          "Direction offers direct candidates too (no punching first)",
          "[tunnel][relay]") {
  RelayedPair p;
  p.relayed_through_relay1(/*answered_once=*/true);
  p.relay1_up = false;
  const TimePoint t = kT0 + 100ms;
  CHECK_FALSE(p.a_sends(t, 3, true));
  p.a.tick(t + kRelaySilence);                    // the probe through the dead relay
  p.a.tick(t + kRelaySilence + kRelayProbeWait);  // the DC asked: A's path is stale
  REQUIRE(of_type(p.a.sink, EngineEventType::needs_direction).size() == 1);

  // Both ends behind NATs that defeat punching: the DC offers their public endpoints (nothing
  // gets through: the test carries relay traffic only) and the other relay.
  const TimePoint moved = t + kRelaySilence + kRelayProbeWait + 20ms;
  p.a.engine.direct(p.b_at_a(), {Endpoint::v4({203, 0, 113, 2}, 40000)},
                    Peer::Relay{kRelay2, kRelayId2}, p.a.sink, moved);
  p.b.engine.direct(p.a_at_b(), {Endpoint::v4({203, 0, 113, 1}, 40000)},
                    Peer::Relay{kRelay2, kRelayId2}, p.b.sink, moved);
  CHECK(p.endpoint_of(p.b_at_a()) == kRelay2);
  CHECK(p.endpoint_of(p.a_at_b()) == kRelay2);
  p.pump(moved);
  // Data flows through it well before a direct_timeout of punching would have ended.
  REQUIRE(p.a_sends(moved + 10ms, 7, true));
  CHECK(p.a.sink.delivered.size() == 1);
}

TEST_CASE("a relayed tunnel whose peer only had nothing to say answers the probe and asks the DC "
          "nothing",
          "[tunnel][relay]") {
  RelayedPair p;
  p.relayed_through_relay1(/*answered_once=*/false);
  // One-way traffic: B never answers with data.
  const TimePoint t = kT0 + 100ms;
  for (int i = 0; i < 5; ++i) REQUIRE(p.a_sends(t + i * 100ms, 11 + i, /*b_answers=*/false));
  p.a.tick(t + kRelaySilence);
  REQUIRE(p.a.sink.sent.size() == 1);  // the probe
  p.pump(t + kRelaySilence);           // B answers it through the relay
  for (auto now = t + kRelaySilence; now <= t + kRelaySilence + 2 * kRelayProbeWait; now += 50ms)
    p.a.tick(now);
  CHECK(of_type(p.a.sink, EngineEventType::needs_direction).empty());
  CHECK(p.endpoint_of(p.b_at_a()) == kRelay1);
}

TEST_CASE("an idle relayed tunnel never probes its relay", "[tunnel][relay]") {
  RelayedPair p;
  p.relayed_through_relay1(/*answered_once=*/false);
  // Nothing sent, nothing armed, whatever the time.
  // (Within kRelaySilence of the handshake's sends it looks once more, then not at all.)
  CHECK(p.a.engine.next_timer(kT0 + kRelaySilence + 1ms) > kT0 + 5s);
  for (auto now = kT0 + 1s; now < kT0 + 5s; now += 250ms) p.tick_both(now);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.b.sink.sent.empty());
}

}  // namespace
}  // namespace ntm::tunnel::test
