#include "crypto/secure.h"

#include <openssl/crypto.h>

namespace ntm::crypto {

void secure_zero(std::span<uint8_t> buf) noexcept {
  if (!buf.empty()) OPENSSL_cleanse(buf.data(), buf.size());
}

bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ntm::crypto
