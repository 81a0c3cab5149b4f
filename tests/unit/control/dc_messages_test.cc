#include <catch2/catch.hpp>

#include <algorithm>

#include "control/dc_messages.h"
#include "test_util.h"

using namespace ntm;
using namespace ntm::control;
using ntm::wire::DecodeError;

namespace {

RegisterAck sample_register_ack() {
  RegisterAck m;
  m.virtual_ipv4 = {100, 64, 0, 2};
  m.virtual_ipv6 = {0xfd, 0x00, 0x6e, 0x74, 0x6d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  m.observed = test::ep4(9, 40000);
  m.keepalive_s = 20;
  m.relays = {test::ep4(3, 7802), test::ep6(3, 7802)};
  return m;
}

Direction sample_direction() {
  Direction m;
  m.direction_id = 77;
  m.peer_certificate = Bytes(150, 0x5c);
  m.peer_virtual_ipv4 = {100, 64, 0, 3};
  m.peer_virtual_ipv6[15] = 3;
  m.candidates = {test::ep4(10, 5000), test::ep4(11, 5001), test::ep6(12, 5002)};
  m.mode = DirectionMode::direct;
  m.relay = test::ep4(3, 7802);
  m.relay_id = 0xabcdef01;
  m.relay_expires_unix = 99999;
  m.relay_token.fill(0x7e);
  m.peer_mac1_key.fill(0x4d);
  return m;
}

ResolveReply sample_reply() {
  ResolveReply m;
  m.request_id = 5;
  m.status = ResolveStatus::ok;
  m.node_id = 1234;
  m.fqdn = "bob.example";
  m.virtual_ipv4 = {100, 64, 0, 9};
  m.virtual_ipv6[0] = 0xfd;
  return m;
}

template <class M, class Decode>
void check_codec(const M& m, Decode decode) {
  const auto bytes = encode(m);
  auto d = decode(bytes);
  REQUIRE(d.ok());
  CHECK(d.value() == m);
  test::check_truncations_and_trailing(bytes, decode);
}

}  // namespace

TEST_CASE("Register and Keepalive round-trip and reject truncation and trailing bytes",
          "[control]") {
  // A Register of a node before 0.4 (version 1) has no version field.
  // (Trailing bytes after it read as a version: the next test case.)
  Register legacy{{test::ep4(1, 1000), test::ep6(1, 1000)}};
  legacy.version = 1;
  Register none;
  none.version = 1;
  for (const auto& m : {legacy, none}) {
    const auto bytes = encode(m);
    auto d = decode_register(bytes);
    REQUIRE(d.ok());
    CHECK(d.value() == m);
    for (size_t n = 0; n < bytes.size(); ++n)
      CHECK_FALSE(decode_register(std::span<const uint8_t>(bytes.data(), n)).ok());
  }
  check_codec(Keepalive{{test::ep6(2, 2000)}}, [](auto s) { return decode_keepalive(s); });
}

TEST_CASE("a Register states the node's protocol version after the challenge; without it the "
          "node is version 1, and a stated version below 2 is refused",
          "[control][mac1]") {
  Register m{{test::ep4(1, 1000)}};
  m.challenge.fill(0x5a);
  REQUIRE(m.version == kNodeProtocolVersion);
  const auto bytes = encode(m);
  auto d = decode_register(bytes);
  REQUIRE(d.ok());
  CHECK(d.value() == m);
  CHECK(bytes.back() == kNodeProtocolVersion);
  // Every prefix fails except the one without the version: a node before 0.4.
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto prefix = decode_register(std::span<const uint8_t>(bytes.data(), n));
    INFO("prefix length " << n);
    if (n == bytes.size() - 1) {
      REQUIRE(prefix.ok());
      CHECK(prefix.value().version == 1);
    } else {
      CHECK_FALSE(prefix.ok());
    }
  }
  auto longer = bytes;
  longer.push_back(0);
  CHECK(decode_register(longer).error() == DecodeError::oversized);
  for (uint8_t v : {0, 1}) {
    auto low = bytes;
    low.back() = v;
    CHECK(decode_register(low).error() == DecodeError::bad_field);
  }
  auto future = bytes;
  future.back() = 9;  // a later node: this DC decides what to do with it
  REQUIRE(decode_register(future).ok());
  CHECK(decode_register(future).value().version == 9);
}

TEST_CASE("a Direction carries the peer's mac1 key right after the relay token", "[control][mac1]") {
  auto m = sample_direction();
  m.peer_mac1_key.fill(0x33);
  const auto bytes = encode(m);
  auto d = decode_direction(bytes);
  REQUIRE(d.ok());
  CHECK(d.value().peer_mac1_key == m.peer_mac1_key);
  CHECK(std::all_of(bytes.end() - 32, bytes.end(), [](uint8_t b) { return b == 0x33; }));
}

