#include <catch2/catch.hpp>

#include <stdexcept>
#include <utility>

#include "crypto/aead.h"
#include "crypto/encoding.h"
#include "vectors.h"

using namespace ntm::crypto;
using ntm::crypto::test::ascii;
using ntm::crypto::test::unhex;
using ntm::crypto::test::unhex_array;

namespace {

struct Vector {
  AeadAlgorithm alg;
  std::array<uint8_t, kAeadKeySize> key;
  std::array<uint8_t, kAeadNonceSize> nonce;
  std::vector<uint8_t> aad;
  std::vector<uint8_t> plaintext;
  std::vector<uint8_t> sealed;  // ciphertext || tag
};

// The GCM specification (McGrew & Viega), appendix B, test case 16: AES-256, 96-bit IV,
// 60-byte plaintext, 20-byte AAD.
Vector gcm_test_case_16() {
  return {AeadAlgorithm::aes_256_gcm,
          unhex_array<32>("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"),
          unhex_array<12>("cafebabefacedbaddecaf888"),
          unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
          unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"),
          unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                "76fc6ece0f4e1768cddf8853bb2d551b")};
}

// RFC 8439 section 2.8.2.
Vector rfc8439_2_8_2() {
  return {AeadAlgorithm::chacha20_poly1305,
          unhex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
          unhex_array<12>("070000004041424344454647"),
          unhex("50515253c0c1c2c3c4c5c6c7"),
          ascii("Ladies and Gentlemen of the class of '99: If I could offer you only one tip "
                "for the future, sunscreen would be it."),
          unhex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
                "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
                "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
                "3ff4def08e4b7a9de576d26586cec64b6116"
                "1ae10b594f09e26a7e902ecbd0600691")};
}

void check_vector(const Vector& v) {
  Aead aead(v.alg, v.key);
  CHECK(aead.algorithm() == v.alg);

  std::vector<uint8_t> sealed(v.plaintext.size() + kAeadTagSize);
  REQUIRE(aead.seal(v.nonce, v.aad, v.plaintext, sealed) == sealed.size());
  CHECK(to_hex(sealed) == to_hex(v.sealed));

  std::vector<uint8_t> opened(v.plaintext.size());
  auto n = aead.open(v.nonce, v.aad, v.sealed, opened);
  REQUIRE(n);
  CHECK(*n == v.plaintext.size());
  CHECK(opened == v.plaintext);
}

// Flipping any one bit of the ciphertext, the tag or the AAD makes open fail.
void check_tamper_rejected(const Vector& v) {
  Aead aead(v.alg, v.key);
  std::vector<uint8_t> out(v.sealed.size());
  const size_t tag_at = v.sealed.size() - kAeadTagSize;

  for (size_t at : {size_t{0}, tag_at - 1, tag_at, v.sealed.size() - 1}) {
    auto bad = v.sealed;
    bad[at] ^= 0x01;
    CHECK_FALSE(aead.open(v.nonce, v.aad, bad, out));
  }
  auto bad_aad = v.aad;
  bad_aad[0] ^= 0x80;
  CHECK_FALSE(aead.open(v.nonce, bad_aad, v.sealed, out));
  CHECK_FALSE(aead.open(v.nonce, {}, v.sealed, out));
  auto bad_nonce = v.nonce;
  bad_nonce[11] ^= 0x01;
  CHECK_FALSE(aead.open(bad_nonce, v.aad, v.sealed, out));

  // A failed open leaves the object usable.
  auto n = aead.open(v.nonce, v.aad, v.sealed, out);
  REQUIRE(n);
  CHECK(std::vector<uint8_t>(out.begin(), out.begin() + static_cast<long>(*n)) == v.plaintext);
}

}  // namespace

TEST_CASE("AES-256-GCM seal and open match GCM spec test case 16", "[crypto]") {
  check_vector(gcm_test_case_16());
}

TEST_CASE("AES-256-GCM open rejects a flipped bit in ciphertext, tag, AAD or nonce", "[crypto]") {
  check_tamper_rejected(gcm_test_case_16());
}

TEST_CASE("ChaCha20-Poly1305 seal and open match RFC 8439 section 2.8.2", "[crypto]") {
  check_vector(rfc8439_2_8_2());
}

TEST_CASE("ChaCha20-Poly1305 open rejects a flipped bit in ciphertext, tag, AAD or nonce",
          "[crypto]") {
  check_tamper_rejected(rfc8439_2_8_2());
}

TEST_CASE("AEAD seals and opens in place when the output aliases the input", "[crypto]") {
  for (const Vector& v : {gcm_test_case_16(), rfc8439_2_8_2()}) {
    Aead aead(v.alg, v.key);
    std::vector<uint8_t> buf = v.plaintext;
    buf.resize(v.plaintext.size() + kAeadTagSize);
    const std::span<const uint8_t> pt(buf.data(), v.plaintext.size());
    REQUIRE(aead.seal(v.nonce, v.aad, pt, buf) == buf.size());
    CHECK(buf == v.sealed);

    auto n = aead.open(v.nonce, v.aad, buf, buf);
    REQUIRE(n);
    REQUIRE(*n == v.plaintext.size());
    CHECK(std::equal(v.plaintext.begin(), v.plaintext.end(), buf.begin()));
  }
}

