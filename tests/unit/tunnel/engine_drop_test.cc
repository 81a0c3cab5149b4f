// What the tunnel engine refuses: tampered, replayed, foreign, unknown and malformed datagrams,
// each counted under its own statistic.
#include <catch2/catch.hpp>

#include "engine_harness.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "tunnel/engine.h"
#include "wire/capsule.h"
#include "wire/handshake.h"

namespace ntm::tunnel::test {
namespace {

// An established pair and one data capsule from A to B that B has not seen yet.
struct Captured {
  Captured() {
    p.establish(kT0);
    REQUIRE(p.a.send(packet, kT0 + 1s) == SendResult::sent);
    REQUIRE(p.a.sink.sent.size() == 1);
    capsule = p.a.sink.sent[0].bytes;
    p.a.sink.clear();
  }
  void to_b(const Bytes& bytes) { p.b.receive(bytes, p.a.endpoint, kT0 + 1s); }
  const EngineStats& b_stats() const { return p.b.engine.stats(); }
  uint64_t b_drops() const {
    const auto& s = b_stats();
    return s.dropped_auth + s.dropped_replay + s.dropped_malformed + s.dropped_unknown_path;
  }

  EnginePair p;
  Bytes packet = p.a_to_b_v4(200, 5);
  Bytes capsule;
};

TEST_CASE("engine drops a data capsule with a flipped ciphertext or tag bit as dropped_auth",
          "[tunnel]") {
  Captured c;
  const size_t at = GENERATE(size_t{wire::kCapsuleHeaderSize}, size_t{100}, size_t{0});
  const size_t index = at == 0 ? c.capsule.size() - 1 : at;  // 0 stands for the last tag byte
  Bytes bad = c.capsule;
  bad[index] ^= 0x04;
  c.to_b(bad);
  CHECK(c.b_stats().dropped_auth == 1);
  CHECK(c.b_drops() == 1);
  CHECK(c.p.b.sink.delivered.empty());
  CHECK(c.p.b.sink.events.empty());
  // The failure recorded nothing: the genuine capsule still gets through.
  c.to_b(c.capsule);
  REQUIRE(c.p.b.sink.delivered.size() == 1);
  CHECK(c.p.b.sink.delivered[0] == c.packet);
}

TEST_CASE("engine drops a data capsule with a changed header", "[tunnel]") {
  Captured c;
  Bytes bad = c.capsule;
  SECTION("counter (authenticated as AAD and nonce)") {
    bad[14] ^= 0x01;  // counter + 256: not yet seen, so it reaches the AEAD
    c.to_b(bad);
    CHECK(c.b_stats().dropped_auth == 1);
  }
  SECTION("flags (authenticated as AAD)") {
    bad[1] ^= 0x01;
    c.to_b(bad);
    CHECK(c.b_stats().dropped_auth == 1);
  }
  SECTION("reserved bytes (refused by the codec)") {
    bad[2] = 0xff;
    c.to_b(bad);
    CHECK(c.b_stats().dropped_malformed == 1);
  }
  SECTION("receiver PathID") {
    bad[7] ^= 0x01;
    c.to_b(bad);
    CHECK(c.b_stats().dropped_unknown_path == 1);
  }
  CHECK(c.b_drops() == 1);
  CHECK(c.p.b.sink.delivered.empty());
}

TEST_CASE("engine drops a replayed data capsule as dropped_replay", "[tunnel]") {
  Captured c;
  c.to_b(c.capsule);
  REQUIRE(c.p.b.sink.delivered.size() == 1);
  c.to_b(c.capsule);
  c.to_b(c.capsule);
  CHECK(c.b_stats().dropped_replay == 2);
  CHECK(c.b_drops() == 2);
  CHECK(c.p.b.sink.delivered.size() == 1);
}

TEST_CASE("engine accepts capsules out of order within the replay window", "[tunnel]") {
  Captured c;
  std::vector<Bytes> capsules{c.capsule};
  for (uint32_t i = 0; i < 10; ++i) {
    REQUIRE(c.p.a.send(c.p.a_to_b_v4(10, i), kT0 + 1s) == SendResult::sent);
    capsules.push_back(c.p.a.sink.sent.at(0).bytes);
    c.p.a.sink.clear();
  }
  for (auto it = capsules.rbegin(); it != capsules.rend(); ++it) c.to_b(*it);
  CHECK(c.p.b.sink.delivered.size() == capsules.size());
  CHECK(c.b_drops() == 0);
  CHECK(c.p.b.sink.delivered.back() == c.packet);
}

TEST_CASE("engine drops a capsule sealed under another key for a live PathID", "[tunnel]") {
  Captured c;
  auto header = wire::decode_capsule_header(c.capsule);
  REQUIRE(header);
  // A third party that knows the PathID (it travels in the clear) but not the session key.
  std::array<uint8_t, 32> key{};
  crypto::random_bytes(key);
  crypto::Aead foreign(crypto::AeadAlgorithm::aes_256_gcm, key);
  const Bytes inner = c.p.a_to_b_v4(40, 9);
  Bytes forged(wire::capsule_size(inner.size()));
  wire::CapsuleHeader h{0, header.value().receiver_path_id, header.value().counter + 1};
  wire::encode_capsule_header(h, std::span(forged).first<wire::kCapsuleHeaderSize>());
  foreign.seal(wire::capsule_nonce(h.counter), std::span(forged).first(wire::kCapsuleHeaderSize),
               inner, std::span(forged).subspan(wire::kCapsuleHeaderSize));
  c.to_b(forged);
  CHECK(c.b_stats().dropped_auth == 1);
  CHECK(c.p.b.sink.delivered.empty());
  // Its counter was not recorded either.
  c.to_b(c.capsule);
  CHECK(c.p.b.sink.delivered.size() == 1);
}

TEST_CASE("engine drops a capsule sealed by a third engine's session as foreign", "[tunnel]") {
  Captured c;
  // C has its own tunnel to B. Its capsules, readdressed to A's PathID at B, fail there.
  Node third(3, kDefaultIdleTimeout);
  auto b_at_c = third.table.add(c.p.b.identity(), true);
  {
    std::lock_guard lock(b_at_c->mutex);
    b_at_c->endpoint = c.p.b.endpoint;
  }
  REQUIRE(c.p.b.table.add(third.identity(), true));
  third.engine.connect(b_at_c, third.sink, kT0);
  EnginePair::forward(third, c.p.b, kT0);
  EnginePair::forward(c.p.b, third, kT0);
  EnginePair::forward(third, c.p.b, kT0);  // C's keepalive confirms the session at B
  c.p.b.sink.clear();
  REQUIRE(third.send(ipv4_packet(third.vip4, c.p.b.vip4, 40, 1), kT0 + 1s) == SendResult::sent);
  Bytes foreign = third.sink.sent.at(0).bytes;
  std::copy(c.capsule.begin() + 4, c.capsule.begin() + 8, foreign.begin() + 4);
  c.to_b(foreign);
  CHECK(c.b_stats().dropped_auth == 1);
  CHECK(c.p.b.sink.delivered.empty());
}

TEST_CASE("engine counts a capsule for an unknown PathID as dropped_unknown_path", "[tunnel]") {
  Captured c;
  Bytes bad = c.capsule;
  uint32_t unknown = 0;
  for (;;) {
    unknown = crypto::random_u32();
    if (!c.p.b.table.find_path(unknown)) break;
  }
  wire::store_be32(&bad[4], unknown);
  c.to_b(bad);
  CHECK(c.b_stats().dropped_unknown_path == 1);

  // A PathID whose handshake is still pending has no session to open capsules with.
  EnginePair fresh;
  fresh.a.engine.connect(fresh.peer_b_at_a(), fresh.a.sink, kT0);
  auto init = wire::decode_handshake_init(fresh.a.sink.sent.at(0).bytes);
  REQUIRE(init);
  wire::store_be32(&bad[4], init.value().sender_path_id);
  fresh.a.receive(bad, fresh.b.endpoint, kT0);
  CHECK(fresh.a.engine.stats().dropped_unknown_path == 1);
  CHECK(c.b_drops() == 1);
}

TEST_CASE("engine counts garbage and truncated datagrams as dropped_malformed", "[tunnel]") {
  Captured c;
  const std::vector<Bytes> garbage{
      {},                                                       // empty
      {0x00},                                                   // type 0
      {0x77, 1, 2, 3},                                          // unknown type
      {0x03},                                                   // data, no header
      Bytes(c.capsule.begin(), c.capsule.begin() + 20),         // data, shorter than header+tag
      {0x01, 0x00, 0x00, 0x00},                                 // init, truncated
      Bytes(wire::kHandshakeInitSize + 1, 0x01),                // init, oversized
      {0x02, 0x00},                                             // response, truncated
      Bytes(wire::kHandshakeResponseSize - 1, 0x02),            // response, truncated
  };
  for (const auto& g : garbage) c.to_b(g);
  Bytes init_reserved(wire::kHandshakeInitSize, 0);
  init_reserved[0] = 0x01;
  init_reserved[2] = 0x01;  // reserved must be zero
  c.to_b(init_reserved);
  CHECK(c.b_stats().dropped_malformed == garbage.size() + 1);
  CHECK(c.b_drops() == garbage.size() + 1);
  CHECK(c.p.b.sink.sent.empty());
  CHECK(c.p.b.sink.delivered.empty());
  // The tunnel is unharmed.
  c.to_b(c.capsule);
  CHECK(c.p.b.sink.delivered.size() == 1);
}

TEST_CASE("engine refuses handshake messages that fail authentication", "[tunnel]") {
  EnginePair p;
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  const Bytes init = p.a.sink.sent.at(0).bytes;
  p.a.sink.clear();

  SECTION("an init with a bad mac") {
    Bytes bad = init;
    bad[50] ^= 0x01;
    p.b.receive(bad, p.a.endpoint, kT0);
    CHECK(p.b.engine.stats().dropped_auth == 1);
    CHECK(p.b.sink.sent.empty());
  }
  SECTION("an init from a node B does not know") {
    Node stranger(9, kDefaultIdleTimeout);
    auto b_at_s = stranger.table.add(p.b.identity(), true);
    {
      std::lock_guard lock(b_at_s->mutex);
      b_at_s->endpoint = p.b.endpoint;
    }
    stranger.engine.connect(b_at_s, stranger.sink, kT0);
    p.b.receive(stranger.sink.sent.at(0).bytes, stranger.endpoint, kT0);
    CHECK(p.b.engine.stats().dropped_auth == 1);
    CHECK(p.b.sink.sent.empty());
  }
  SECTION("a response with a bad mac") {
    p.b.receive(init, p.a.endpoint, kT0);
    Bytes response = p.b.sink.sent.at(0).bytes;
    response[20] ^= 0x01;
    p.a.receive(response, p.b.endpoint, kT0);
    CHECK(p.a.engine.stats().dropped_auth == 1);
    CHECK(p.a.sink.count(EngineEventType::tunnel_up) == 0);
    CHECK_FALSE(EnginePair::has_session(p.peer_b_at_a()));
  }
}

TEST_CASE("engine rejects a replayed handshake init and keeps the session", "[tunnel]") {
  EnginePair p;
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  const Bytes init = p.a.sink.sent.at(0).bytes;
  p.pump(kT0);
  auto a_at_b = p.peer_a_at_b();
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(a_at_b->mutex);
    session = a_at_b->current;
  }
  REQUIRE(session);
  p.a.sink.clear();
  p.b.sink.clear();