TEST_CASE("RegisterAck and KeepaliveAck round-trip and reject truncation and trailing bytes",
          "[control]") {
  check_codec(sample_register_ack(), [](auto s) { return decode_register_ack(s); });
  check_codec(KeepaliveAck{test::ep6(7, 7)}, [](auto s) { return decode_keepalive_ack(s); });
}

TEST_CASE("Resolve by name and by virtual address round-trip", "[control]") {
  check_codec(Resolve::by_name(1, "bob.example"), [](auto s) { return decode_resolve(s); });
  check_codec(Resolve::by_ipv4(2, {100, 64, 0, 7}), [](auto s) { return decode_resolve(s); });
  Ipv6Address a{};
  a[0] = 0xfd;
  a[15] = 7;
  check_codec(Resolve::by_ipv6(3, a), [](auto s) { return decode_resolve(s); });
}

TEST_CASE("a Resolve may name the relay that went silent after the request; without it the "
          "Resolve of a node before 0.4",
          "[control]") {
  for (const Endpoint& failed : {test::ep4(9, 7802), test::ep6(9, 7802)}) {
    auto m = Resolve::by_name(4, "bob.example");
    m.failed_relay = failed;
    const auto bytes = encode(m);
    CHECK(bytes.size() > encode(Resolve::by_name(4, "bob.example")).size());
    auto d = decode_resolve(bytes);
    REQUIRE(d.ok());
    CHECK(d.value() == m);
    // Cut anywhere but right before the endpoint: refused (there, the Resolve without it).
    const size_t without = encode(Resolve::by_name(4, "bob.example")).size();
    for (size_t n = 0; n < bytes.size(); ++n) {
      INFO(n);
      CHECK(decode_resolve(std::span<const uint8_t>(bytes.data(), n)).ok() == (n == without));
    }
    auto longer = bytes;
    longer.push_back(0);
    CHECK_FALSE(decode_resolve(longer).ok());
  }
  // A family 0 endpoint is no relay: refused rather than read as "none".
  auto zero = encode(Resolve::by_name(4, "bob.example"));
  zero.push_back(0);
  CHECK_FALSE(decode_resolve(zero).ok());
}

TEST_CASE("Resolve rejects an unknown selector and an unknown family", "[control]") {
  auto by_name = encode(Resolve::by_name(1, "x"));
  by_name[4] = 2;
  CHECK(decode_resolve(by_name).error() == DecodeError::bad_field);
  auto by_addr = encode(Resolve::by_ipv4(1, {1, 2, 3, 4}));
  by_addr[5] = 5;
  CHECK(decode_resolve(by_addr).error() == DecodeError::bad_field);
  Resolve no_family;
  no_family.by = ResolveBy::virtual_address;
  CHECK_THROWS_AS(encode(no_family), std::invalid_argument);
}

TEST_CASE("ResolveReply round-trips and rejects an unknown status", "[control]") {
  check_codec(sample_reply(), [](auto s) { return decode_resolve_reply(s); });
  ResolveReply offline;
  offline.request_id = 9;
  offline.status = ResolveStatus::peer_offline;
  check_codec(offline, [](auto s) { return decode_resolve_reply(s); });
  ResolveReply denied;
  denied.request_id = 10;
  denied.status = ResolveStatus::denied;
  check_codec(denied, [](auto s) { return decode_resolve_reply(s); });
  auto bytes = encode(sample_reply());
  bytes[4] = 4;
  CHECK(decode_resolve_reply(bytes).error() == DecodeError::bad_field);
}

TEST_CASE("Direction round-trips in direct and relay mode, with and without a relay",
          "[control]") {
  check_codec(sample_direction(), [](auto s) { return decode_direction(s); });
  auto relay = sample_direction();
  relay.mode = DirectionMode::relay;
  relay.candidates.clear();
  check_codec(relay, [](auto s) { return decode_direction(s); });
  auto no_relay = sample_direction();
  no_relay.relay = Endpoint{};
  no_relay.relay_id = 0;
  no_relay.relay_token.fill(0);
  check_codec(no_relay, [](auto s) { return decode_direction(s); });
}

TEST_CASE("Direction rejects an unknown mode and relay mode without a relay", "[control]") {
  auto m = sample_direction();
  auto bytes = encode(m);
  const size_t mode_at = 4 + 2 + 150 + 4 + 16 + 1 + 7 + 7 + 19;
  REQUIRE(bytes[mode_at] == 0);
  bytes[mode_at] = 2;
  CHECK(decode_direction(bytes).error() == DecodeError::bad_field);

  m.relay = Endpoint{};
  bytes = encode(m);
  bytes[mode_at] = 1;
  CHECK(decode_direction(bytes).error() == DecodeError::bad_field);
  m.mode = DirectionMode::relay;
  CHECK_THROWS_AS(encode(m), std::invalid_argument);
}

