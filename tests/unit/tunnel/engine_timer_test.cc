// The tunnel engine's timers, driven through tick() with explicit times: handshake retries and
// failure, idle expiry, session expiry and passive keepalives.
#include <catch2/catch.hpp>

#include <set>

#include "engine_harness.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "wire/handshake.h"

namespace ntm::tunnel::test {
namespace {

constexpr auto kJustAfterRetry = kHandshakeRetryInterval + 1ms;

uint32_t init_path_id(const SentDatagram& d) {
  auto init = wire::decode_handshake_init(d.bytes);
  REQUIRE(init);
  return init.value().sender_path_id;
}

TEST_CASE("engine resends an unanswered handshake after kHandshakeRetryInterval", "[tunnel]") {
  EnginePair p;
  const Bytes packet = p.a_to_b_v4(20, 1);
  REQUIRE(p.a.send(packet, kT0) == SendResult::queued);
  REQUIRE(p.a.sink.sent.size() == 1);
  const Bytes first_init = p.a.sink.sent[0].bytes;
  const uint32_t first_path = init_path_id(p.a.sink.sent[0]);
  p.a.sink.clear();

  p.a.engine.tick(p.a.sink, kT0 + kHandshakeRetryInterval);
  CHECK(p.a.sink.sent.empty());

  p.a.engine.tick(p.a.sink, kT0 + kJustAfterRetry);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].to == p.b.endpoint);
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::handshake_init);
  CHECK(init_path_id(p.a.sink.sent[0]) != first_path);
  CHECK(p.a.sink.events.empty());
  CHECK_FALSE(p.a.table.find_path(first_path));  // the superseded attempt is forgotten

  // B answers both inits; only the answer to the latest one counts.
  p.b.receive(first_init, p.a.endpoint, kT0 + kJustAfterRetry);
  const Bytes stale_response = p.b.sink.sent.at(0).bytes;
  p.b.sink.clear();
  p.a_to_b(kT0 + kJustAfterRetry);
  p.a.receive(stale_response, p.b.endpoint, kT0 + kJustAfterRetry);
  CHECK(p.a.engine.stats().dropped_unknown_path == 1);
  CHECK_FALSE(EnginePair::has_session(p.peer_b_at_a()));

  p.pump(kT0 + kJustAfterRetry);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == packet);
  CHECK(p.a.sink.count(EngineEventType::tunnel_up) == 1);
  CHECK(p.b.sink.count(EngineEventType::tunnel_up) == 1);
}

TEST_CASE("engine gives up a handshake after kHandshakeMaxAttempts with tunnel_down",
          "[tunnel]") {
  EnginePair p;
  REQUIRE(p.a.send(p.a_to_b_v4(20, 1), kT0) == SendResult::queued);
  std::set<uint32_t> path_ids{init_path_id(p.a.sink.sent.at(0))};
  p.a.sink.clear();

  TimePoint now = kT0;
  for (int attempt = 2; attempt <= kHandshakeMaxAttempts; ++attempt) {
    now += kJustAfterRetry;
    p.a.engine.tick(p.a.sink, now);
    INFO("attempt " << attempt);
    REQUIRE(p.a.sink.sent.size() == 1);
    REQUIRE(p.a.sink.events.empty());
    path_ids.insert(init_path_id(p.a.sink.sent[0]));
    p.a.sink.sent.clear();
  }
  CHECK(path_ids.size() == static_cast<size_t>(kHandshakeMaxAttempts));
  CHECK(p.a.engine.stats().handshakes_failed == 0);

  now += kJustAfterRetry;
  p.a.engine.tick(p.a.sink, now);
  CHECK(p.a.sink.sent.empty());
  REQUIRE(p.a.sink.events.size() == 1);
  CHECK(p.a.sink.events[0].type == EngineEventType::tunnel_down);
  CHECK(p.a.sink.events[0].peer == p.peer_b_at_a().shared().get());
  CHECK(p.a.engine.stats().handshakes_failed == 1);
  for (uint32_t id : path_ids) CHECK_FALSE(p.a.table.find_path(id));
  {
    auto b_at_a = p.peer_b_at_a();
    std::lock_guard lock(b_at_a->mutex);
    CHECK_FALSE(b_at_a->pending);
    CHECK(b_at_a->queued.empty());
  }

  // Nothing more happens on later ticks; the next packet starts over.
  p.a.sink.clear();
  p.a.engine.tick(p.a.sink, now + 10s);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.a.sink.events.empty());
  const Bytes packet = p.a_to_b_v6(20, 2);
  REQUIRE(p.a.send(packet, now + 10s) == SendResult::queued);
  REQUIRE(p.a.sink.sent.size() == 1);
  p.pump(now + 10s);
  REQUIRE(p.b.sink.delivered.size() == 1);  // the packets queued before the failure are gone
  CHECK(p.b.sink.delivered[0] == packet);
}

