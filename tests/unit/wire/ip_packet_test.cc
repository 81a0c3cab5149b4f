#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "wire/constants.h"
#include "wire/ip_packet.h"

using namespace ntm::wire;

namespace {

// A minimal IPv4 packet 10.0.0.1 -> 192.168.1.2 with `payload` bytes after a 20-byte header.
std::vector<uint8_t> ipv4_packet(size_t payload) {
  std::vector<uint8_t> p(20 + payload, 0);
  const size_t total = p.size();
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[8] = 64;  // TTL
  p[9] = 17;  // UDP
  const std::array<uint8_t, 8> addrs{10, 0, 0, 1, 192, 168, 1, 2};
  std::copy(addrs.begin(), addrs.end(), p.begin() + 12);
  return p;
}

// A minimal IPv6 packet fd00::1 -> fd00::2 with `payload` bytes after the 40-byte header.
std::vector<uint8_t> ipv6_packet(size_t payload) {
  std::vector<uint8_t> p(40 + payload, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>(payload >> 8);
  p[5] = static_cast<uint8_t>(payload);
  p[6] = 17;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = 0x01;
  p[24] = 0xfd;
  p[39] = 0x02;
  return p;
}

}  // namespace

TEST_CASE("inner IPv4 packet yields its addresses", "[wire]") {
  const auto p = ipv4_packet(8);
  const auto a = parse_inner_addresses(p);
  REQUIRE(a.ok());
  CHECK(a->version == 4);
  CHECK(a->src == std::array<uint8_t, 16>{10, 0, 0, 1});
  CHECK(a->dst == std::array<uint8_t, 16>{192, 168, 1, 2});
  CHECK(a->length == 28);
}

TEST_CASE("inner IPv6 packet yields its addresses", "[wire]") {
  const auto p = ipv6_packet(8);
  const auto a = parse_inner_addresses(p);
  REQUIRE(a.ok());
  CHECK(a->version == 6);
  CHECK(a->src == std::array<uint8_t, 16>{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  CHECK(a->dst == std::array<uint8_t, 16>{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  CHECK(a->length == 48);
}

TEST_CASE("inner packets with trailing padding report the declared length", "[wire]") {
  auto v4 = ipv4_packet(0);
  v4.resize(30);
  REQUIRE(parse_inner_addresses(v4).ok());
  CHECK(parse_inner_addresses(v4)->length == 20);
  auto v6 = ipv6_packet(0);
  v6.resize(50);
  REQUIRE(parse_inner_addresses(v6).ok());
  CHECK(parse_inner_addresses(v6)->length == 40);
}

TEST_CASE("inner IPv4 header with options is accepted", "[wire]") {
  auto p = ipv4_packet(8);
  p[0] = 0x46;  // IHL 6: 24-byte header, total length 28 still covers it
  CHECK(parse_inner_addresses(p).ok());
}

TEST_CASE("inner packet with a version other than 4 or 6 is an unknown type", "[wire]") {
  auto p = ipv4_packet(20);
  for (uint8_t v : {0x00, 0x50, 0x75, 0xf0}) {
    p[0] = v;
    CHECK(parse_inner_addresses(p).error() == DecodeError::unknown_type);
  }
}

TEST_CASE("inner packet shorter than its fixed header is truncated", "[wire]") {
  CHECK(parse_inner_addresses({}).error() == DecodeError::truncated);
  const auto v4 = ipv4_packet(0);
  CHECK(parse_inner_addresses(std::span<const uint8_t>(v4).first(19)).error() ==
        DecodeError::truncated);
  CHECK(parse_inner_addresses(std::span<const uint8_t>(v4).first(1)).error() ==
        DecodeError::truncated);
  const auto v6 = ipv6_packet(0);
  CHECK(parse_inner_addresses(std::span<const uint8_t>(v6).first(39)).error() ==
        DecodeError::truncated);
}

TEST_CASE("inner packet shorter than its length field claims is truncated", "[wire]") {
  auto v4 = ipv4_packet(8);
  v4.pop_back();
  CHECK(parse_inner_addresses(v4).error() == DecodeError::truncated);
  auto v6 = ipv6_packet(8);
  v6.pop_back();
  CHECK(parse_inner_addresses(v6).error() == DecodeError::truncated);
}

TEST_CASE("inner IPv4 with IHL below 5 or a total length below the header is a bad field",
          "[wire]") {
  auto p = ipv4_packet(8);
  p[0] = 0x44;
  CHECK(parse_inner_addresses(p).error() == DecodeError::bad_field);
  p[0] = 0x40;
  CHECK(parse_inner_addresses(p).error() == DecodeError::bad_field);
  p = ipv4_packet(8);
  p[0] = 0x47;  // 28-byte header, total length 28 is fine...
  CHECK(parse_inner_addresses(p).ok());
  p[0] = 0x48;  // ...but a 32-byte header does not fit in 28
  CHECK(parse_inner_addresses(p).error() == DecodeError::bad_field);
  p = ipv4_packet(8);
  p[2] = 0;
  p[3] = 19;
  CHECK(parse_inner_addresses(p).error() == DecodeError::bad_field);
}

TEST_CASE("inner packet larger than the capsule limit is oversized", "[wire]") {
  const auto max = ipv6_packet(kMaxInnerPacket - 40);
  CHECK(parse_inner_addresses(max).ok());
  const auto over = ipv6_packet(kMaxInnerPacket - 40 + 1);
  CHECK(parse_inner_addresses(over).error() == DecodeError::oversized);
}
