#include <catch2/catch.hpp>

#include <ctime>
#include <filesystem>
#include <thread>

#include "control/relay_messages.h"
#include "crypto/random.h"
#include "rs/relay_server.h"
#include "test_client.h"

using namespace ntm;
using namespace ntm::servers;
using namespace std::chrono_literals;

namespace {

struct RsFixture {
  control::Key32 key;
  std::unique_ptr<RelayServer> rs;

  // Two forwarding threads unless asked otherwise: every case then runs the shared table's
  // locking (ntm-server's default of one thread is the same code with one socket).
  explicit RsFixture(std::chrono::seconds idle_timeout = std::chrono::seconds(90),
                     unsigned threads = 2) {
    crypto::random_bytes(key);
    RelayServerConfig c;
    c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
    c.relay_key = key;
    c.idle_timeout = idle_timeout;
    c.threads = threads;
    rs = std::make_unique<RelayServer>(std::move(c));
    rs->start();
  }
  Endpoint endpoint() const { return rs->local_endpoints().at(0); }

  // What the DC gives a node for a relay.
  struct Assignment {
    uint32_t relay_id;
    uint64_t node_id;
    uint64_t expires;
    control::RelayToken token;
  };
  Assignment bind_for(uint32_t relay_id, uint64_t node_id, int64_t lifetime = 600) const {
    const uint64_t expires = static_cast<uint64_t>(std::time(nullptr) + lifetime);
    return {relay_id, node_id, expires,
            control::compute_relay_token(key, relay_id, node_id, expires)};
  }

  uint64_t sequence = 0;
  // Binds as a node does (challenge, then bind with the cookie) and waits for the ack.
  bool bind(test::UdpSocket& s, const Assignment& b) {
    return test::relay_bind(s, endpoint(), b.relay_id, b.node_id, b.expires, b.token, sequence);
  }
};

control::Bytes payload(uint8_t fill, size_t n = 100) {
  control::Bytes p(n, fill);
  p[0] = 3;  // looks like a data capsule; the RS does not care
  return p;
}

}  // namespace

TEST_CASE("RS: two bound ends exchange relayed datagrams unchanged", "[servers][rs]") {
  RsFixture f;
  test::UdpSocket a, b;
  REQUIRE(f.bind(a, f.bind_for(42, 1)));
  REQUIRE(f.bind(b, f.bind_for(42, 2)));
  CHECK(f.rs->relay_count() == 1);

  const auto from_a = control::encode_relayed(42, payload(0xaa));
  a.send_to(f.endpoint(), from_a);
  auto got = b.receive(1s);
  REQUIRE(got);
  CHECK(got->bytes == from_a);
  CHECK(got->from == f.endpoint());

  const auto from_b = control::encode_relayed(42, payload(0xbb, 1400));
  b.send_to(f.endpoint(), from_b);
  got = a.receive(1s);
  REQUIRE(got);
  CHECK(got->bytes == from_b);

  // A burst keeps its order.
  for (uint8_t i = 0; i < 50; ++i) a.send_to(f.endpoint(), control::encode_relayed(42, payload(i)));
  for (uint8_t i = 0; i < 50; ++i) {
    auto d = b.receive(1s);
    REQUIRE(d);
    CHECK(d->bytes[8 + 1] == i);
  }
  CHECK(f.rs->stats().forwarded >= 52);
}

