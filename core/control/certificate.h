// Node certificates (docs/protocol.md section 3): the AS binds a NodeID, FQDN and virtual
// addresses to the node's static X25519 public key with its Ed25519 signing key. Our own compact
// format:
//
//   version u8 = 2 | node_id u64 | fqdn str | static_public[32] | virtual_ipv4[4] |
//   virtual_ipv6[16] | expires_unix u64 | signature[64]
//
// (version 1, from an AS before 0.4, has no addresses; it still decodes, and nodes refuse it for
// a peer). The signature covers every byte before it.
#pragma once

#include <span>

#include "control/codec_util.h"
#include "crypto/ed25519.h"

namespace ntm::control {

struct NodeCertificate {
  uint8_t version = kCertificateVersion;  // 1: no addresses (encoded without them)
  uint64_t node_id = 0;
  std::string fqdn;
  Key32 static_public{};
  Ipv4Address virtual_ipv4{};
  Ipv6Address virtual_ipv6{};
  uint64_t expires_unix = 0;
  crypto::Ed25519Signature signature{};

  friend bool operator==(const NodeCertificate&, const NodeCertificate&) = default;
};

// The encoded certificate (signature included as it is).
Bytes encode_certificate(const NodeCertificate& cert);
// Strict: truncated; unknown_type for a version other than 1 and 2; oversized for trailing bytes.
// Checks nothing cryptographic (use verify()).
Decoded<NodeCertificate> decode_certificate(std::span<const uint8_t> bytes);
// The bytes the signature covers (the encoding without the signature).
Bytes certificate_signed_bytes(const NodeCertificate& cert);

// Fills cert.signature with the AS signing key. Throws CryptoError.
void sign(NodeCertificate& cert, const crypto::Ed25519PrivateKey& as_sign_private);
// True when the signature is valid under `as_sign_public` and now_unix < expires_unix.
bool verify(const NodeCertificate& cert, const crypto::Ed25519PublicKey& as_sign_public,
            uint64_t now_unix);

// The peer a Direction names, checked the way a node must before it adds it: the certificate
// decodes, is version 2, verifies under the AS key the node pinned at login and has not expired,
// and certifies exactly the virtual addresses the Direction gives (so a DC cannot hand one node's
// address or name to another). `refusal` says why not; `cert` is set only when accepted.
struct DirectedPeer {
  std::optional<NodeCertificate> cert;
  std::string refusal;
};
DirectedPeer check_directed_peer(std::span<const uint8_t> certificate, const Ipv4Address& vip4,
                                 const Ipv6Address& vip6,
                                 const crypto::Ed25519PublicKey& as_sign_public, uint64_t now_unix);

}  // namespace ntm::control
