// Handshakes under load (WireGuard's cookie mechanism): a responder past its budget of inits
// answers those without a valid mac2 with a cookie reply instead of public-key work, and
// handles inits that prove their source address at a bounded rate per source. The initiator
// resends at once with mac2 and its handshake completes.
#include <catch2/catch.hpp>

#include "crypto/random.h"
#include "engine_harness.h"
#include "tunnel/cookie.h"
#include "tunnel/engine.h"
#include "tunnel/handshake_limiter.h"
#include "wire/handshake.h"

namespace ntm::tunnel::test {
namespace {

// B is under load from the first init on; one source may have 2 inits at once, then 1/s.
PairOptions loaded() {
  PairOptions o;
  o.b_handshake_limits = {.rate = 0, .burst = 0, .rate_per_source = 1, .burst_per_source = 2,
                          .sources_tracked = 16};
  return o;
}

bool has_mac2(const Bytes& init) {
  return std::any_of(init.begin() + wire::kHandshakeInitMac2Offset, init.end(),
                     [](uint8_t b) { return b != 0; });
}

TEST_CASE("a responder under load answers an init without mac2 with a cookie reply; the "
          "initiator resends with mac2 at once and the tunnel comes up",
          "[tunnel][cookie]") {
  EnginePair p(loaded());
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK_FALSE(has_mac2(p.a.sink.sent[0].bytes));

  REQUIRE(p.a_to_b(kT0) == 1);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::cookie_reply);
  CHECK(p.b.sink.sent[0].bytes.size() == wire::kCookieReplySize);
  CHECK(p.b.sink.sent[0].to == p.a.endpoint);
  CHECK(p.b.engine.stats().cookie_replies_sent == 1);
  CHECK(p.b.engine.stats().dropped_auth == 0);

  REQUIRE(p.b_to_a(kT0 + 1ms) == 1);
  REQUIRE(p.a.sink.sent.size() == 1);  // the init again, now with mac2
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::handshake_init);
  CHECK(has_mac2(p.a.sink.sent[0].bytes));
  {
    std::lock_guard lock(p.peer_b_at_a()->mutex);
    REQUIRE(p.peer_b_at_a()->pending);
    CHECK(p.peer_b_at_a()->pending->attempts == 1);  // asked for, not a retry
  }

  p.pump(kT0 + 2ms);
  CHECK(EnginePair::has_session(p.peer_b_at_a()));
  CHECK(EnginePair::has_session(p.peer_a_at_b()));
  CHECK(p.b.engine.stats().cookie_replies_sent == 1);
}

TEST_CASE("a responder that is not under load handles inits without mac2 at once",
          "[tunnel][cookie]") {
  EnginePair p;
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  REQUIRE(p.a_to_b(kT0) == 1);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::handshake_response);
  CHECK(p.b.engine.stats().cookie_replies_sent == 0);
}

TEST_CASE("a cookie only proves the address it was made for", "[tunnel][cookie]") {
  EnginePair p(loaded());
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  REQUIRE(p.a_to_b(kT0) == 1);
  REQUIRE(p.b_to_a(kT0) == 1);  // cookie for A's endpoint; A resends with mac2
  const Bytes with_mac2 = p.a.sink.sent.at(0).bytes;
  p.a.sink.clear();
  // The same init from another address (a spoofer replaying it) gets another cookie reply.
  const Endpoint elsewhere = Endpoint::v4({198, 51, 100, 7}, 4000);
  p.b.receive(with_mac2, elsewhere, kT0);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::cookie_reply);
  CHECK(p.b.sink.sent[0].to == elsewhere);
  CHECK(p.b.engine.stats().cookie_replies_sent == 2);
}

