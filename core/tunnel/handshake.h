// The node-to-node handshake: a 1-RTT exchange in the shape of Noise IK (as in WireGuard) over
// X25519, SHA-256/HKDF and AES-256-GCM. The initiator knows the responder's static key in
// advance (static-peer config, or the AS-certified key the DC hands out); the responder learns
// the initiator's from the first message. Both ends derive per-direction data keys that only
// they hold, with forward secrecy from the ephemeral keys. Specified in docs/protocol.md.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/x25519.h"
#include "wire/handshake.h"

namespace ntm::tunnel {

struct HandshakeKeys {
  std::array<uint8_t, 32> send_key{};
  std::array<uint8_t, 32> recv_key{};
};

// Symmetric state shared by both roles: chaining key and transcript hash.
struct HandshakeState {
  crypto::Sha256Digest chaining_key{};
  crypto::Sha256Digest hash{};
};

// What the initiator keeps between sending HandshakeInit and receiving the response.
struct InitiatorHandshake {
  HandshakeState state;
  crypto::X25519KeyPair ephemeral;
  crypto::X25519Key peer_static{};
};

// The key a handshake message's mac1 is computed with: the receiver's mac1 key (cookie.h).
using Mac1Key = std::array<uint8_t, 32>;

// Builds HandshakeInit with mac1 under `peer_mac1_key` (mac2 zero: the engine adds it when it
// holds a cookie). `timestamp_ns` must grow between attempts: the responder rejects an init
// whose timestamp is not newer than the last it accepted from this initiator.
std::pair<InitiatorHandshake, wire::HandshakeInit> create_init(
    const crypto::X25519KeyPair& local_static, const crypto::X25519Key& peer_static,
    const Mac1Key& peer_mac1_key, uint32_t sender_path_id, uint64_t timestamp_ns,
    crypto::AeadAlgorithm aead);

// Checks the cheap mac1 of an init or response addressed to the holder of `own_mac1_key`,
// before any public-key work.
bool verify_init_mac(const wire::HandshakeInit& init, std::span<const uint8_t> datagram,
                     const Mac1Key& own_mac1_key);
bool verify_response_mac(std::span<const uint8_t> datagram, const Mac1Key& own_mac1_key);
// The same with the key set up once (the engine's per-datagram path).
bool verify_init_mac(std::span<const uint8_t> datagram, const crypto::HmacSha256& own_mac1);
bool verify_response_mac(std::span<const uint8_t> datagram, const crypto::HmacSha256& own_mac1);

// The responder's view of a valid init.
struct ReceivedInit {
  HandshakeState state;
  crypto::X25519Key initiator_static{};
  crypto::X25519Key initiator_ephemeral{};
  uint32_t initiator_path_id = 0;
  uint64_t timestamp_ns = 0;
  crypto::AeadAlgorithm aead = crypto::AeadAlgorithm::aes_256_gcm;
};

// Decrypts and authenticates an init (mac already checked). nullopt if it does not verify.
std::optional<ReceivedInit> consume_init(const crypto::X25519KeyPair& local_static,
                                         const wire::HandshakeInit& init);

// Builds the response (mac1 under the initiator's mac1 key) and the responder's data keys.
wire::HandshakeResponse create_response(const ReceivedInit& received, uint32_t sender_path_id,
                                        const Mac1Key& initiator_mac1_key,
                                        HandshakeKeys& keys_out);

// Completes the initiator's side. nullopt if the response does not verify.
std::optional<HandshakeKeys> consume_response(const InitiatorHandshake& initiator,
                                              const crypto::X25519KeyPair& local_static,
                                              const wire::HandshakeResponse& response);

}  // namespace ntm::tunnel
