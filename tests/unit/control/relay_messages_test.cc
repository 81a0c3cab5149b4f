#include <catch2/catch.hpp>

#include <algorithm>

#include "control/relay_messages.h"
#include "test_util.h"

using namespace ntm;
using namespace ntm::control;
using ntm::wire::DecodeError;

namespace {

Key32 key_of(uint8_t b) {
  Key32 k;
  k.fill(b);
  return k;
}

}  // namespace

TEST_CASE("relayed header has the documented layout and round-trips", "[control]") {
  const Bytes inner{3, 0, 0, 0, 9, 9, 9, 9};
  const auto d = encode_relayed(0x01020304, inner);
  const Bytes expected_header{0x30, 0, 0, 0, 1, 2, 3, 4};
  CHECK(Bytes(d.begin(), d.begin() + 8) == expected_header);
  auto h = decode_relayed_header(d);
  REQUIRE(h.ok());
  CHECK(h->relay_id == 0x01020304);
  CHECK(Bytes(relayed_payload(d).begin(), relayed_payload(d).end()) == inner);

  std::array<uint8_t, 8> out{};
  encode_relayed_header({.flags = 5, .relay_id = 7}, out);
  CHECK(out[1] == 5);
  CHECK(wire::load_be32(&out[4]) == 7);
}

TEST_CASE("relayed header rejects truncation, oversize, unknown type and reserved bits",
          "[control]") {
  const auto d = encode_relayed(1, Bytes{1});
  for (size_t n = 0; n < d.size(); ++n)
    CHECK(decode_relayed_header(std::span<const uint8_t>(d.data(), n)).error() ==
          DecodeError::truncated);
  auto t = d;
  t[0] = 0x31;
  CHECK(decode_relayed_header(t).error() == DecodeError::unknown_type);
  t = d;
  t[2] = 1;
  CHECK(decode_relayed_header(t).error() == DecodeError::bad_field);
  Bytes huge(kMaxDatagramSize + 1, 0);
  huge[0] = 0x30;
  CHECK(decode_relayed_header(huge).error() == DecodeError::oversized);
}

TEST_CASE("RelayBind, RelayBindAck and RelayChallenge round-trip with fixed sizes", "[control]") {
  RelayBind b{.relay_id = 9, .node_id = 10, .expires_unix = 11, .sequence = 12, .cookie = {},
              .proof = {}};
  b.cookie.fill(0x33);
  b.proof.fill(0x44);
  const auto bytes = encode(b);
  CHECK(bytes.size() == 64);
  CHECK(bytes[0] == 0x31);
  auto d = decode_relay_bind(bytes);
  REQUIRE(d.ok());
  CHECK(d.value() == b);
  test::check_truncations_and_trailing(bytes, [](auto s) { return decode_relay_bind(s); });

  RelayCookie cookie{};
  cookie.fill(0x55);
  const auto ack = encode(RelayBindAck{9, cookie});
  CHECK(ack.size() == 24);
  CHECK(decode_relay_bind_ack(ack).value() == RelayBindAck{9, cookie});
  test::check_truncations_and_trailing(ack, [](auto s) { return decode_relay_bind_ack(s); });
  CHECK(decode_relay_bind(ack).error() == DecodeError::unknown_type);
  CHECK(decode_relay_bind_ack(bytes).error() == DecodeError::unknown_type);
  const auto challenge = encode(RelayChallenge{7, cookie});
  CHECK(challenge.size() == 24);
  CHECK(challenge[0] == 0x33);
  CHECK(decode_relay_challenge(challenge).value() == RelayChallenge{7, cookie});
  CHECK(decode_relay_challenge(ack).error() == DecodeError::unknown_type);
  test::check_truncations_and_trailing(challenge, [](auto s) { return decode_relay_challenge(s); });
  auto reserved = bytes;
  reserved[3] = 1;
  CHECK(decode_relay_bind(reserved).error() == DecodeError::bad_field);
}

TEST_CASE("relay token verifies only for its fields, key and lifetime", "[control]") {
  const auto key = key_of(3);
  const auto token = compute_relay_token(key, 1, 2, 100);
  CHECK(verify_relay_token(key, 1, 2, 100, token, 99));
  CHECK_FALSE(verify_relay_token(key, 1, 2, 100, token, 100));
  CHECK_FALSE(verify_relay_token(key, 9, 2, 100, token, 50));
  CHECK_FALSE(verify_relay_token(key, 1, 9, 100, token, 50));
  CHECK_FALSE(verify_relay_token(key, 1, 2, 101, token, 50));
  CHECK_FALSE(verify_relay_token(key_of(4), 1, 2, 100, token, 50));
  CHECK_FALSE(verify_relay_token(key, 1, 2, 100, std::span<const uint8_t>(token).first(31), 50));
}

TEST_CASE("a relay bind proves the token over every field; the token never travels", "[control]") {
  const auto key = key_of(3);
  const auto token = compute_relay_token(key, 1, 2, 100);
  RelayCookie cookie{};
  cookie.fill(7);
  const RelayBind bind = make_relay_bind(1, 2, 100, token, 5, cookie);
  CHECK(verify_relay_bind(key, bind, 10));
  CHECK_FALSE(verify_relay_bind(key, bind, 100));  // expired
  CHECK_FALSE(verify_relay_bind(key_of(4), bind, 10));
  const auto bytes = encode(bind);
  CHECK(std::search(bytes.begin(), bytes.end(), token.begin(), token.begin() + 8) == bytes.end());
  for (auto change : {+[](RelayBind& b) { b.sequence++; }, +[](RelayBind& b) { b.cookie[0] ^= 1; },
                      +[](RelayBind& b) { b.node_id++; }, +[](RelayBind& b) { b.relay_id++; },
                      +[](RelayBind& b) { b.expires_unix++; }, +[](RelayBind& b) { b.proof[3] ^= 1; }}) {
    RelayBind m = bind;
    change(m);
    CHECK_FALSE(verify_relay_bind(key, m, 10));
  }
}