TEST_CASE("under load, one source with valid cookies gets its burst and then its rate only",
          "[tunnel][cookie]") {
  EnginePair p(loaded());
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  REQUIRE(p.a_to_b(kT0) == 1);
  REQUIRE(p.b_to_a(kT0) == 1);
  p.b.sink.clear();
  // Three fresh inits from A, each with a valid mac2 (A holds the cookie), in the same instant.
  int responses = 0;
  for (int i = 0; i < 3; ++i) {
    p.a.sink.clear();
    {
      std::lock_guard lock(p.peer_b_at_a()->mutex);
      p.peer_b_at_a()->pending.reset();
    }
    p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0 + 1ms);
    REQUIRE(p.a.sink.sent.size() == 1);
    CHECK(has_mac2(p.a.sink.sent[0].bytes));
    p.b.sink.clear();
    p.a_to_b(kT0 + 1ms);
    for (const auto& d : p.b.sink.sent) {
      if (type_of(d.bytes) == wire::MessageType::handshake_response) ++responses;
    }
  }
  CHECK(responses == 2);  // the per-source burst
  CHECK(p.b.engine.stats().handshakes_throttled == 1);
  // A second later the source has one more.
  p.a.sink.clear();
  {
    std::lock_guard lock(p.peer_b_at_a()->mutex);
    p.peer_b_at_a()->pending.reset();
  }
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0 + 1001ms);
  p.b.sink.clear();
  p.a_to_b(kT0 + 1001ms);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::handshake_response);
}

TEST_CASE("a flood of inits from forged addresses costs a loaded responder no public-key work, "
          "and a real peer still gets its tunnel",
          "[tunnel][cookie]") {
  PairOptions o;
  o.b_handshake_limits = {.rate = 10, .burst = 10, .rate_per_source = 20, .burst_per_source = 5,
                          .sources_tracked = 64};
  EnginePair p(o);
  // The attacker knows B's public key, so its inits pass mac1; their contents are junk.
  const MacKey b_mac1 = mac1_key_from_public(p.b.key.public_key);
  for (uint32_t i = 0; i < 1000; ++i) {
    Bytes junk(wire::kHandshakeInitSize);
    crypto::random_bytes(junk);
    junk[0] = 1;
    junk[1] = junk[2] = junk[3] = 0;
    const Mac mac1 = compute_mac(b_mac1, std::span(junk).first(wire::kHandshakeInitMacOffset));
    std::copy(mac1.begin(), mac1.end(), junk.begin() + wire::kHandshakeInitMacOffset);
    const Endpoint forged = Endpoint::v4({203, 0, static_cast<uint8_t>(i >> 8),
                                          static_cast<uint8_t>(i)}, 9999);
    p.b.receive(junk, forged, kT0);
  }
  // The first 10 went through public-key work (and failed it); the rest got cookie replies.
  CHECK(p.b.engine.stats().dropped_auth == 10);
  CHECK(p.b.engine.stats().cookie_replies_sent == 990);
  p.b.sink.clear();
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0 + 1ms);
  p.pump(kT0 + 2ms);
  CHECK(EnginePair::has_session(p.peer_b_at_a()));
  CHECK(EnginePair::has_session(p.peer_a_at_b()));
}

TEST_CASE("cookie replies that do not answer our pending init are ignored", "[tunnel][cookie]") {
  EnginePair p(loaded());
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  REQUIRE(p.a_to_b(kT0) == 1);
  const Bytes reply = p.b.sink.sent.at(0).bytes;
  p.b.sink.clear();
  p.a.sink.clear();
  SECTION("a tampered reply") {
    Bytes bad = reply;
    bad[30] ^= 1;
    p.a.receive(bad, p.b.endpoint, kT0);
    CHECK(p.a.engine.stats().dropped_auth == 1);
    CHECK(p.a.sink.sent.empty());
  }
  SECTION("a reply for a PathID with no pending init") {
    Bytes other = reply;
    other[7] ^= 1;
    p.a.receive(other, p.b.endpoint, kT0);
    CHECK(p.a.engine.stats().dropped_unknown_path == 1);
    CHECK(p.a.sink.sent.empty());
  }
  SECTION("a genuine reply makes one immediate resend; a second copy makes none") {
    p.a.receive(reply, p.b.endpoint, kT0);
    CHECK(p.a.sink.sent.size() == 1);
    p.a.sink.clear();
    p.a.receive(reply, p.b.endpoint, kT0);  // the new init has another PathID
    CHECK(p.a.engine.stats().dropped_unknown_path == 1);
    CHECK(p.a.sink.sent.empty());
  }
}

