// Engine::next_timer(): the node sleeps until it, so it must name every instant tick() acts at,
// and nothing tick() would leave as it is (the node would wake for nothing, or spin). Also the
// persistent keepalive (EngineConfig::keepalive_interval), which keeps NAT mappings open.
#include <catch2/catch.hpp>

#include "engine_harness.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"

namespace ntm::tunnel::test {
namespace {

constexpr auto kNever = TimePoint::max();
constexpr auto kTick = std::chrono::nanoseconds(1);

TEST_CASE("next_timer: nothing is armed without sessions or handshakes", "[tunnel]") {
  EnginePair p;
  CHECK(p.a.engine.next_timer(kT0) == kNever);
  CHECK(p.b.engine.next_timer(kT0) == kNever);
}

TEST_CASE("next_timer: an unanswered handshake is due at its retry, and tick() then resends it",
          "[tunnel]") {
  EnginePair p;
  REQUIRE(p.a.send(p.a_to_b_v4(20, 1), kT0) == SendResult::queued);
  p.a.sink.clear();
  const TimePoint retry = p.a.engine.next_timer(kT0);
  CHECK(retry == kT0 + kHandshakeRetryInterval + kTick);
  // Nothing happens just before it...
  p.a.engine.tick(p.a.sink, retry - kTick);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.a.engine.next_timer(retry - kTick) == retry);
  // ...the init goes again at it, and the next instant moves on.
  p.a.engine.tick(p.a.sink, retry);
  CHECK(p.a.sink.sent.size() == 1);
  CHECK(p.a.engine.next_timer(retry) > retry);
}

TEST_CASE("next_timer: every instant it names changes what tick() leaves armed", "[tunnel]") {
  // Walk a pair through minutes of silence, ticking only when next_timer() says so: each tick
  // must move the next instant forward (the same instant again would be a busy loop).
  EnginePair p(PairOptions{.idle_timeout = std::chrono::minutes(3), .pinned = false,
                           .keepalive_interval = std::chrono::seconds(25)});
  p.establish(kT0);
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0 + 1s) == SendResult::sent);
  p.pump(kT0 + 1s);
  for (auto* node : {&p.a, &p.b}) {
    TimePoint now = kT0 + 1s;
    int wakes = 0;
    for (; wakes < 100; ++wakes) {
      const TimePoint next = node->engine.next_timer(now);
      if (next == kNever) break;
      now = std::max(now, next);  // a keepalive never sent yet is due at once
      node->engine.tick(node->sink, now);
      node->sink.clear();
      // What was due is done: the next instant lies ahead.
      INFO("wake " << wakes << " at " << (now - kT0).count() << " ns after kT0");
      REQUIRE(node->engine.next_timer(now) > now);
    }
    // A keepalive every 25 s until the tunnel goes idle (3 min) and its entry expires; then
    // nothing is armed at all.
    CHECK(wakes < 20);
    CHECK(node->engine.next_timer(now) == kNever);
  }
}

TEST_CASE("persistent keepalives go every keepalive_interval and do not keep a tunnel from "
          "going idle", "[tunnel]") {
  const auto interval = std::chrono::seconds(25);
  EnginePair p(PairOptions{.idle_timeout = std::chrono::seconds(100), .pinned = true,
                           .keepalive_interval = interval});
  p.establish(kT0);
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0) == SendResult::sent);
  REQUIRE(p.a_to_b(kT0) == 1);
  p.b.sink.clear();
  // A sent data at kT0: its next keepalive is due one interval later, not before.
  CHECK(p.a.engine.next_timer(kT0) == kT0 + interval + kTick);
  p.a.engine.tick(p.a.sink, kT0 + interval);
  CHECK(p.a.sink.sent.empty());
  p.a.engine.tick(p.a.sink, kT0 + interval + kTick);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].bytes.size() == wire::kCapsuleOverhead);  // empty: a keepalive
  // B takes it without delivering anything; keepalives keep coming while the session lives...
  REQUIRE(p.a_to_b(kT0 + interval + kTick) == 1);
  CHECK(p.b.sink.delivered.empty());
  size_t keepalives = 1;
  TimePoint now = kT0 + interval + kTick;
  while (now < kT0 + 99s) {
    now = p.a.engine.next_timer(now);
    p.a.engine.tick(p.a.sink, now);
    keepalives += p.a_to_b(now);
    p.b.engine.tick(p.b.sink, now);
    p.b_to_a(now);
  }
  CHECK(keepalives == 3);  // at 25, 50 and 75 s; at 100 s the tunnel is idle
  // ...but they are not use: 100 s after the data both ends drop their keys.
  p.tick(kT0 + 101s);
  CHECK_FALSE(EnginePair::has_session(p.peer_b_at_a()));
  CHECK_FALSE(EnginePair::has_session(p.peer_a_at_b()));
}

}  // namespace
}  // namespace ntm::tunnel::test
