// X25519 Diffie-Hellman (RFC 7748) over raw 32-byte keys.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

namespace ntm::crypto {

using X25519Key = std::array<uint8_t, 32>;

struct X25519KeyPair {
  X25519Key private_key{};  // the raw scalar as RFC 7748 encodes it (clamped when used)
  X25519Key public_key{};
};

// A fresh key pair from OpenSSL's CSPRNG. Throws CryptoError.
X25519KeyPair x25519_generate();

// The public key (the scalar multiple of the base point u=9). Throws CryptoError.
X25519Key x25519_public_from_private(const X25519Key& private_key);

// The shared secret X25519(private_key, peer_public), or nullopt when it is all zero, which
// happens exactly when the peer sent a small-order point (RFC 7748 section 6.1 check).
// Throws CryptoError on any other OpenSSL failure.
std::optional<X25519Key> x25519_shared(const X25519Key& private_key, const X25519Key& peer_public);

}  // namespace ntm::crypto