// ---- the pieces ----

TEST_CASE("cookie checker: a cookie's mac2 passes for its source until the secret changes",
          "[tunnel][cookie]") {
  CookieChecker checker;
  const MacKey key = mac1_key_from_public(crypto::x25519_generate().public_key);
  wire::HandshakeInit init;
  init.sender_path_id = 42;
  init.mac.fill(7);
  const Endpoint source = Endpoint::v4({192, 0, 2, 1}, 5000);
  const auto reply = checker.make_reply(init, key, source, std::nullopt, kT0);
  auto cookie = open_cookie_reply(reply, key, init.mac);
  REQUIRE(cookie);
  std::array<uint8_t, wire::kHandshakeInitSize> encoded{};
  REQUIRE(wire::encode(init, encoded) == encoded.size());
  init.mac2 = init_mac2(*cookie, encoded);
  REQUIRE(wire::encode(init, encoded) == encoded.size());
  CHECK(checker.check_mac2(encoded, source, std::nullopt, kT0 + 1s));
  CHECK_FALSE(checker.check_mac2(encoded, Endpoint::v4({192, 0, 2, 1}, 5001), std::nullopt, kT0));
  CHECK_FALSE(checker.check_mac2(encoded, source, 7u, kT0));  // relayed: another source
  // Another mac1 as associated data, or another key: the reply does not open.
  wire::HandshakeInit other = init;
  other.mac[0] ^= 1;
  CHECK_FALSE(open_cookie_reply(reply, key, other.mac));
  CHECK_FALSE(open_cookie_reply(reply, mac1_key_from_public(crypto::x25519_generate().public_key),
                                init.mac));
  // After kCookieRefreshTime the secret is new and the old cookie fails.
  CHECK_FALSE(checker.check_mac2(encoded, source, std::nullopt, kT0 + kCookieRefreshTime));
}

TEST_CASE("handshake limiter: a node budget, then per-source buckets by address, not port",
          "[tunnel][cookie]") {
  HandshakeLimiter l({.rate = 2, .burst = 3, .rate_per_source = 1, .burst_per_source = 2,
                      .sources_tracked = 2});
  CHECK(l.take(kT0));
  CHECK(l.take(kT0));
  CHECK(l.take(kT0));
  CHECK_FALSE(l.take(kT0));
  CHECK(l.take(kT0 + 500ms));  // 2 per second
  CHECK_FALSE(l.take(kT0 + 500ms));

  const Endpoint a1 = Endpoint::v4({192, 0, 2, 1}, 1000);
  const Endpoint a2 = Endpoint::v4({192, 0, 2, 1}, 2000);  // same host, other port
  const Endpoint b = Endpoint::v4({192, 0, 2, 2}, 1000);
  CHECK(l.take_for_source(a1, std::nullopt, kT0));
  CHECK(l.take_for_source(a2, std::nullopt, kT0));
  CHECK_FALSE(l.take_for_source(a1, std::nullopt, kT0));
  CHECK(l.take_for_source(b, std::nullopt, kT0));
  // Two sources tracked at most: a third waits until one has refilled and is forgotten.
  CHECK_FALSE(l.take_for_source(Endpoint::v4({192, 0, 2, 3}, 1), std::nullopt, kT0));
  CHECK(l.take_for_source(Endpoint::v4({192, 0, 2, 3}, 1), std::nullopt, kT0 + 3s));
  // A relayed source is the relay plus its relay id.
  HandshakeLimiter r({.rate = 0, .burst = 0, .rate_per_source = 0, .burst_per_source = 1,
                      .sources_tracked = 8});
  CHECK(r.take_for_source(a1, 1u, kT0));
  CHECK(r.take_for_source(a1, 2u, kT0));
  CHECK_FALSE(r.take_for_source(a1, 1u, kT0));
}

}  // namespace
}  // namespace ntm::tunnel::test

