// Ed25519 signatures (RFC 8032, pure Ed25519) over raw keys.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace ntm::crypto {

using Ed25519PrivateKey = std::array<uint8_t, 32>;  // the 32-byte seed of RFC 8032
using Ed25519PublicKey = std::array<uint8_t, 32>;
using Ed25519Signature = std::array<uint8_t, 64>;

struct Ed25519KeyPair {
  Ed25519PrivateKey private_key;  // seed
  Ed25519PublicKey public_key;
};

// A fresh key pair from OpenSSL's CSPRNG. Throws CryptoError.
Ed25519KeyPair ed25519_generate();

// The public key for a seed. Throws CryptoError.
Ed25519PublicKey ed25519_public_from_private(const Ed25519PrivateKey& private_key);

// Signs `msg` (deterministic, as RFC 8032 specifies). Throws CryptoError.
Ed25519Signature ed25519_sign(const Ed25519PrivateKey& private_key, std::span<const uint8_t> msg);

// True only for a valid signature of `msg` under `public_key`. False for a wrong signature
// length, a malformed key or signature, or any mismatch. Never throws for bad input.
bool ed25519_verify(const Ed25519PublicKey& public_key, std::span<const uint8_t> msg,
                    std::span<const uint8_t> signature);

}  // namespace ntm::crypto
