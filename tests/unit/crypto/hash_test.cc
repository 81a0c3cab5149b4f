#include <catch2/catch.hpp>

#include "crypto/encoding.h"
#include "crypto/hash.h"
#include "vectors.h"

using namespace ntm::crypto;
using ntm::crypto::test::ascii;

TEST_CASE("SHA-256 of abc and of the empty string match FIPS 180 examples", "[crypto]") {
  CHECK(to_hex(sha256(ascii("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(to_hex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("incremental SHA-256 equals the one-shot digest and resets after finish", "[crypto]") {
  const auto msg = ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  Sha256 h;
  h.update(std::span<const uint8_t>(msg).first(5));
  h.update({});
  h.update(std::span<const uint8_t>(msg).subspan(5));
  const auto digest = h.finish();
  CHECK(digest == sha256(msg));
  CHECK(to_hex(digest) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

  h.update(ascii("abc"));
  CHECK(h.finish() == sha256(ascii("abc")));
}

TEST_CASE("HMAC-SHA256 matches RFC 4231 test case 2", "[crypto]") {
  CHECK(to_hex(hmac_sha256(ascii("Jefe"), ascii("what do ya want for nothing?"))) ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("HMAC-SHA256 accepts an empty key and empty data", "[crypto]") {
  // An empty key is the same as a block of zeros (RFC 2104 pads keys with zeros).
  const std::array<uint8_t, 32> zeros{};
  CHECK(hmac_sha256({}, ascii("data")) == hmac_sha256(zeros, ascii("data")));
  CHECK(to_hex(hmac_sha256({}, {})) ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}