namespace ntm::tunnel::test {
namespace {

// B has a secret mac1 key (control-plane mode) that A learnt from the DC.
void give_b_secret_mac1(EnginePair& p, const MacKey& key, TimePoint previous_until = {}) {
  p.b.engine.set_mac1_key(key, previous_until);
  auto b_at_a = p.peer_b_at_a();
  std::lock_guard lock(b_at_a->mutex);
  b_at_a->mac1_key = key;
}

TEST_CASE("with a secret mac1 key, inits whose mac1 comes from the public key are dropped before "
          "any public-key work; a peer that holds the key gets its tunnel",
          "[tunnel][mac1]") {
  EnginePair p;
  MacKey secret{};
  crypto::random_bytes(secret);
  give_b_secret_mac1(p, secret);
  // An attacker that knows only B's public key: its inits pass WireGuard's public mac1.
  const MacKey public_mac1 = mac1_key_from_public(p.b.key.public_key);
  constexpr uint64_t kInits = 50;
  for (uint32_t i = 0; i < kInits; ++i) {
    Bytes junk(wire::kHandshakeInitSize);
    crypto::random_bytes(junk);
    junk[0] = 1;
    junk[1] = junk[2] = junk[3] = 0;
    std::fill(junk.begin() + wire::kHandshakeInitMac2Offset, junk.end(), 0);
    const Mac mac1 = compute_mac(public_mac1, std::span(junk).first(wire::kHandshakeInitMacOffset));
    std::copy(mac1.begin(), mac1.end(), junk.begin() + wire::kHandshakeInitMacOffset);
    p.b.receive(junk, Endpoint::v4({203, 0, 113, 9}, 9999), kT0);
  }
  CHECK(p.b.engine.stats().dropped_mac1 == kInits);
  CHECK(p.b.engine.stats().dropped_auth == kInits);
  CHECK(p.b.engine.stats().cookie_replies_sent == 0);
  CHECK(p.b.sink.sent.empty());  // no answer at all

  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0 + 1ms);
  p.pump(kT0 + 2ms);
  CHECK(EnginePair::has_session(p.peer_b_at_a()));
  CHECK(EnginePair::has_session(p.peer_a_at_b()));
  CHECK(p.b.engine.stats().dropped_mac1 == kInits);
}

TEST_CASE("after a new mac1 key, the previous one is accepted until its deadline and refused after",
          "[tunnel][mac1]") {
  EnginePair p;
  MacKey first{}, second{};
  crypto::random_bytes(first);
  crypto::random_bytes(second);
  give_b_secret_mac1(p, first);
  // B logs in again: A still holds the first key.
  p.b.engine.set_mac1_key(second, kT0 + 10s);
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  p.pump(kT0 + 1ms);
  CHECK(EnginePair::has_session(p.peer_a_at_b()));
  CHECK(p.b.engine.stats().dropped_mac1 == 0);

  EnginePair q;
  give_b_secret_mac1(q, first);
  q.b.engine.set_mac1_key(second, kT0 + 10s);
  q.a.engine.connect(q.peer_b_at_a(), q.a.sink, kT0 + 11s);
  REQUIRE(q.a_to_b(kT0 + 11s) == 1);
  CHECK(q.b.engine.stats().dropped_mac1 == 1);
  CHECK_FALSE(EnginePair::has_session(q.peer_a_at_b()));
  // A learns the new key (a new Direction): its next init gets through.
  {
    auto b_at_a = q.peer_b_at_a();
    std::lock_guard lock(b_at_a->mutex);
    b_at_a->mac1_key = second;
  }
  q.a.sink.clear();
  q.a.tick(kT0 + 11s + 600ms);  // the handshake retry
  q.pump(kT0 + 11s + 600ms);
  CHECK(EnginePair::has_session(q.peer_a_at_b()));
}

}  // namespace
}  // namespace ntm::tunnel::test