TEST_CASE("RS: an unauthorised relay_id, a bad token and strangers are dropped",
          "[servers][rs]") {
  RsFixture f;
  test::UdpSocket a, b, stranger;
  REQUIRE(f.bind(a, f.bind_for(7, 1)));
  REQUIRE(f.bind(b, f.bind_for(7, 2)));

  // A relay_id nobody bound: not forwarded; the sender is asked to bind (a challenge).
  a.send_to(f.endpoint(), control::encode_relayed(8, payload(1)));
  CHECK_FALSE(b.receive(200ms));
  auto challenge = a.receive(200ms);
  REQUIRE(challenge);
  CHECK(control::decode_relay_challenge(challenge->bytes).value().relay_id == 8);
  // A datagram from an address that is not bound to relay 7.
  stranger.send_to(f.endpoint(), control::encode_relayed(7, payload(2)));
  CHECK_FALSE(a.receive(200ms));
  CHECK_FALSE(b.receive(200ms));
  // A bind with a forged token, a token for another node_id, an expired token.
  auto forged = f.bind_for(7, 3);
  forged.token[0] ^= 1;
  CHECK_FALSE(f.bind(stranger, forged));
  auto swapped = f.bind_for(7, 3);
  swapped.node_id = 1;  // token was for node 3
  CHECK_FALSE(f.bind(stranger, swapped));
  CHECK_FALSE(f.bind(stranger, f.bind_for(7, 3, -5)));
  // A valid token for a third node on a full relay.
  CHECK_FALSE(f.bind(stranger, f.bind_for(7, 3)));
  // Garbage.
  stranger.send_to(f.endpoint(), control::Bytes{0x31, 0, 0});
  stranger.send_to(f.endpoint(), control::Bytes{0x99});
  CHECK_FALSE(stranger.receive(200ms));
  // The genuine pair still works.
  a.send_to(f.endpoint(), control::encode_relayed(7, payload(3)));
  CHECK(b.receive(1s));
  CHECK(f.rs->stats().dropped >= 8);
}

TEST_CASE("RS: one bound end alone forwards nothing; a rebind moves an end", "[servers][rs]") {
  RsFixture f;
  test::UdpSocket a, b, b_moved;
  REQUIRE(f.bind(a, f.bind_for(9, 1)));
  a.send_to(f.endpoint(), control::encode_relayed(9, payload(1)));
  CHECK_FALSE(a.receive(200ms));
  REQUIRE(f.bind(b, f.bind_for(9, 2)));
  // Node 2 moves to a new address and re-binds with the same token.
  REQUIRE(f.bind(b_moved, f.bind_for(9, 2)));
  a.send_to(f.endpoint(), control::encode_relayed(9, payload(5)));
  CHECK(b_moved.receive(1s));
  CHECK_FALSE(b.receive(200ms));
}

TEST_CASE("RS: a handshake sent before the peer bound reaches it when it binds", "[servers][rs]") {
  // Both nodes get their direction at once and bind in any order; the first often starts its
  // handshake before the other is bound. It must not wait for its 500 ms retry.
  RsFixture f;
  test::UdpSocket a, b;
  REQUIRE(f.bind(a, f.bind_for(11, 1)));
  auto init = payload(0x11, 152);
  init[0] = 1;  // a handshake init
  auto newest_init = init;
  newest_init[1] = 0x22;
  a.send_to(f.endpoint(), control::encode_relayed(11, init));
  a.send_to(f.endpoint(), control::encode_relayed(11, newest_init));
  a.send_to(f.endpoint(), control::encode_relayed(11, payload(0x33)));  // data: not kept
  CHECK_FALSE(a.receive(200ms));
  REQUIRE(f.bind(b, f.bind_for(11, 2)));
  auto got = b.receive(1s);
  REQUIRE(got);
  CHECK(got->bytes == control::encode_relayed(11, newest_init));  // only the newest, once
  CHECK_FALSE(b.receive(200ms));
}

TEST_CASE("RS: a held handshake expires and is never sent to a stranger", "[servers][rs]") {
  control::Key32 key;
  crypto::random_bytes(key);
  RelayServerConfig c;
  c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
  c.relay_key = key;
  c.hold_handshake_for = 300ms;
  RelayServer rs(std::move(c));
  rs.start();
  const Endpoint at = rs.local_endpoints().at(0);
  uint64_t sequence = 0;
  auto bind = [&](test::UdpSocket& s, uint32_t relay_id, uint64_t node_id) {
    const uint64_t expires = static_cast<uint64_t>(std::time(nullptr) + 600);
    return test::relay_bind(s, at, relay_id, node_id, expires,
                            control::compute_relay_token(key, relay_id, node_id, expires), sequence);
  };
  auto init = payload(0x44, 152);
  init[0] = 1;
  test::UdpSocket a, b, stranger;
  REQUIRE(bind(a, 12, 1));
  a.send_to(at, control::encode_relayed(12, init));
  // A stranger's relayed datagram for the same relay neither takes nor replaces the held one.
  stranger.send_to(at, control::encode_relayed(12, init));
  std::this_thread::sleep_for(700ms);  // past hold_handshake_for (the deliberate wait here)
  REQUIRE(bind(b, 12, 2));
  CHECK_FALSE(b.receive(300ms));
}

