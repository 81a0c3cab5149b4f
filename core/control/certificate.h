// Node certificates (docs/protocol.md section 3): the AS binds a NodeID and FQDN to the node's
// static X25519 public key with its Ed25519 signing key. Our own compact format:
//
//   version u8 = 1 | node_id u64 | fqdn str | static_public[32] | expires_unix u64 | signature[64]
//
// The signature covers every byte before it.
#pragma once

#include <span>

#include "control/codec_util.h"
#include "crypto/ed25519.h"

namespace ntm::control {

struct NodeCertificate {
  uint64_t node_id = 0;
  std::string fqdn;
  Key32 static_public{};
  uint64_t expires_unix = 0;
  crypto::Ed25519Signature signature{};

  friend bool operator==(const NodeCertificate&, const NodeCertificate&) = default;
};

// The encoded certificate (signature included as it is).
Bytes encode_certificate(const NodeCertificate& cert);
// Strict: truncated; unknown_type for a version other than 1; oversized for trailing bytes.
// Checks nothing cryptographic (use verify()).
Decoded<NodeCertificate> decode_certificate(std::span<const uint8_t> bytes);
// The bytes the signature covers (the encoding without the signature).
Bytes certificate_signed_bytes(const NodeCertificate& cert);

// Fills cert.signature with the AS signing key. Throws CryptoError.
void sign(NodeCertificate& cert, const crypto::Ed25519PrivateKey& as_sign_private);
// True when the signature is valid under `as_sign_public` and now_unix < expires_unix.
bool verify(const NodeCertificate& cert, const crypto::Ed25519PublicKey& as_sign_public,
            uint64_t now_unix);

}  // namespace ntm::control
