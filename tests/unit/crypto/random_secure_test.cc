#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <set>

#include "crypto/random.h"
#include "crypto/secure.h"
#include "vectors.h"

using namespace ntm::crypto;

TEST_CASE("random bytes fill the buffer and differ between calls", "[crypto]") {
  std::array<uint8_t, 64> a{}, b{};
  random_bytes(a);
  random_bytes(b);
  // A 64-byte collision or an all-zero result from a working DRBG is beyond belief.
  CHECK(a != b);
  CHECK(std::any_of(a.begin(), a.end(), [](uint8_t x) { return x != 0; }));
  random_bytes(std::span<uint8_t>());  // an empty request is fine

  std::set<uint64_t> seen;
  for (int i = 0; i < 16; ++i) seen.insert(random_u64());
  CHECK(seen.size() == 16);
  std::set<uint32_t> seen32;
  for (int i = 0; i < 16; ++i) seen32.insert(random_u32());
  CHECK(seen32.size() >= 15);
}

TEST_CASE("secure_zero clears a buffer", "[crypto]") {
  std::array<uint8_t, 40> key{};
  key.fill(0xa5);
  secure_zero(key);
  CHECK(key == std::array<uint8_t, 40>{});
  secure_zero(std::span<uint8_t>());
}

TEST_CASE("constant_time_equal compares contents and lengths", "[crypto]") {
  const std::array<uint8_t, 4> a{1, 2, 3, 4}, b{1, 2, 3, 4}, c{1, 2, 3, 5};
  const std::array<uint8_t, 3> shorter{1, 2, 3};
  CHECK(constant_time_equal(a, b));
  CHECK_FALSE(constant_time_equal(a, c));
  CHECK_FALSE(constant_time_equal(a, shorter));
  CHECK(constant_time_equal({}, {}));
}
