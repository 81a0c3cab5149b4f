#include <catch2/catch.hpp>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "vectors.h"

using namespace ntm::crypto;
using ntm::crypto::test::unhex_array;

TEST_CASE("X25519 matches the RFC 7748 section 5.2 scalar multiplication vectors", "[crypto]") {
  struct {
    const char* scalar;
    const char* u;
    const char* out;
  } const vectors[] = {
      {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
       "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
       "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
      {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
       "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
       "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
  };
  for (const auto& v : vectors) {
    auto shared = x25519_shared(unhex_array<32>(v.scalar), unhex_array<32>(v.u));
    REQUIRE(shared);
    CHECK(to_hex(*shared) == v.out);
  }
}

TEST_CASE("X25519 derives the RFC 7748 section 6.1 public keys and shared secret", "[crypto]") {
  const auto alice_private =
      unhex_array<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const auto bob_private =
      unhex_array<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const auto alice_public = x25519_public_from_private(alice_private);
  const auto bob_public = x25519_public_from_private(bob_private);
  CHECK(to_hex(alice_public) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  CHECK(to_hex(bob_public) == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");

  const char* expected = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  auto k_alice = x25519_shared(alice_private, bob_public);
  auto k_bob = x25519_shared(bob_private, alice_public);
  REQUIRE(k_alice);
  REQUIRE(k_bob);
  CHECK(to_hex(*k_alice) == expected);
  CHECK(to_hex(*k_bob) == expected);
}

TEST_CASE("X25519 shared secret is nullopt for an all-zero or other low-order peer key",
          "[crypto]") {
  const auto pair = x25519_generate();
  CHECK_FALSE(x25519_shared(pair.private_key, X25519Key{}));
  // u = 1 is a point of order 4 (one of the small-order inputs listed with RFC 7748).
  X25519Key one{};
  one[0] = 1;
  CHECK_FALSE(x25519_shared(pair.private_key, one));
}

TEST_CASE("X25519 generated key pairs agree on a shared secret", "[crypto]") {
  const auto a = x25519_generate();
  const auto b = x25519_generate();
  CHECK(a.private_key != b.private_key);
  CHECK(x25519_public_from_private(a.private_key) == a.public_key);
  auto ab = x25519_shared(a.private_key, b.public_key);
  auto ba = x25519_shared(b.private_key, a.public_key);
  REQUIRE(ab);
  REQUIRE(ba);
  CHECK(*ab == *ba);
}