TEST_CASE("engine keeps handshaking with an unpinned peer that has no session yet", "[tunnel]") {
  EnginePair p(PairOptions{kDefaultIdleTimeout, false});
  REQUIRE(p.a.send(p.a_to_b_v4(20, 1), kT0) == SendResult::queued);
  p.a.sink.clear();
  // A retry is due, but the peer is new, not idle: neither the handshake nor the entry goes.
  p.a.engine.tick(p.a.sink, kT0 + kJustAfterRetry);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  REQUIRE(p.peer_b_at_a());
  REQUIRE(p.a.sink.sent.size() == 1);
  p.pump(kT0 + kJustAfterRetry);
  CHECK(p.b.sink.delivered.size() == 1);
}

TEST_CASE("engine drops the sessions of an idle tunnel and handshakes again on the next send",
          "[tunnel]") {
  EnginePair p(PairOptions{30s, true});
  p.establish(kT0);
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0 + 1s) == SendResult::sent);
  REQUIRE(p.b.send(p.b_to_a_v4(10, 2), kT0 + 1s) == SendResult::sent);
  p.pump(kT0 + 1s);
  p.a.sink.clear();
  p.b.sink.clear();

  p.a.engine.tick(p.a.sink, kT0 + 20s);
  p.b.engine.tick(p.b.sink, kT0 + 20s);
  CHECK(EnginePair::has_session(p.peer_b_at_a()));
  CHECK(EnginePair::has_session(p.peer_a_at_b()));
  CHECK(p.a.sink.events.empty());

  p.a.engine.tick(p.a.sink, kT0 + 32s);
  p.b.engine.tick(p.b.sink, kT0 + 32s);
  for (Node* n : {&p.a, &p.b}) {
    CHECK(n->sink.count(EngineEventType::tunnel_down) == 1);
    auto peer = n == &p.a ? p.peer_b_at_a() : p.peer_a_at_b();
    REQUIRE(peer);  // pinned: the entry stays
    std::lock_guard lock(peer->mutex);
    CHECK_FALSE(peer->current);
    CHECK_FALSE(peer->previous);
    CHECK_FALSE(peer->next);
    CHECK_FALSE(peer->pending);
  }
  CHECK(p.a.sink.sent.empty());
  CHECK(p.b.sink.sent.empty());

  const Bytes packet = p.a_to_b_v4(10, 3);
  REQUIRE(p.a.send(packet, kT0 + 40s) == SendResult::queued);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::handshake_init);
  p.pump(kT0 + 40s);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == packet);
  CHECK(p.a.engine.stats().handshakes_completed == 2);
  CHECK(p.b.engine.stats().handshakes_completed == 2);
}

TEST_CASE("engine forgets an idle unpinned peer entirely", "[tunnel]") {
  EnginePair p(PairOptions{30s, false});
  p.establish(kT0);
  p.a.engine.tick(p.a.sink, kT0 + 31s);
  p.b.engine.tick(p.b.sink, kT0 + 31s);
  CHECK(p.a.table.size() == 0);
  CHECK(p.b.table.size() == 0);
  CHECK(p.a.send(p.a_to_b_v4(10, 1), kT0 + 32s) == SendResult::no_tunnel);
}

TEST_CASE("engine lets an idle tunnel go idle even while both sides keep ticking", "[tunnel]") {
  EnginePair p(PairOptions{30s, true});
  p.establish(kT0);
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0 + 1s) == SendResult::sent);
  // Ticks every 100 ms; whatever a tick sends arrives 50 ms later.
  for (TimePoint now = kT0 + 1s; now < kT0 + 100s; now += 100ms) {
    p.pump(now + 50ms);
    p.a.engine.tick(p.a.sink, now + 100ms);
    p.b.engine.tick(p.b.sink, now + 100ms);
  }
  CHECK_FALSE(EnginePair::has_session(p.peer_b_at_a()));
  CHECK_FALSE(EnginePair::has_session(p.peer_a_at_b()));
  // At most one keepalive answered the data; keepalives are not answered.
  CHECK(p.b.engine.stats().packets_sent <= 2);
}

TEST_CASE("engine sends one passive keepalive kPassiveKeepalive after unanswered data",
          "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  const TimePoint got_data = kT0 + 60s;
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), got_data) == SendResult::sent);
  REQUIRE(p.a_to_b(got_data) == 1);

  p.b.engine.tick(p.b.sink, got_data + kPassiveKeepalive - 1s);
  CHECK(p.b.sink.sent.empty());
  p.b.engine.tick(p.b.sink, got_data + kPassiveKeepalive + 1ms);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::data);
  CHECK(p.b.sink.sent[0].bytes.size() == wire::kCapsuleOverhead);  // empty payload
  CHECK(p.b.sink.sent[0].to == p.a.endpoint);

  // A accepts it without delivering anything, and does not answer it.
  const TimePoint got_keepalive = got_data + kPassiveKeepalive + 1ms;
  REQUIRE(p.b_to_a(got_keepalive) == 1);
  CHECK(p.a.sink.delivered.empty());
  CHECK(p.a.engine.stats().dropped_auth == 0);
  p.a.engine.tick(p.a.sink, got_keepalive + kPassiveKeepalive + 1s);
  CHECK(p.a.sink.sent.empty());
  // Nor does B send a second one.
  p.b.sink.clear();
  p.b.engine.tick(p.b.sink, got_keepalive + kPassiveKeepalive + 1s);
  CHECK(p.b.sink.sent.empty());
}

