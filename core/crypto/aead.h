// Authenticated encryption for the data plane: AES-256-GCM and ChaCha20-Poly1305 (RFC 8439),
// 32-byte keys, 96-bit nonces, 16-byte tags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "crypto/ossl.h"

namespace ntm::crypto {

enum class AeadAlgorithm : uint8_t { aes_256_gcm = 1, chacha20_poly1305 = 2 };

inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadNonceSize = 12;
inline constexpr size_t kAeadTagSize = 16;

// "aes-256-gcm" or "chacha20-poly1305".
const char* to_string(AeadAlgorithm alg);
// The inverse of to_string (exact, lower case); nullopt for any other text.
std::optional<AeadAlgorithm> aead_from_string(std::string_view name);

// One key, one direction (a sealer, an opener, or both as in tests). Reusable for any number of
// messages; not thread-safe (callers lock). Movable, not copyable; a moved-from Aead may only be
// destroyed or assigned to.
//
// Performance (the per-packet hot path, roughly 1 us for a 1400-byte packet): each EVP_CIPHER is
// fetched once per process, the two EVP_CIPHER_CTX (seal, open) are created and keyed once in the
// constructor, and a call only sets the nonce (EVP_{En,De}cryptInit_ex2 with no cipher and no
// key), feeds AAD and data, and sets or reads the tag. There is no heap allocation and no
// algorithm lookup per call. (The tag goes through EVP_CIPHER_CTX_ctrl, which OpenSSL 3 turns into
// one stack OSSL_PARAM; it has no other API for AEAD tags.) Measure with the benchmarks in bench/,
// not in unit tests.
class Aead {
 public:
  // Throws CryptoError if OpenSSL cannot provide the algorithm or accept the key.
  Aead(AeadAlgorithm alg, std::span<const uint8_t, kAeadKeySize> key);

  Aead(Aead&&) noexcept = default;
  Aead& operator=(Aead&&) noexcept = default;
  Aead(const Aead&) = delete;
  Aead& operator=(const Aead&) = delete;
  ~Aead() = default;

  AeadAlgorithm algorithm() const { return alg_; }

  // Encrypts `plaintext` into `out`: the ciphertext (same length) followed by the 16-byte tag.
  // `out` may alias `plaintext` exactly (in place; it must then have room for the tag); any other
  // overlap is not allowed. Throws std::length_error if out.size() < plaintext.size() + 16 or a
  // length exceeds INT_MAX, CryptoError on an OpenSSL failure. Returns the bytes written.
  size_t seal(std::span<const uint8_t, kAeadNonceSize> nonce, std::span<const uint8_t> aad,
              std::span<const uint8_t> plaintext, std::span<uint8_t> out);

  // Verifies and decrypts `ciphertext_and_tag` into `out`, which may alias the input exactly.
  // Returns the plaintext length, or nullopt if the input is shorter than a tag or fails
  // authentication (the contents of `out` are then unspecified and must not be used).
  // Throws std::length_error if out.size() < ciphertext_and_tag.size() - 16.
  std::optional<size_t> open(std::span<const uint8_t, kAeadNonceSize> nonce,
                             std::span<const uint8_t> aad,
                             std::span<const uint8_t> ciphertext_and_tag, std::span<uint8_t> out);

 private:
  AeadAlgorithm alg_;
  ossl::CipherCtxPtr seal_ctx_;
  ossl::CipherCtxPtr open_ctx_;
};

}  // namespace ntm::crypto
