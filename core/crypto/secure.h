// Wiping secrets and comparing them without timing leaks.
#pragma once

#include <cstdint>
#include <span>

namespace ntm::crypto {

// Overwrites `buf` with zeros in a way the compiler may not optimise away.
void secure_zero(std::span<uint8_t> buf) noexcept;

// True when `a` and `b` hold the same bytes. The time taken depends only on the lengths
// (unequal lengths return false at once: lengths are not treated as secret).
bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept;

}  // namespace ntm::crypto
