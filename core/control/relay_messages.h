// Node <-> RS messages (docs/protocol.md sections 2.3 and 5). Every relay datagram starts with
// the same 8-byte header:
//
//   type u8 | flags u8 | reserved u16 = 0 | relay_id u32
//
//   0x30 Relayed        header | tunnel datagram (forwarded unchanged to the other bound end)
//   0x31 RelayBind      header | node_id u64 | expires_unix u64 | sequence u64 | cookie[16] |
//                       proof[16]                                                    (64 bytes)
//   0x32 RelayBindAck   header | cookie[16]                                           (24 bytes)
//   0x33 RelayChallenge header | cookie[16]                                           (24 bytes)
//
// relay_token = HMAC-SHA256(DC-RS key, relay_id u32 | node_id u64 | expires_unix u64): the DC
// gives it to the node (sealed); it never travels in the clear. A bind proves it with
//   proof = first 16 bytes of HMAC-SHA256(relay_token, every byte of the bind before proof)
// over a cookie the RS issued to the bind's source address (RelayChallenge, or the last ack) and
// a sequence that grows with every bind: a captured bind replayed from another address, or
// after a newer one, binds nothing.
#pragma once

#include <span>

#include "control/codec_util.h"

namespace ntm::control {

using RelayToken = std::array<uint8_t, kRelayTokenSize>;

struct RelayedHeader {
  uint8_t flags = 0;
  uint32_t relay_id = 0;
  friend bool operator==(const RelayedHeader&, const RelayedHeader&) = default;
};

// Writes the 8-byte 0x30 header (reserved = 0).
void encode_relayed_header(const RelayedHeader& h, std::span<uint8_t, kRelayHeaderSize> out) noexcept;
// A whole 0x30 datagram: header | payload. Throws std::length_error over kMaxDatagramSize.
Bytes encode_relayed(uint32_t relay_id, std::span<const uint8_t> tunnel_datagram);
// Parses the header of a whole 0x30 datagram. Checks, in order: empty -> truncated;
// type != 0x30 -> unknown_type; no payload after the 8 bytes -> truncated; longer than
// kMaxDatagramSize -> oversized; reserved != 0 -> bad_field.
Decoded<RelayedHeader> decode_relayed_header(std::span<const uint8_t> datagram) noexcept;
// The tunnel datagram inside a 0x30 datagram that decode_relayed_header() accepted.
inline std::span<const uint8_t> relayed_payload(std::span<const uint8_t> datagram) noexcept {
  return datagram.subspan(kRelayHeaderSize);
}

using RelayCookie = std::array<uint8_t, kRelayCookieSize>;
using RelayProof = std::array<uint8_t, kRelayProofSize>;

struct RelayBind {
  uint32_t relay_id = 0;
  uint64_t node_id = 0;
  uint64_t expires_unix = 0;
  uint64_t sequence = 0;
  RelayCookie cookie{};
  RelayProof proof{};
  friend bool operator==(const RelayBind&, const RelayBind&) = default;
};

struct RelayBindAck {
  uint32_t relay_id = 0;
  RelayCookie cookie{};  // for the node's next bind from the same address
  friend bool operator==(const RelayBindAck&, const RelayBindAck&) = default;
};

// The RS's answer to a bind without a valid cookie for its source address, and to a relayed
// datagram it cannot forward (unknown relay_id after a restart, an unbound source).
struct RelayChallenge {
  uint32_t relay_id = 0;
  RelayCookie cookie{};
  friend bool operator==(const RelayChallenge&, const RelayChallenge&) = default;
};

Bytes encode(const RelayBind& m);
Bytes encode(const RelayBindAck& m);
Bytes encode(const RelayChallenge& m);
// Strict, whole datagrams: empty -> truncated; wrong type -> unknown_type; short -> truncated;
// long -> oversized; reserved != 0 -> bad_field.
Decoded<RelayBind> decode_relay_bind(std::span<const uint8_t> datagram) noexcept;
Decoded<RelayBindAck> decode_relay_bind_ack(std::span<const uint8_t> datagram) noexcept;
Decoded<RelayChallenge> decode_relay_challenge(std::span<const uint8_t> datagram) noexcept;

// A bind for (relay_id, node_id, expires_unix) proved with `token`. Throws CryptoError.
RelayBind make_relay_bind(uint32_t relay_id, uint64_t node_id, uint64_t expires_unix,
                          const RelayToken& token, uint64_t sequence, const RelayCookie& cookie);
// The RS's check: the token recomputed from the DC-RS key proves the bind (constant-time) and
// now_unix < expires_unix. The cookie and sequence are the RS's to check.
bool verify_relay_bind(std::span<const uint8_t, kKeySize> dc_rs_key, const RelayBind& bind,
                       uint64_t now_unix);

// The token the DC hands out with a relay assignment. Throws CryptoError.
RelayToken compute_relay_token(std::span<const uint8_t, kKeySize> dc_rs_key, uint32_t relay_id,
                               uint64_t node_id, uint64_t expires_unix);
// True when `token` matches (constant-time compare) and now_unix < expires_unix.
bool verify_relay_token(std::span<const uint8_t, kKeySize> dc_rs_key, uint32_t relay_id,
                        uint64_t node_id, uint64_t expires_unix, std::span<const uint8_t> token,
                        uint64_t now_unix);

}  // namespace ntm::control