TEST_CASE("RS: a dual-stack relay joins an IPv4 end and an IPv6 end", "[servers][rs]") {
  const Endpoint lo6 = Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0);
  std::unique_ptr<test::UdpSocket> six;
  try {
    six = std::make_unique<test::UdpSocket>(lo6);
  } catch (const std::exception&) {
    WARN("no IPv6 loopback: skipped");
    return;
  }
  control::Key32 key;
  crypto::random_bytes(key);
  RelayServerConfig c;
  c.listen = {Endpoint::v4({127, 0, 0, 1}, 0), lo6};
  c.relay_key = key;
  RelayServer rs(std::move(c));
  rs.start();
  Endpoint rs4, rs6;
  for (const auto& e : rs.local_endpoints()) (e.is_v4() ? rs4 : rs6) = e;
  REQUIRE(rs6.valid());
  const uint64_t expires = static_cast<uint64_t>(std::time(nullptr) + 60);
  uint64_t sequence = 0;
  auto bind = [&](test::UdpSocket& s, const Endpoint& to, uint64_t node) {
    return test::relay_bind(s, to, 5, node, expires, control::compute_relay_token(key, 5, node, expires),
                            sequence);
  };
  test::UdpSocket four;
  REQUIRE(bind(four, rs4, 1));
  REQUIRE(bind(*six, rs6, 2));
  const auto d = control::encode_relayed(5, payload(0x44));
  four.send_to(rs4, d);
  auto got = six->receive(1s);
  REQUIRE(got);
  CHECK(got->bytes == d);
  CHECK(got->from == rs6);
  six->send_to(rs6, d);
  got = four.receive(1s);
  REQUIRE(got);
  CHECK(got->from == rs4);
}

TEST_CASE("RS: a bind replayed from another address, or older than the last, binds nothing",
          "[servers][rs][security]") {
  RsFixture f;
  test::UdpSocket a, b, mallory;
  REQUIRE(f.bind(a, f.bind_for(11, 1)));
  const auto asg = f.bind_for(11, 2);
  // b binds the normal way; mallory captures the bind the RS accepted (with b's cookie).
  b.send_to(f.endpoint(), control::encode(control::make_relay_bind(11, 2, asg.expires, asg.token,
                                                                   ++f.sequence, {})));
  auto challenge = b.receive(1s);
  REQUIRE(challenge);
  const auto cookie = control::decode_relay_challenge(challenge->bytes).value().cookie;
  const auto captured = control::encode(
      control::make_relay_bind(11, 2, asg.expires, asg.token, ++f.sequence, cookie));
  b.send_to(f.endpoint(), captured);
  auto ack = b.receive(1s);
  REQUIRE(ack);
  REQUIRE(control::decode_relay_bind_ack(ack->bytes).ok());

  // Replayed from mallory's address: the cookie is b's, so she gets only a challenge, and she
  // cannot re-prove the token with her own cookie.
  mallory.send_to(f.endpoint(), captured);
  auto reply = mallory.receive(1s);
  REQUIRE(reply);
  auto mine = control::decode_relay_bind(captured).value();
  mine.cookie = control::decode_relay_challenge(reply->bytes).value().cookie;
  mallory.send_to(f.endpoint(), control::encode(mine));
  CHECK_FALSE(mallory.receive(300ms));
  a.send_to(f.endpoint(), control::encode_relayed(11, payload(7)));
  CHECK(b.receive(1s));
  CHECK_FALSE(mallory.receive(200ms));
  CHECK(f.rs->drops().get(RsDrop::bad_cookie) >= 1);
  CHECK(f.rs->drops().get(RsDrop::bad_token) >= 1);

  // b moves; the captured bind replayed from b's old address (which someone else may hold now)
  // is older than b's newest: refused, traffic keeps going to b's new address.
  test::UdpSocket b_moved;
  REQUIRE(f.bind(b_moved, asg));
  b.send_to(f.endpoint(), captured);
  CHECK_FALSE(b.receive(300ms));
  CHECK(f.rs->drops().get(RsDrop::replayed_bind) >= 1);
  a.send_to(f.endpoint(), control::encode_relayed(11, payload(8)));
  CHECK(b_moved.receive(1s));
  CHECK_FALSE(b.receive(200ms));
}

