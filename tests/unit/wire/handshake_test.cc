#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

#include "wire/handshake.h"

using namespace ntm::wire;

namespace {

template <size_t N>
std::array<uint8_t, N> iota_array(uint8_t first) {
  std::array<uint8_t, N> a{};
  std::iota(a.begin(), a.end(), first);
  return a;
}

HandshakeInit sample_init() {
  HandshakeInit m;
  m.flags = 0x42;
  m.sender_path_id = 0xa1b2c3d4;
  m.ephemeral = iota_array<kPublicKeySize>(0x10);
  m.encrypted_static = iota_array<kEncryptedStaticSize>(0x40);
  m.encrypted_payload = iota_array<kEncryptedPayloadSize>(0x80);
  m.mac = iota_array<kHandshakeMacSize>(0xe0);
  m.mac2 = iota_array<kHandshakeMacSize>(0xc0);
  return m;
}

HandshakeResponse sample_response() {
  HandshakeResponse m;
  m.flags = 0x24;
  m.sender_path_id = 0x01020304;
  m.receiver_path_id = 0xa1b2c3d4;
  m.ephemeral = iota_array<kPublicKeySize>(0x10);
  m.encrypted_empty = iota_array<kEncryptedEmptySize>(0x60);
  m.mac = iota_array<kHandshakeMacSize>(0xe0);
  return m;
}

template <class T>
std::vector<uint8_t> encoded(const T& m) {
  std::vector<uint8_t> out(200, 0xff);
  out.resize(encode(m, out));
  return out;
}

}  // namespace

TEST_CASE("handshake sizes and mac offsets match the spec", "[wire]") {
  STATIC_REQUIRE(kHandshakeInitSize == 152);
  STATIC_REQUIRE(kHandshakeInitMacOffset == 120);
  STATIC_REQUIRE(kHandshakeInitMac2Offset == 136);
  STATIC_REQUIRE(kCookieReplySize == 52);
  STATIC_REQUIRE(kHandshakeResponseSize == 76);
  STATIC_REQUIRE(kHandshakeResponseMacOffset == 60);
  STATIC_REQUIRE(kHandshakePayloadSize == 16);
}

// ---- init ----

TEST_CASE("handshake init has the documented byte layout", "[wire]") {
  const auto m = sample_init();
  const auto d = encoded(m);
  REQUIRE(d.size() == kHandshakeInitSize);
  const std::vector<uint8_t> head{0x01, 0x42, 0x00, 0x00, 0xa1, 0xb2, 0xc3, 0xd4};
  CHECK(std::vector<uint8_t>(d.begin(), d.begin() + 8) == head);
  CHECK(std::equal(m.ephemeral.begin(), m.ephemeral.end(), d.begin() + 8));
  CHECK(std::equal(m.encrypted_static.begin(), m.encrypted_static.end(), d.begin() + 40));
  CHECK(std::equal(m.encrypted_payload.begin(), m.encrypted_payload.end(), d.begin() + 88));
  CHECK(std::equal(m.mac.begin(), m.mac.end(), d.begin() + kHandshakeInitMacOffset));
  CHECK(std::equal(m.mac2.begin(), m.mac2.end(), d.begin() + kHandshakeInitMac2Offset));
}

TEST_CASE("handshake init round-trips through encode and decode", "[wire]") {
  const auto m = sample_init();
  const auto d = encoded(m);
  const auto decoded = decode_handshake_init(d);
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == m);
}

TEST_CASE("handshake init encode into a too small buffer writes nothing", "[wire]") {
  std::vector<uint8_t> out(kHandshakeInitSize - 1, 0xff);
  CHECK(encode(sample_init(), out) == 0);
  CHECK(std::all_of(out.begin(), out.end(), [](uint8_t b) { return b == 0xff; }));
}

TEST_CASE("handshake init of the wrong size is truncated or oversized", "[wire]") {
  auto d = encoded(sample_init());
  CHECK(decode_handshake_init({}).error() == DecodeError::truncated);
  CHECK(decode_handshake_init(std::span<const uint8_t>(d).first(kHandshakeInitSize - 1)).error() ==
        DecodeError::truncated);
  CHECK(decode_handshake_init(std::span<const uint8_t>(d).first(1)).error() ==
        DecodeError::truncated);
  d.push_back(0);
  CHECK(decode_handshake_init(d).error() == DecodeError::oversized);
}

TEST_CASE("handshake init with another type is an unknown type", "[wire]") {
  auto d = encoded(sample_init());
  for (uint8_t t : {0, 2, 3, 0x10, 0xff}) {
    d[0] = t;
    CHECK(decode_handshake_init(d).error() == DecodeError::unknown_type);
  }
}

TEST_CASE("handshake init with a non-zero reserved field is a bad field", "[wire]") {
  auto d = encoded(sample_init());
  d[3] = 1;
  CHECK(decode_handshake_init(d).error() == DecodeError::bad_field);
}

// ---- response ----

TEST_CASE("handshake response has the documented byte layout", "[wire]") {
  const auto m = sample_response();
  const auto d = encoded(m);
  REQUIRE(d.size() == kHandshakeResponseSize);
  const std::vector<uint8_t> head{0x02, 0x24, 0x00, 0x00, 0x01, 0x02,
                                  0x03, 0x04, 0xa1, 0xb2, 0xc3, 0xd4};
  CHECK(std::vector<uint8_t>(d.begin(), d.begin() + 12) == head);
  CHECK(std::equal(m.ephemeral.begin(), m.ephemeral.end(), d.begin() + 12));
  CHECK(std::equal(m.encrypted_empty.begin(), m.encrypted_empty.end(), d.begin() + 44));
  CHECK(std::equal(m.mac.begin(), m.mac.end(), d.begin() + kHandshakeResponseMacOffset));
}