TEST_CASE("AEAD open returns nullopt for input shorter than a tag", "[crypto]") {
  for (auto alg : {AeadAlgorithm::aes_256_gcm, AeadAlgorithm::chacha20_poly1305}) {
    Aead aead(alg, std::array<uint8_t, 32>{});
    const std::array<uint8_t, 12> nonce{};
    std::array<uint8_t, 32> out{};
    CHECK_FALSE(aead.open(nonce, {}, std::span<const uint8_t>(), out));
    CHECK_FALSE(aead.open(nonce, {}, std::array<uint8_t, 15>{}, out));
  }
}

TEST_CASE("AEAD round-trips an empty plaintext and many packets with one object", "[crypto]") {
  for (auto alg : {AeadAlgorithm::aes_256_gcm, AeadAlgorithm::chacha20_poly1305}) {
    std::array<uint8_t, 32> key{};
    key[0] = 7;
    Aead sealer(alg, key);
    Aead opener(alg, key);
    std::array<uint8_t, 12> nonce{};

    std::array<uint8_t, kAeadTagSize> tag_only{};
    REQUIRE(sealer.seal(nonce, {}, {}, tag_only) == kAeadTagSize);
    auto empty = opener.open(nonce, {}, tag_only, std::span<uint8_t>());
    REQUIRE(empty);
    CHECK(*empty == 0);

    std::vector<uint8_t> packet(1400), wire(1400 + kAeadTagSize), back(1400);
    const std::array<uint8_t, 16> header{1, 2, 3, 4};
    for (uint8_t counter = 0; counter < 50; ++counter) {
      nonce[11] = counter;
      packet.assign(packet.size(), counter);
      REQUIRE(sealer.seal(nonce, header, packet, wire) == wire.size());
      auto n = opener.open(nonce, header, wire, back);
      REQUIRE(n);
      CHECK(back == packet);
    }
  }
}

TEST_CASE("AEAD seal throws length_error when the output has no room for the tag", "[crypto]") {
  Aead aead(AeadAlgorithm::aes_256_gcm, std::array<uint8_t, 32>{});
  const std::array<uint8_t, 12> nonce{};
  std::array<uint8_t, 10> plaintext{};
  std::array<uint8_t, 25> small{};
  CHECK_THROWS_AS(aead.seal(nonce, {}, plaintext, small), std::length_error);
  std::array<uint8_t, 26> enough{};
  CHECK(aead.seal(nonce, {}, plaintext, enough) == 26);
  std::array<uint8_t, 9> too_small_for_plaintext{};
  CHECK_THROWS_AS(aead.open(nonce, {}, enough, too_small_for_plaintext), std::length_error);
}

TEST_CASE("AEAD objects with different keys or algorithms do not open each other's output",
          "[crypto]") {
  std::array<uint8_t, 32> key_a{}, key_b{};
  key_b[31] = 1;
  const std::array<uint8_t, 12> nonce{};
  const auto msg = ascii("hello");
  std::vector<uint8_t> wire(msg.size() + kAeadTagSize), out(msg.size());

  Aead gcm_a(AeadAlgorithm::aes_256_gcm, key_a);
  gcm_a.seal(nonce, {}, msg, wire);
  CHECK_FALSE(Aead(AeadAlgorithm::aes_256_gcm, key_b).open(nonce, {}, wire, out));
  CHECK_FALSE(Aead(AeadAlgorithm::chacha20_poly1305, key_a).open(nonce, {}, wire, out));
}

TEST_CASE("AEAD object keeps working after a move", "[crypto]") {
  const Vector v = rfc8439_2_8_2();
  Aead first(v.alg, v.key);
  Aead moved = std::move(first);
  std::vector<uint8_t> sealed(v.sealed.size());
  moved.seal(v.nonce, v.aad, v.plaintext, sealed);
  CHECK(sealed == v.sealed);
  Aead assigned(AeadAlgorithm::aes_256_gcm, std::array<uint8_t, 32>{});
  assigned = std::move(moved);
  CHECK(assigned.algorithm() == AeadAlgorithm::chacha20_poly1305);
  std::vector<uint8_t> out(v.plaintext.size());
  CHECK(assigned.open(v.nonce, v.aad, v.sealed, out));
}

TEST_CASE("AEAD algorithm names round-trip and unknown names are rejected", "[crypto]") {
  CHECK(std::string(to_string(AeadAlgorithm::aes_256_gcm)) == "aes-256-gcm");
  CHECK(std::string(to_string(AeadAlgorithm::chacha20_poly1305)) == "chacha20-poly1305");
  CHECK(aead_from_string("aes-256-gcm") == AeadAlgorithm::aes_256_gcm);
  CHECK(aead_from_string("chacha20-poly1305") == AeadAlgorithm::chacha20_poly1305);
  CHECK_FALSE(aead_from_string("AES-256-GCM"));
  CHECK_FALSE(aead_from_string("aes-128-gcm"));
  CHECK_FALSE(aead_from_string(""));
}