TEST_CASE("RS: after a restart, a relayed datagram is answered with a challenge", "[servers][rs]") {
  RsFixture f;
  test::UdpSocket a, b;
  const auto aa = f.bind_for(12, 1), ba = f.bind_for(12, 2);
  REQUIRE(f.bind(a, aa));
  REQUIRE(f.bind(b, ba));
  const Endpoint where = f.endpoint();
  f.rs->stop();
  RelayServerConfig c;
  c.listen = {where};
  c.relay_key = f.key;
  f.rs = std::make_unique<RelayServer>(std::move(c));
  f.rs->start();
  // The new RS knows no relay: a's next datagram gets a challenge at once (not silence).
  a.send_to(where, control::encode_relayed(12, payload(1)));
  auto reply = a.receive(1s);
  REQUIRE(reply);
  auto challenge = control::decode_relay_challenge(reply->bytes);
  REQUIRE(challenge.ok());
  CHECK(challenge->relay_id == 12);
  // Both bind again with the new cookies and traffic flows.
  for (auto* s : {&a, &b}) {
    const auto& asg = s == &a ? aa : ba;
    s->send_to(where, control::encode(control::make_relay_bind(12, asg.node_id, asg.expires,
                                                               asg.token, ++f.sequence,
                                                               s == &a ? challenge->cookie
                                                                       : control::RelayCookie{})));
    auto r = s->receive(1s);
    REQUIRE(r);
    if (s == &b) {
      auto cb = control::decode_relay_challenge(r->bytes);
      REQUIRE(cb.ok());
      s->send_to(where, control::encode(control::make_relay_bind(12, asg.node_id, asg.expires,
                                                                 asg.token, ++f.sequence,
                                                                 cb->cookie)));
      r = s->receive(1s);
      REQUIRE(r);
    }
    CHECK(control::decode_relay_bind_ack(r->bytes).ok());
  }
  a.send_to(where, control::encode_relayed(12, payload(2)));
  CHECK(b.receive(1s));
  // A tiny datagram (no amplification) gets nothing back.
  test::UdpSocket stranger;
  stranger.send_to(where, control::encode_relayed(99, control::Bytes{1, 2, 3}));
  CHECK_FALSE(stranger.receive(200ms));
}

