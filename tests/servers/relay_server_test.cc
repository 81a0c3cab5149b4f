#include <catch2/catch.hpp>

#include <ctime>

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

  RsFixture() {
    crypto::random_bytes(key);
    RelayServerConfig c;
    c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
    c.relay_key = key;
    rs = std::make_unique<RelayServer>(std::move(c));
    rs->start();
  }
  Endpoint endpoint() const { return rs->local_endpoints().at(0); }

  control::RelayBind bind_for(uint32_t relay_id, uint64_t node_id, int64_t lifetime = 600) const {
    const uint64_t expires = static_cast<uint64_t>(std::time(nullptr) + lifetime);
    return {relay_id, node_id, expires,
            control::compute_relay_token(key, relay_id, node_id, expires)};
  }

  // Sends a bind and waits for the ack.
  bool bind(test::UdpSocket& s, const control::RelayBind& b) const {
    s.send_to(endpoint(), control::encode(b));
    auto d = s.receive(1s);
    if (!d) return false;
    auto ack = control::decode_relay_bind_ack(d->bytes);
    return ack.ok() && ack->relay_id == b.relay_id;
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

  // A relay_id nobody bound.
  a.send_to(f.endpoint(), control::encode_relayed(8, payload(1)));
  CHECK_FALSE(b.receive(200ms));
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
  auto bind = [&](test::UdpSocket& s, const Endpoint& to, uint64_t node) {
    s.send_to(to, control::encode(control::RelayBind{
                      5, node, expires, control::compute_relay_token(key, 5, node, expires)}));
    auto ack = s.receive(1s);
    return ack && control::decode_relay_bind_ack(ack->bytes).ok();
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
