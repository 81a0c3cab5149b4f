#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "wire/capsule.h"

using namespace ntm::wire;

namespace {

// A whole datagram: header for h, then `payload` bytes of 0xcc, then a tag of 0xee.
std::vector<uint8_t> make_capsule(const CapsuleHeader& h, size_t payload) {
  std::vector<uint8_t> d(capsule_size(payload), 0xcc);
  encode_capsule_header(h, std::span<uint8_t, kCapsuleHeaderSize>(d.data(), kCapsuleHeaderSize));
  std::fill(d.end() - kTagSize, d.end(), uint8_t{0xee});
  return d;
}

}  // namespace

TEST_CASE("capsule header has the documented byte layout", "[wire]") {
  const CapsuleHeader h{.flags = 0x5a, .receiver_path_id = 0x11223344, .counter = 0x0102030405060708};
  std::array<uint8_t, kCapsuleHeaderSize> out{};
  out.fill(0xff);
  encode_capsule_header(h, out);
  const std::array<uint8_t, 16> expected{0x03, 0x5a, 0x00, 0x00, 0x11, 0x22, 0x33, 0x44,
                                         0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  CHECK(out == expected);
}

TEST_CASE("capsule header round-trips through encode and decode", "[wire]") {
  const CapsuleHeader h{.flags = 1, .receiver_path_id = 0xdeadbeef, .counter = (1ull << 60) - 1};
  const auto d = make_capsule(h, 100);
  const auto decoded = decode_capsule_header(d);
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == h);
}

TEST_CASE("capsule decode exposes aad, ciphertext and tag views", "[wire]") {
  const CapsuleHeader h{.flags = 0, .receiver_path_id = 7, .counter = 9};
  const auto d = make_capsule(h, 5);
  const auto v = decode_capsule(d);
  REQUIRE(v.ok());
  CHECK(v->header == h);
  CHECK(v->aad.data() == d.data());
  CHECK(v->aad.size() == kCapsuleHeaderSize);
  CHECK(v->ciphertext.data() == d.data() + kCapsuleHeaderSize);
  CHECK(v->ciphertext.size() == 5);
  CHECK(v->tag.data() == d.data() + kCapsuleHeaderSize + 5);
  CHECK(v->tag.size() == kTagSize);
  CHECK(v->tag[0] == 0xee);
}

TEST_CASE("capsule with an empty ciphertext (header and tag only) is accepted", "[wire]") {
  const auto d = make_capsule({}, 0);
  REQUIRE(d.size() == 32);
  const auto v = decode_capsule(d);
  REQUIRE(v.ok());
  CHECK(v->ciphertext.empty());
}

TEST_CASE("capsule shorter than header plus tag is truncated", "[wire]") {
  auto d = make_capsule({}, 0);
  d.pop_back();
  CHECK(decode_capsule_header(d).error() == DecodeError::truncated);
  CHECK(decode_capsule(d).error() == DecodeError::truncated);
  CHECK(decode_capsule_header(std::span<const uint8_t>(d.data(), 1)).error() ==
        DecodeError::truncated);
  CHECK(decode_capsule_header({}).error() == DecodeError::truncated);
}

TEST_CASE("capsule larger than the maximum datagram is oversized", "[wire]") {
  const auto max = make_capsule({}, kMaxDatagramSize - kCapsuleOverhead);
  CHECK(decode_capsule_header(max).ok());
  const auto over = make_capsule({}, kMaxDatagramSize - kCapsuleOverhead + 1);
  CHECK(decode_capsule_header(over).error() == DecodeError::oversized);
}

TEST_CASE("capsule with a non-data type is an unknown type", "[wire]") {
  auto d = make_capsule({}, 10);
  for (uint8_t t : {0, 1, 2, 4, 0x10, 0xff}) {
    d[0] = t;
    CHECK(decode_capsule_header(d).error() == DecodeError::unknown_type);
  }
}

TEST_CASE("capsule with a non-zero reserved field is a bad field", "[wire]") {
  auto d = make_capsule({}, 10);
  d[2] = 0x80;
  CHECK(decode_capsule_header(d).error() == DecodeError::bad_field);
  d[2] = 0;
  d[3] = 0x01;
  CHECK(decode_capsule_header(d).error() == DecodeError::bad_field);
}

TEST_CASE("capsule nonce is four zero bytes then the big-endian counter", "[wire]") {
  const std::array<uint8_t, 12> expected{0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  CHECK(capsule_nonce(0x0102030405060708) == expected);
  CHECK(capsule_nonce(0) == std::array<uint8_t, 12>{});
}

TEST_CASE("capsule size constants match the spec", "[wire]") {
  STATIC_REQUIRE(kCapsuleHeaderSize == 16);
  STATIC_REQUIRE(kTagSize == 16);
  STATIC_REQUIRE(kMaxDatagramSize == 65535);
  STATIC_REQUIRE(kMaxInnerPacket == 65535 - 16 - 16 - 48);
  STATIC_REQUIRE(capsule_size(1400) == 1432);
}
