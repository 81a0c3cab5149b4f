// HKDF with SHA-256 (RFC 5869).
#pragma once

#include <cstdint>
#include <span>

#include "crypto/hash.h"

namespace ntm::crypto {

// The largest output of one HKDF-SHA256 expand: 255 blocks of 32 bytes.
inline constexpr size_t kHkdfSha256MaxOutput = 255 * 32;

// HKDF-Extract: the pseudorandom key for `ikm`. An empty salt means HashLen zero bytes, as
// RFC 5869 specifies. Throws CryptoError.
Sha256Digest hkdf_extract(std::span<const uint8_t> salt, std::span<const uint8_t> ikm);

// HKDF-Expand: fills `out` (1 to 8160 bytes, else std::length_error) from `prk` and `info`.
// Throws CryptoError.
void hkdf_expand(std::span<const uint8_t> prk, std::span<const uint8_t> info, std::span<uint8_t> out);

// Extract then expand. Throws as the two steps do.
void hkdf_sha256(std::span<const uint8_t> salt, std::span<const uint8_t> ikm,
                 std::span<const uint8_t> info, std::span<uint8_t> out);

}  // namespace ntm::crypto
