#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>

#include "wire/bytes.h"
#include "wire/decoded.h"

using namespace ntm::wire;

TEST_CASE("byte reader reads big-endian integers in order", "[wire]") {
  const std::array<uint8_t, 15> in{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
  ByteReader r(in);
  CHECK(r.u8() == 0x01);
  CHECK(r.u16() == 0x0203);
  CHECK(r.u32() == 0x04050607u);
  CHECK(r.u64() == 0x08090a0b0c0d0e0full);
  CHECK(r.remaining() == 0);
  CHECK_FALSE(r.failed());
}

TEST_CASE("byte reader fails instead of reading past the end", "[wire]") {
  const std::array<uint8_t, 3> in{0xaa, 0xbb, 0xcc};
  ByteReader r(in);
  CHECK(r.u16() == 0xaabb);
  CHECK(r.u16() == 0);  // only one byte left
  CHECK(r.failed());
  CHECK(r.u8() == 0);  // sticky, even though one byte remains
  CHECK(r.remaining() == 1);

  ByteReader r2(in);
  CHECK(r2.bytes(4).empty());
  CHECK(r2.failed());

  ByteReader r3(in);
  std::array<uint8_t, 4> out{9, 9, 9, 9};
  r3.read_into(out);
  CHECK(r3.failed());
  CHECK(out == std::array<uint8_t, 4>{0, 0, 0, 0});
}

TEST_CASE("byte reader on an empty span fails every read", "[wire]") {
  ByteReader r(std::span<const uint8_t>{});
  CHECK(r.remaining() == 0);
  CHECK(r.bytes(0).empty());
  CHECK_FALSE(r.failed());
  CHECK(r.u64() == 0);
  CHECK(r.failed());
}

TEST_CASE("byte writer writes big-endian and refuses to overflow", "[wire]") {
  std::array<uint8_t, 16> buf{};
  ByteWriter w(buf);
  w.u8(0x01);
  w.u16(0x0203);
  w.u32(0x04050607u);
  w.u64(0x08090a0b0c0d0e0full);
  CHECK_FALSE(w.failed());
  CHECK(w.written() == 15);
  CHECK(buf == std::array<uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0});

  w.u16(0xffff);  // one byte of room left
  CHECK(w.failed());
  CHECK(buf[15] == 0);  // nothing partially written
  CHECK(w.written() == 15);
}

TEST_CASE("byte writer copies byte spans and zeros", "[wire]") {
  std::array<uint8_t, 6> buf{9, 9, 9, 9, 9, 9};
  ByteWriter w(buf);
  const std::array<uint8_t, 3> src{0xde, 0xad, 0xbe};
  w.bytes(src);
  w.zeros(3);
  CHECK_FALSE(w.failed());
  CHECK(buf == std::array<uint8_t, 6>{0xde, 0xad, 0xbe, 0, 0, 0});
  w.bytes(src);
  CHECK(w.failed());
}

TEST_CASE("decoded holds either a value or an error", "[wire]") {
  Decoded<int> good(42);
  REQUIRE(good.ok());
  CHECK(good.value() == 42);
  CHECK(*good == 42);
  Decoded<int> bad(DecodeError::bad_field);
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.error() == DecodeError::bad_field);
  CHECK(std::string(to_string(DecodeError::truncated)) == "truncated");
}
