// The sealed node <-> DC envelope (docs/protocol.md section 4) and DcChannel, the per-node
// session state used on both sides (the node has one, the DC one per registered node).
//
//   type u8 | flags u8 | reserved u16 | node_id u64 | counter u64 |
//   [Register only: ticket bytes (u16 length | ticket)] | ciphertext | tag[16]
//
// AES-256-GCM with the DC session key; the 20-byte header (plus the ticket field for Register)
// is the associated data; nonce = direction u8 (0 node->DC, 1 DC->node) | 0[3] | counter u64.
// Each direction has its own counter and replay window.
#pragma once

#include <optional>
#include <span>

#include "control/codec_util.h"
#include "crypto/aead.h"
#include "tunnel/replay_window.h"

namespace ntm::control {

// A datagram split into its parts (views into the datagram). Nothing here is authenticated.
struct DcEnvelopeView {
  MessageType type = MessageType::register_node;
  uint8_t flags = 0;
  uint64_t node_id = 0;
  uint64_t counter = 0;
  std::span<const uint8_t> ticket;  // Register only: the ticket (without its length prefix)
  std::span<const uint8_t> aad;     // the header, plus the ticket field for Register
  std::span<const uint8_t> sealed;  // ciphertext + tag
};

// Checks, in order: empty -> truncated; type not 0x10..0x18 -> unknown_type; shorter than
// header + tag (+ ticket field) -> truncated; longer than kMaxDatagramSize -> oversized;
// reserved != 0 -> bad_field.
Decoded<DcEnvelopeView> decode_dc_envelope(std::span<const uint8_t> datagram) noexcept;

// The 12-byte nonce for a direction byte and a counter.
std::array<uint8_t, kNonceSize> dc_nonce(uint8_t direction, uint64_t counter) noexcept;

enum class DcRole : uint8_t {
  node,  // seals node->DC messages, opens DC->node messages
  dc,    // seals DC->node messages, opens node->DC messages
};

// One session (one node_id, one session key). Not thread-safe: callers lock. Movable.
class DcChannel {
 public:
  struct Opened {
    MessageType type;
    Bytes plaintext;
    uint64_t counter;
    uint8_t flags;
  };

  // Throws CryptoError if the key cannot be set up. `first_counter` is the first send counter
  // (the DC gives each registration channel of one run its own range; registration.h).
  DcChannel(DcRole role, uint64_t node_id, std::span<const uint8_t, kKeySize> session_key,
            uint64_t first_counter = 0);
  DcChannel(DcChannel&&) noexcept = default;
  DcChannel& operator=(DcChannel&&) noexcept = default;
  ~DcChannel();  // wipes the key copy

  // Seals one message with the next send counter. `ticket` is required for Register (the node
  // copies the ticket from its LoginGrant) and must be empty for every other type. Throws
  // std::invalid_argument for a type this role does not send or a ticket misuse,
  // std::length_error when the datagram would exceed kMaxDatagramSize.
  Bytes seal(MessageType type, std::span<const uint8_t> plaintext,
             std::span<const uint8_t> ticket = {});

  // Authenticates and decrypts one datagram. nullopt (the datagram must be dropped) when it does
  // not decode, is for another node_id, has a type this role does not receive, is a replay or
  // too old for the window, or fails authentication. The counter is recorded only after the tag
  // verified.
  std::optional<Opened> open(std::span<const uint8_t> datagram);

  DcRole role() const { return role_; }
  uint64_t node_id() const { return node_id_; }
  // The counter the next seal() uses.
  uint64_t send_counter() const { return send_counter_; }
  // True when `session_key` is the key of this channel (constant-time).
  bool has_key(std::span<const uint8_t, kKeySize> session_key) const;

 private:
  DcRole role_;
  uint64_t node_id_;
  Key32 key_;
  crypto::Aead aead_;
  uint64_t send_counter_ = 0;
  tunnel::ReplayWindow replay_;
};

}  // namespace ntm::control
