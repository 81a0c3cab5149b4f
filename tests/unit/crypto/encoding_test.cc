#include <catch2/catch.hpp>

#include "crypto/encoding.h"
#include "vectors.h"

using namespace ntm::crypto;
using ntm::crypto::test::ascii;

TEST_CASE("hex encodes lower case and decodes either case", "[crypto]") {
  const std::vector<uint8_t> bytes{0x00, 0x01, 0xab, 0xff, 0x7f};
  CHECK(to_hex(bytes) == "0001abff7f");
  CHECK(from_hex("0001abff7f") == bytes);
  CHECK(from_hex("0001ABFF7F") == bytes);
  CHECK(to_hex({}).empty());
  CHECK(from_hex("") == std::vector<uint8_t>{});
}

TEST_CASE("hex decode rejects odd lengths and non-hex characters", "[crypto]") {
  CHECK_FALSE(from_hex("0"));
  CHECK_FALSE(from_hex("abc"));
  CHECK_FALSE(from_hex("0g"));
  CHECK_FALSE(from_hex("0x00"));
  CHECK_FALSE(from_hex("00 "));
  CHECK_FALSE(from_hex(" 00"));
}

TEST_CASE("base64 matches the RFC 4648 section 10 test vectors both ways", "[crypto]") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(ascii(plain)) == encoded);
    CHECK(base64_decode(encoded) == ascii(plain));
  }
}

TEST_CASE("base64 round-trips every byte value and all tail lengths", "[crypto]") {
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  for (size_t n : {size_t{253}, size_t{254}, size_t{255}, size_t{256}}) {
    std::vector<uint8_t> data(all.begin(), all.begin() + static_cast<long>(n));
    CHECK(base64_decode(base64_encode(data)) == data);
  }
  CHECK(base64_encode(std::vector<uint8_t>{0xfb, 0xff}) == "+/8=");
}

TEST_CASE("base64 decode rejects bad characters, lengths and padding", "[crypto]") {
  CHECK_FALSE(base64_decode("Zg"));        // missing padding
  CHECK_FALSE(base64_decode("Zg="));       // length not a multiple of 4
  CHECK_FALSE(base64_decode("Zm9vY"));     // length not a multiple of 4
  CHECK_FALSE(base64_decode("Zm9v\n"));    // whitespace
  CHECK_FALSE(base64_decode("Zm 9"));      // space
  CHECK_FALSE(base64_decode("-_8="));      // URL-safe alphabet
  CHECK_FALSE(base64_decode("Zm*v"));      // not in the alphabet
  CHECK_FALSE(base64_decode("Zg==Zm9v"));  // padding before the end
  CHECK_FALSE(base64_decode("Z==="));      // too much padding
  CHECK_FALSE(base64_decode("===="));      // only padding
  CHECK_FALSE(base64_decode("Zm=v"));      // padding inside a group
  CHECK_FALSE(base64_decode("Zh=="));      // non-zero unused bits (non-canonical "f")
  CHECK_FALSE(base64_decode("Zm9="));      // non-zero unused bits (non-canonical "fo")
}