  p.b.receive(init, p.a.endpoint, kT0 + 1s);
  CHECK(p.b.engine.stats().dropped_replay == 1);
  CHECK(p.b.sink.sent.empty());  // no response
  {
    std::lock_guard lock(a_at_b->mutex);
    CHECK(a_at_b->current == session);
    CHECK_FALSE(a_at_b->next);
  }
  // Even when replayed from somewhere else, it moves nothing.
  const Endpoint elsewhere = Endpoint::v4({203, 0, 113, 9}, 9);
  p.b.receive(init, elsewhere, kT0 + 1s);
  CHECK(p.b.engine.stats().dropped_replay == 2);
  CHECK(EnginePair::endpoint_of(a_at_b) == p.a.endpoint);

  // The tunnel still works both ways.
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0 + 2s) == SendResult::sent);
  REQUIRE(p.b.send(p.b_to_a_v4(10, 2), kT0 + 2s) == SendResult::sent);
  p.pump(kT0 + 2s);
  CHECK(p.b.sink.delivered.size() == 1);
  CHECK(p.a.sink.delivered.size() == 1);
}

TEST_CASE("engine drops a replayed handshake response", "[tunnel]") {
  EnginePair p;
  p.a.engine.connect(p.peer_b_at_a(), p.a.sink, kT0);
  p.a_to_b(kT0);
  const Bytes response = p.b.sink.sent.at(0).bytes;
  p.pump(kT0);
  p.a.sink.clear();
  p.a.receive(response, p.b.endpoint, kT0 + 1s);
  CHECK(p.a.engine.stats().dropped_unknown_path == 1);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.a.engine.stats().handshakes_completed == 1);
}

}  // namespace
}  // namespace ntm::tunnel::test
