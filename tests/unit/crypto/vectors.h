// Helpers for writing published test vectors as hex in the crypto tests.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/encoding.h"

namespace ntm::crypto::test {

// Hex to bytes; a malformed literal is a bug in the test, so it throws.
inline std::vector<uint8_t> unhex(std::string_view hex) {
  auto bytes = from_hex(hex);
  if (!bytes) throw std::invalid_argument("bad hex literal in test: " + std::string(hex));
  return *bytes;
}

template <size_t N>
std::array<uint8_t, N> unhex_array(std::string_view hex) {
  auto bytes = unhex(hex);
  if (bytes.size() != N) throw std::invalid_argument("hex literal has the wrong length");
  std::array<uint8_t, N> out{};
  std::memcpy(out.data(), bytes.data(), N);
  return out;
}

inline std::vector<uint8_t> ascii(std::string_view text) { return {text.begin(), text.end()}; }

}  // namespace ntm::crypto::test