TEST_CASE("handshake response round-trips through encode and decode", "[wire]") {
  const auto m = sample_response();
  const auto decoded = decode_handshake_response(encoded(m));
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == m);
}

TEST_CASE("handshake response encode into a too small buffer returns 0", "[wire]") {
  std::array<uint8_t, kHandshakeResponseSize - 1> out{};
  CHECK(encode(sample_response(), out) == 0);
}

TEST_CASE("handshake response of the wrong size is truncated or oversized", "[wire]") {
  auto d = encoded(sample_response());
  CHECK(decode_handshake_response({}).error() == DecodeError::truncated);
  CHECK(decode_handshake_response(std::span<const uint8_t>(d).first(kHandshakeResponseSize - 1))
            .error() == DecodeError::truncated);
  d.push_back(0);
  CHECK(decode_handshake_response(d).error() == DecodeError::oversized);
}

TEST_CASE("handshake response with another type is an unknown type", "[wire]") {
  auto d = encoded(sample_response());
  d[0] = static_cast<uint8_t>(MessageType::handshake_init);
  CHECK(decode_handshake_response(d).error() == DecodeError::unknown_type);
  // and an init is not mistaken for a response, nor the other way round
  CHECK(decode_handshake_init(encoded(sample_response())).error() == DecodeError::unknown_type);
  CHECK(decode_handshake_response(encoded(sample_init())).error() == DecodeError::unknown_type);
}

TEST_CASE("handshake response with a non-zero reserved field is a bad field", "[wire]") {
  auto d = encoded(sample_response());
  d[2] = 0x01;
  CHECK(decode_handshake_response(d).error() == DecodeError::bad_field);
}

// ---- init payload plaintext ----

TEST_CASE("handshake payload has the documented layout and round-trips", "[wire]") {
  const HandshakePayload p{.timestamp_ns = 0x0102030405060708,
                           .aead = AeadAlgorithm::chacha20_poly1305};
  std::array<uint8_t, kHandshakePayloadSize> out{};
  out.fill(0xff);
  encode_handshake_payload(p, out);
  const std::array<uint8_t, 16> expected{1, 2, 3, 4, 5, 6, 7, 8, 2, 0, 0, 0, 0, 0, 0, 0};
  CHECK(out == expected);
  const auto decoded = decode_handshake_payload(out);
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == p);
}

TEST_CASE("handshake payload rejects wrong sizes, unknown AEADs and reserved bytes", "[wire]") {
  std::array<uint8_t, kHandshakePayloadSize + 1> buf{};
  buf[8] = static_cast<uint8_t>(AeadAlgorithm::aes_256_gcm);
  const std::span<const uint8_t> all(buf);
  CHECK(decode_handshake_payload(all.first(kHandshakePayloadSize)).ok());
  CHECK(decode_handshake_payload(all.first(kHandshakePayloadSize - 1)).error() ==
        DecodeError::truncated);
  CHECK(decode_handshake_payload(all).error() == DecodeError::oversized);
  buf[15] = 1;
  CHECK(decode_handshake_payload(all.first(kHandshakePayloadSize)).error() ==
        DecodeError::bad_field);
  buf[15] = 0;
  for (uint8_t a : {0, 3, 0xff}) {
    buf[8] = a;
    CHECK(decode_handshake_payload(all.first(kHandshakePayloadSize)).error() ==
          DecodeError::bad_field);
  }
}

// ---- cookie reply ----

namespace {
CookieReply sample_cookie_reply() {
  CookieReply m;
  m.flags = 0x01;
  m.receiver_path_id = 0xa1b2c3d4;
  m.nonce = iota_array<kCookieNonceSize>(0x30);
  m.encrypted_cookie = iota_array<kEncryptedCookieSize>(0x90);
  return m;
}
}  // namespace

TEST_CASE("cookie reply has the documented byte layout and round-trips", "[wire]") {
  const auto m = sample_cookie_reply();
  std::vector<uint8_t> d(kCookieReplySize);
  REQUIRE(encode(m, d) == kCookieReplySize);
  const std::vector<uint8_t> head{0x04, 0x01, 0x00, 0x00, 0xa1, 0xb2, 0xc3, 0xd4};
  CHECK(std::vector<uint8_t>(d.begin(), d.begin() + 8) == head);
  CHECK(std::equal(m.nonce.begin(), m.nonce.end(), d.begin() + kCookieReplyNonceOffset));
  CHECK(std::equal(m.encrypted_cookie.begin(), m.encrypted_cookie.end(),
                   d.begin() + kCookieReplyCookieOffset));
  const auto decoded = decode_cookie_reply(d);
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == m);
}

TEST_CASE("cookie reply decoding checks size, type and reserved bytes in order", "[wire]") {
  std::vector<uint8_t> d(kCookieReplySize);
  REQUIRE(encode(sample_cookie_reply(), d) == kCookieReplySize);
  CHECK(decode_cookie_reply({}).error() == DecodeError::truncated);
  CHECK(decode_cookie_reply(std::span<const uint8_t>(d).first(kCookieReplySize - 1)).error() ==
        DecodeError::truncated);
  auto longer = d;
  longer.push_back(0);
  CHECK(decode_cookie_reply(longer).error() == DecodeError::oversized);
  auto other = d;
  other[0] = 1;
  CHECK(decode_cookie_reply(other).error() == DecodeError::unknown_type);
  auto reserved = d;
  reserved[3] = 1;
  CHECK(decode_cookie_reply(reserved).error() == DecodeError::bad_field);
  std::vector<uint8_t> small(kCookieReplySize - 1, 0xff);
  CHECK(encode(sample_cookie_reply(), small) == 0);
}