TEST_CASE("DirectionAck and Error round-trip; Error rejects an unknown code", "[control]") {
  check_codec(DirectionAck{0xfeedbeef}, [](auto s) { return decode_direction_ack(s); });
  check_codec(DcError{DcErrorCode::session_expired, "log in again"},
              [](auto s) { return decode_dc_error(s); });
  auto bytes = encode(DcError{DcErrorCode::bad_request, ""});
  bytes[0] = 0;
  CHECK(decode_dc_error(bytes).error() == DecodeError::bad_field);
  bytes[0] = 200;
  CHECK(decode_dc_error(bytes).error() == DecodeError::bad_field);
}

TEST_CASE("endpoint lists reject an unknown family and more than 255 items", "[control]") {
  auto bytes = encode(Register{{test::ep4(1, 1)}});
  bytes[1] = 0;
  CHECK(decode_register(bytes).error() == DecodeError::bad_field);
  Register big;
  big.private_endpoints.assign(256, test::ep4(1, 1));
  CHECK_THROWS_AS(encode(big), std::length_error);
  CHECK_THROWS_AS(encode(Register{{Endpoint{}}}), std::invalid_argument);
}

TEST_CASE("PeerRevoked and its ack round-trip and reject truncation and trailing bytes",
          "[control]") {
  check_codec(PeerRevoked{7, 0x1122334455667788, "account 'bob' is disabled"},
              [](auto s) { return decode_peer_revoked(s); });
  check_codec(PeerRevokedAck{7}, [](auto s) { return decode_peer_revoked_ack(s); });
  CHECK(message_type(PeerRevoked{}) == MessageType::peer_revoked);
  CHECK(is_node_to_dc_type(static_cast<uint8_t>(MessageType::peer_revoked_ack)));
  CHECK_FALSE(is_node_to_dc_type(static_cast<uint8_t>(MessageType::peer_revoked)));
}

TEST_CASE("Direction carries a restricted access after the token, and none when unrestricted, "
          "so nodes before 0.4 read a policy-free DC's Directions",
          "[control][policy]") {
  const auto plain = encode(sample_direction());
  auto m = sample_direction();
  m.access.restricted = true;
  m.access.inbound = {{ntm::tunnel::kProtocolTcp, 22, 22}};
  m.access.outbound = {{ntm::tunnel::kProtocolUdp, 5000, 5010}, {ntm::tunnel::kProtocolAny, 80, 80}};
  const auto bytes = encode(m);
  REQUIRE(bytes.size() == plain.size() + 1 + 1 + 5 + 1 + 10);
  CHECK(std::equal(plain.begin(), plain.end(), bytes.begin()));  // the old layout, then access
  auto d = decode_direction(bytes);
  REQUIRE(d.ok());
  CHECK(d.value() == m);
  // Every prefix fails except the one that ends with the token: an unrestricted Direction.
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto prefix = decode_direction(std::span<const uint8_t>(bytes.data(), n));
    INFO("prefix length " << n);
    if (n == plain.size()) {
      REQUIRE(prefix.ok());
      CHECK_FALSE(prefix.value().access.restricted);
    } else {
      CHECK_FALSE(prefix.ok());
    }
  }
  auto longer = bytes;
  longer.push_back(0);
  CHECK(decode_direction(longer).error() == DecodeError::oversized);
  auto backwards = bytes;
  backwards[plain.size() + 2] = 9;  // the first range's protocol: unknown
  CHECK(decode_direction(backwards).error() == DecodeError::bad_field);
}

TEST_CASE("PeerAccess and its ack round-trip, restricted or not, and reject truncation and "
          "trailing bytes",
          "[control][policy]") {
  PeerAccessNotice n{9, 0x0102030405060708, {}};
  check_codec(n, [](auto s) { return decode_peer_access(s); });
  n.access.restricted = true;  // denied: nothing either way
  check_codec(n, [](auto s) { return decode_peer_access(s); });
  n.access.outbound = {{ntm::tunnel::kProtocolTcp, 443, 443}};
  check_codec(n, [](auto s) { return decode_peer_access(s); });
  check_codec(PeerAccessAck{9}, [](auto s) { return decode_peer_access_ack(s); });
  CHECK(message_type(n) == MessageType::peer_access);
  CHECK(is_dc_type(static_cast<uint8_t>(MessageType::peer_access)));
  CHECK(is_node_to_dc_type(static_cast<uint8_t>(MessageType::peer_access_ack)));
  CHECK_FALSE(is_node_to_dc_type(static_cast<uint8_t>(MessageType::peer_access)));
  // A range that ends before it starts is malformed.
  auto bytes = encode(PeerAccessNotice{9, 1, {true, {{ntm::tunnel::kProtocolTcp, 5, 6}}, {}}});
  std::swap(bytes[4 + 8 + 1 + 1 + 1 + 1], bytes[4 + 8 + 1 + 1 + 1 + 3]);  // first 6, last 5
  CHECK(decode_peer_access(bytes).error() == DecodeError::bad_field);
}

TEST_CASE("every DC body has its envelope type", "[control]") {
  CHECK(message_type(Register{}) == MessageType::register_node);
  CHECK(message_type(Direction{}) == MessageType::direction);
  CHECK(message_type(DcError{}) == MessageType::error);
}
