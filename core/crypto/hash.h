// SHA-256 and HMAC-SHA256.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "crypto/ossl.h"

namespace ntm::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// SHA-256 of `data`. Throws CryptoError.
Sha256Digest sha256(std::span<const uint8_t> data);

// Incremental SHA-256. finish() returns the digest and resets the object for a new message.
// Movable, not copyable; not thread-safe.
class Sha256 {
 public:
  Sha256();  // throws CryptoError
  Sha256(Sha256&&) noexcept = default;
  Sha256& operator=(Sha256&&) noexcept = default;

  void update(std::span<const uint8_t> data);
  Sha256Digest finish();

 private:
  ossl::MdCtxPtr ctx_;
};

// HMAC-SHA256 (RFC 2104) of `data` under `key` (any length, including empty). Throws CryptoError.
Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> data);

// HMAC-SHA256 under one key, keyed once: each mac() copies the keyed state instead of setting the
// key up again (for keys used per packet: handshake mac1, cookies). mac() is const and
// thread-safe. Throws CryptoError.
class HmacSha256 {
 public:
  explicit HmacSha256(std::span<const uint8_t> key);
  Sha256Digest mac(std::span<const uint8_t> data) const;

 private:
  ossl::MacCtxPtr keyed_;
};

}  // namespace ntm::crypto
