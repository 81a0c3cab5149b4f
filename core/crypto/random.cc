#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "crypto/error.h"

namespace ntm::crypto {

void random_bytes(std::span<uint8_t> out) {
  while (!out.empty()) {
    const size_t chunk = std::min(out.size(), static_cast<size_t>(INT_MAX));
    if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) throw CryptoError("RAND_bytes");
    out = out.subspan(chunk);
  }
}

uint32_t random_u32() {
  uint8_t buf[sizeof(uint32_t)];
  random_bytes(buf);
  uint32_t v;
  std::memcpy(&v, buf, sizeof v);
  return v;
}

uint64_t random_u64() {
  uint8_t buf[sizeof(uint64_t)];
  random_bytes(buf);
  uint64_t v;
  std::memcpy(&v, buf, sizeof v);
  return v;
}

}  // namespace ntm::crypto