TEST_CASE("RS: a restarted RS forwards for the relays of its previous run at once",
          "[servers][rs]") {
  test::TempDir dir;
  control::Key32 key;
  crypto::random_bytes(key);
  auto make = [&](std::optional<Endpoint> where) {
    RelayServerConfig c;
    c.listen = {where.value_or(Endpoint::v4({127, 0, 0, 1}, 0))};
    c.relay_key = key;
    c.table_file = dir.path / "rs-relays";
    auto rs = std::make_unique<RelayServer>(std::move(c));
    rs->start();
    return rs;
  };
  auto rs = make({});
  const Endpoint where = rs->local_endpoints().at(0);
  const uint64_t expires = static_cast<uint64_t>(std::time(nullptr) + 600);
  uint64_t sequence = 0;
  test::UdpSocket a, b;
  REQUIRE(test::relay_bind(a, where, 21, 1, expires, control::compute_relay_token(key, 21, 1, expires),
                           sequence));
  REQUIRE(test::relay_bind(b, where, 21, 2, expires, control::compute_relay_token(key, 21, 2, expires),
                           sequence));
  // Written by the once-a-second sweep; a kill -9 loses at most the last second's changes.
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (!std::filesystem::exists(dir.path / "rs-relays") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  REQUIRE(std::filesystem::exists(dir.path / "rs-relays"));
  rs->stop();
  rs = make(where);
  CHECK(rs->relay_count() == 1);
  // Each restored end is asked to bind again at once (so a node resends what the dead RS lost).
  for (auto* s : {&a, &b}) {
    auto asked = s->receive(1s);
    REQUIRE(asked);
    auto challenge = control::decode_relay_challenge(asked->bytes);
    REQUIRE(challenge.ok());
    CHECK(challenge->relay_id == 21);
  }
  // b sends nothing: a's datagram still reaches it, without any new bind.
  const auto d = control::encode_relayed(21, payload(9));
  a.send_to(where, d);
  auto got = b.receive(1s);
  REQUIRE(got);
  CHECK(got->bytes == d);
}

TEST_CASE("RS: a relay nobody uses expires after idle_timeout while a used one stays",
          "[servers][rs]") {
  RsFixture f(std::chrono::seconds(2));
  test::UdpSocket a, b, c, d;
  REQUIRE(f.bind(a, f.bind_for(51, 1)));
  REQUIRE(f.bind(b, f.bind_for(51, 2)));
  REQUIRE(f.bind(c, f.bind_for(52, 3)));
  REQUIRE(f.bind(d, f.bind_for(52, 4)));
  REQUIRE(f.rs->relay_count() == 2);
  // Relay 51 carries a datagram every 300 ms; relay 52 carries nothing. The RS sweeps once a
  // second, so 52 is gone within idle_timeout + 1 s (bounded wait: 6 s).
  const auto give_up = std::chrono::steady_clock::now() + 6s;
  while (f.rs->relay_count() == 2 && std::chrono::steady_clock::now() < give_up) {
    a.send_to(f.endpoint(), control::encode_relayed(51, payload(1)));
    REQUIRE(b.receive(1s));
    std::this_thread::sleep_for(300ms);
  }
  CHECK(f.rs->relay_count() == 1);
  a.send_to(f.endpoint(), control::encode_relayed(51, payload(2)));
  CHECK(b.receive(1s));
  // The expired relay forwards nothing; its ends are asked to bind again.
  c.send_to(f.endpoint(), control::encode_relayed(52, payload(3)));
  CHECK_FALSE(d.receive(300ms));
  auto challenge = c.receive(1s);
  REQUIRE(challenge);
  CHECK(control::decode_relay_challenge(challenge->bytes).value().relay_id == 52);
}

TEST_CASE("RS: forwarding threads share the relays: many flows, each in order, both ways",
          "[servers][rs]") {
  RsFixture f(std::chrono::seconds(90), 4);
  CHECK(f.rs->forwarding_threads() == 4);
  // 24 relays = 48 source ports: the kernel spreads them over the 4 sockets by source, so the
  // two ends of a relay often land on different threads.
  constexpr uint32_t kRelays = 24;
  constexpr int kEach = 40;
  std::vector<std::unique_ptr<test::UdpSocket>> ends;
  for (uint32_t r = 0; r < kRelays; ++r) {
    for (uint64_t node = 1; node <= 2; ++node) {
      ends.push_back(std::make_unique<test::UdpSocket>());
      REQUIRE(f.bind(*ends.back(), f.bind_for(100 + r, node)));
    }
  }
  CHECK(f.rs->relay_count() == kRelays);
  for (int i = 0; i < kEach; ++i) {
    for (uint32_t r = 0; r < kRelays; ++r) {
      for (int side = 0; side < 2; ++side) {
        auto p = payload(static_cast<uint8_t>(i), 200);
        p[1] = static_cast<uint8_t>(r);
        p[2] = static_cast<uint8_t>(side);
        ends[2 * r + side]->send_to(f.endpoint(), control::encode_relayed(100 + r, p));
      }
    }
  }
  for (uint32_t r = 0; r < kRelays; ++r) {
    for (int side = 0; side < 2; ++side) {
      test::UdpSocket& to = *ends[2 * r + (1 - side)];
      for (int i = 0; i < kEach; ++i) {
        auto d = to.receive(2s);
        REQUIRE(d);
        REQUIRE(d->bytes.size() == 8 + 200);
        CHECK(d->bytes[8 + 1] == r);
        CHECK(d->bytes[8 + 2] == side);  // sent by the other end
        CHECK(d->bytes[8 + 3] == i);  // in order
      }
    }
  }
  CHECK(f.rs->stats().forwarded == 2u * kRelays * kEach);
}

TEST_CASE("RS: with several threads a port another RS holds is still refused", "[servers][rs]") {
  RsFixture first(std::chrono::seconds(90), 1);
  RelayServerConfig c;
  c.listen = {first.endpoint()};
  c.relay_key = first.key;
  c.threads = 3;
  RelayServer second(std::move(c));
  CHECK_THROWS_AS(second.start(), std::system_error);
  CHECK_FALSE(second.forwarding_threads() > 0);
}
