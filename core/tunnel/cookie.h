// Handshake MACs and cookies (the shape of WireGuard's cookie.go).
//
// mac1: every HandshakeInit and HandshakeResponse carries a MAC under the receiver's mac1 key,
// so a node drops handshake messages not meant for it (or from someone who does not hold the key)
// before any public-key work. In static-peer mode a node's mac1 key is derived from its static
// public key; in control-plane mode it is a secret the DC gives the node and only the peers it
// directs to it (docs/protocol.md 2.4).
//
// mac2 and cookies: a responder under load answers an init whose mac2 is missing or stale with a
// CookieReply instead of doing the Diffie-Hellman work. The cookie is a MAC of the init's source
// address under a secret that changes every two minutes, sealed for the initiator (AES-256-GCM
// under a key derived from the responder's mac1 key, with the init's mac1 as associated data).
// The initiator puts mac2 = MAC(cookie, init up to mac2) into its next init, which proves it
// receives at that source address: a flood from forged addresses costs the responder a few MACs
// per datagram and nothing more, and a real address gets a bounded rate (handshake_limiter.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/x25519.h"
#include "tunnel/peer.h"
#include "util/endpoint.h"
#include "wire/constants.h"
#include "wire/handshake.h"

namespace ntm::tunnel {

using MacKey = Mac1Key;
using Mac = std::array<uint8_t, wire::kHandshakeMacSize>;
using Cookie = std::array<uint8_t, wire::kCookieSize>;

// The mac1 key of a node that has no secret one: SHA-256("ntmobile mac1" || static public key).
MacKey mac1_key_from_public(const crypto::X25519Key& static_public);
// The key messages to `peer` carry mac1 under: its secret key when it has one, else the public one.
MacKey mac1_key_of(const PeerIdentity& peer);
// The same for a tunnel-table entry, with its newest key (call with peer.mutex held).
MacKey mac1_key_of(const Peer& peer);

// First 16 bytes of HMAC-SHA256(key, covered).
Mac compute_mac(std::span<const uint8_t> key, std::span<const uint8_t> covered);
Mac compute_mac(const crypto::HmacSha256& key, std::span<const uint8_t> covered);

// mac2 of an encoded init: MAC(cookie, every byte before mac2).
Mac init_mac2(const Cookie& cookie, std::span<const uint8_t, wire::kHandshakeInitSize> init);

// The responder's side: cookies bound to a source, mac2 checks and cookie replies. Thread-safe.
class CookieChecker {
 public:
  CookieChecker();

  // Does the init's mac2 hold a current cookie for this source? (A relayed init's source is the
  // Relay Server's address plus the relay id.) An all-zero mac2 fails at once.
  bool check_mac2(std::span<const uint8_t> init_datagram, const Endpoint& source,
                  std::optional<uint32_t> relay_id, TimePoint now);

  // A CookieReply answering `init` from `source`, sealed for initiators of `own_mac1_key`.
  wire::CookieReply make_reply(const wire::HandshakeInit& init, const MacKey& own_mac1_key,
                               const Endpoint& source, std::optional<uint32_t> relay_id,
                               TimePoint now);

 private:
  Cookie cookie_for_locked(const Endpoint& source, std::optional<uint32_t> relay_id,
                           TimePoint now);

  std::mutex mutex_;
  std::optional<crypto::HmacSha256> secret_;  // the current cookie secret, keyed
  TimePoint secret_made_{};
  // Sealing replies: one AEAD context per mac1 key; nonces are a random 8-byte prefix and a
  // counter (a new prefix when the counter wraps), so they never repeat under one key.
  MacKey sealing_for_{};
  std::optional<crypto::Aead> sealer_;
  std::array<uint8_t, 8> nonce_prefix_{};
  uint32_t nonce_counter_ = 0;
};

// The initiator's side: the cookie in a CookieReply from the peer whose mac1 key is
// `peer_mac1_key`, answering our init whose mac1 was `sent_mac1`. nullopt if it does not open.
std::optional<Cookie> open_cookie_reply(const wire::CookieReply& reply, const MacKey& peer_mac1_key,
                                        const Mac& sent_mac1);

}  // namespace ntm::tunnel
