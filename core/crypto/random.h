// Cryptographically secure random numbers (OpenSSL's DRBG).
#pragma once

#include <cstdint>
#include <span>

namespace ntm::crypto {

// Fills `out`. Throws CryptoError if the generator fails (never returns weak bytes).
void random_bytes(std::span<uint8_t> out);
uint32_t random_u32();
uint64_t random_u64();

}  // namespace ntm::crypto