TEST_CASE("engine sends no keepalive when it answered the data itself", "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0 + 1s) == SendResult::sent);
  p.a_to_b(kT0 + 1s);
  REQUIRE(p.b.send(p.b_to_a_v4(10, 2), kT0 + 2s) == SendResult::sent);
  p.b.sink.clear();
  p.b.engine.tick(p.b.sink, kT0 + 20s);
  CHECK(p.b.sink.sent.empty());
}

TEST_CASE("engine drops sessions older than kRejectAfterTime and handshakes again", "[tunnel]") {
  EnginePair p(PairOptions{std::chrono::hours(1), true});
  p.establish(kT0);
  const TimePoint expired = kT0 + kRejectAfterTime + 1s;
  // A capsule sent just before expiry is no longer accepted after it.
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0 + 100s) == SendResult::sent);
  const Bytes old_capsule = p.a.sink.sent.at(0).bytes;
  p.a.sink.clear();
  p.b.receive(old_capsule, p.a.endpoint, expired);
  CHECK(p.b.engine.stats().dropped_unknown_path == 1);
  CHECK(p.b.sink.delivered.empty());

  p.a.engine.tick(p.a.sink, expired);
  p.b.engine.tick(p.b.sink, expired);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 1);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 1);
  CHECK_FALSE(EnginePair::has_session(p.peer_b_at_a()));
  CHECK_FALSE(EnginePair::has_session(p.peer_a_at_b()));

  const Bytes packet = p.a_to_b_v4(10, 2);
  REQUIRE(p.a.send(packet, expired + 1s) == SendResult::queued);
  p.pump(expired + 1s);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == packet);
}

TEST_CASE("engine does not send on a session older than kRejectAfterTime", "[tunnel]") {
  EnginePair p(PairOptions{std::chrono::hours(1), true});
  p.establish(kT0);
  const TimePoint expired = kT0 + kRejectAfterTime + 1s;
  // Either side queues and starts a new handshake instead (B now knows A's endpoint).
  for (Node* n : {&p.a, &p.b}) {
    const Bytes packet = n == &p.a ? p.a_to_b_v4(10, 1) : p.b_to_a_v4(10, 2);
    REQUIRE(n->send(packet, expired) == SendResult::queued);
    REQUIRE(n->sink.sent.size() == 1);
    CHECK(type_of(n->sink.sent[0].bytes) == wire::MessageType::handshake_init);
  }
  p.pump(expired);
  CHECK(p.b.sink.delivered.size() == 1);
  CHECK(p.a.sink.delivered.size() == 1);
}

// The second (after kT0) at which `sender` first sends a HandshakeInit while it alone sends one
// packet a second on a tunnel A initiated at kT0; 0 if it never does within 200 s.
int first_rekey_second(bool a_sends) {
  EnginePair p(PairOptions{std::chrono::hours(1), true});
  p.establish(kT0);
  for (int s = 1; s <= 200; ++s) {
    const TimePoint now = kT0 + std::chrono::seconds(s);
    Node& sender = a_sends ? p.a : p.b;
    const Bytes packet = a_sends ? p.a_to_b_v4(20, static_cast<uint32_t>(s))
                                 : p.b_to_a_v4(20, static_cast<uint32_t>(s));
    REQUIRE(sender.send(packet, now) == SendResult::sent);
    const bool init = std::any_of(sender.sink.sent.begin(), sender.sink.sent.end(),
                                  [](const SentDatagram& d) {
                                    return type_of(d.bytes) == wire::MessageType::handshake_init;
                                  });
    p.pump(now);
    p.tick(now);
    p.pump(now);
    if (init) return s;
  }
  return 0;
}

TEST_CASE("rekeying happens at the documented ages: 120 s for the initiator, 150 s for a "
          "responder that alone sends (docs/protocol.md 2.2)",
          "[tunnel][rekey]") {
  STATIC_REQUIRE(kRekeyAfterTime == 120s);
  STATIC_REQUIRE(kResponderRekeyAfterTime == 150s);
  STATIC_REQUIRE(kRejectAfterTime == 180s);
  // The first packet sent after the session is older than the limit starts the new handshake.
  CHECK(first_rekey_second(/*a_sends=*/true) == 121);
  CHECK(first_rekey_second(/*a_sends=*/false) == 151);
}

}  // namespace
}  // namespace ntm::tunnel::test
