// Helpers shared by the control codec tests.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <span>
#include <vector>

#include "util/endpoint.h"
#include "wire/decoded.h"

namespace ntm::control::test {

inline Endpoint ep4(uint8_t last, uint16_t port) { return Endpoint::v4({192, 0, 2, last}, port); }
inline Endpoint ep6(uint8_t last, uint16_t port) {
  return Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last}, port);
}

// Every strict prefix of `bytes` must decode as truncated; `bytes` plus one byte as oversized.
template <class Decode>
void check_truncations_and_trailing(const std::vector<uint8_t>& bytes, Decode decode) {
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto d = decode(std::span<const uint8_t>(bytes.data(), n));
    INFO("prefix length " << n);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error() == wire::DecodeError::truncated);
  }
  auto longer = bytes;
  longer.push_back(0);
  auto d = decode(std::span<const uint8_t>(longer));
  REQUIRE_FALSE(d.ok());
  CHECK(d.error() == wire::DecodeError::oversized);
}

}  // namespace ntm::control::test
