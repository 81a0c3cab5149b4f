#include <catch2/catch.hpp>

#include "control/registration.h"
#include "test_util.h"

using namespace ntm;
using namespace ntm::control;

TEST_CASE("RegisterChallenge round-trips in 44 bytes and decodes strictly", "[control]") {
  RegisterChallenge m{0x0102030405060708, {}};
  m.challenge.fill(0x77);
  const auto bytes = encode(m);
  CHECK(bytes.size() == 44);
  CHECK(bytes[0] == 0x1f);
  CHECK(decode_register_challenge(bytes).value() == m);
  test::check_truncations_and_trailing(bytes, [](auto s) { return decode_register_challenge(s); });
  auto flagged = bytes;
  flagged[1] = 1;
  CHECK(decode_register_challenge(flagged).error() == DecodeError::bad_field);
  auto other = bytes;
  other[0] = 0x11;
  CHECK(decode_register_challenge(other).error() == DecodeError::unknown_type);
}

TEST_CASE("each Register makes its own registration key", "[control]") {
  Key32 session{};
  session.fill(1);
  Challenge c{};
  c.fill(2);
  const Key32 k = registration_key(session, c, 5);
  CHECK(k == registration_key(session, c, 5));
  CHECK(k != registration_key(session, c, 6));  // another Register of the same login
  Challenge c2 = c;
  c2[31] ^= 1;
  CHECK(k != registration_key(session, c2, 5));  // another challenge (or DC instance)
  Key32 other = session;
  other[0] ^= 1;
  CHECK(k != registration_key(other, c, 5));  // another login
  CHECK(k != session);
}

TEST_CASE("a node's mac1 key comes from its session key and node id, and is not the public "
          "derivation", "[control][mac1]") {
  Key32 session{};
  session.fill(1);
  const Key32 k = node_mac1_key(session, 42);
  CHECK(k == node_mac1_key(session, 42));
  CHECK(k != node_mac1_key(session, 43));  // another node
  Key32 other = session;
  other[0] ^= 1;
  CHECK(k != node_mac1_key(other, 42));  // another login
  CHECK(k != session);
  CHECK(k != registration_key(session, Challenge{}, 0));
}
