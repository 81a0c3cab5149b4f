#include <catch2/catch.hpp>

#include "crypto/ed25519.h"
#include "crypto/encoding.h"
#include "vectors.h"

using namespace ntm::crypto;
using ntm::crypto::test::ascii;
using ntm::crypto::test::unhex;
using ntm::crypto::test::unhex_array;

namespace {

struct Vector {
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte, 0x72).
const Vector kRfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
     "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
};

}  // namespace

TEST_CASE("Ed25519 public key and signature match RFC 8032 section 7.1 tests 1 and 2",
          "[crypto]") {
  for (const auto& v : kRfc8032) {
    const auto secret = unhex_array<32>(v.secret);
    const auto msg = unhex(v.message);
    CHECK(to_hex(ed25519_public_from_private(secret)) == v.public_key);
    CHECK(to_hex(ed25519_sign(secret, msg)) == v.signature);
    CHECK(ed25519_verify(unhex_array<32>(v.public_key), msg, unhex(v.signature)));
  }
}

TEST_CASE("Ed25519 verify rejects a changed message or signature", "[crypto]") {
  for (const auto& v : kRfc8032) {
    const auto pub = unhex_array<32>(v.public_key);
    auto msg = unhex(v.message);
    const auto sig = unhex(v.signature);

    auto longer = msg;
    longer.push_back(0x00);
    CHECK_FALSE(ed25519_verify(pub, longer, sig));
    if (!msg.empty()) {
      msg[0] ^= 0x01;
      CHECK_FALSE(ed25519_verify(pub, msg, sig));
      msg[0] ^= 0x01;
    }
    for (size_t at : {size_t{0}, size_t{31}, size_t{32}, size_t{63}}) {
      auto bad = sig;
      bad[at] ^= 0x01;
      CHECK_FALSE(ed25519_verify(pub, msg, bad));
    }
  }
}

TEST_CASE("Ed25519 verify returns false for a wrong signature length or wrong key", "[crypto]") {
  const auto& v = kRfc8032[1];
  const auto pub = unhex_array<32>(v.public_key);
  const auto msg = unhex(v.message);
  auto sig = unhex(v.signature);
  CHECK_FALSE(ed25519_verify(pub, msg, std::span<const uint8_t>(sig.data(), 63)));
  sig.push_back(0);
  CHECK_FALSE(ed25519_verify(pub, msg, sig));
  CHECK_FALSE(ed25519_verify(pub, msg, std::span<const uint8_t>()));
  sig.pop_back();
  CHECK_FALSE(ed25519_verify(unhex_array<32>(kRfc8032[0].public_key), msg, sig));
}

TEST_CASE("Ed25519 generated keys sign and verify", "[crypto]") {
  const auto pair = ed25519_generate();
  CHECK(ed25519_public_from_private(pair.private_key) == pair.public_key);
  const auto msg = ascii("register node 42");
  const auto sig = ed25519_sign(pair.private_key, msg);
  CHECK(ed25519_verify(pair.public_key, msg, sig));
  CHECK_FALSE(ed25519_verify(ed25519_generate().public_key, msg, sig));
}
