// Node <-> RS messages (docs/protocol.md sections 2.3 and 5). Every relay datagram starts with
// the same 8-byte header:
//
//   type u8 | flags u8 | reserved u16 = 0 | relay_id u32
//
//   0x30 Relayed        header | tunnel datagram (forwarded unchanged to the other bound end)
//   0x31 RelayBind      header | node_id u64 | expires_unix u64 | relay_token[32]   (56 bytes)
//   0x32 RelayBindAck   header                                                        (8 bytes)
//
// relay_token = HMAC-SHA256(DC-RS key, relay_id u32 | node_id u64 | expires_unix u64).
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

struct RelayBind {
  uint32_t relay_id = 0;
  uint64_t node_id = 0;
  uint64_t expires_unix = 0;
  RelayToken token{};
  friend bool operator==(const RelayBind&, const RelayBind&) = default;
};

struct RelayBindAck {
  uint32_t relay_id = 0;
  friend bool operator==(const RelayBindAck&, const RelayBindAck&) = default;
};

Bytes encode(const RelayBind& m);
Bytes encode(const RelayBindAck& m);
// Strict, whole datagrams: empty -> truncated; wrong type -> unknown_type; short -> truncated;
// long -> oversized; reserved != 0 -> bad_field.
Decoded<RelayBind> decode_relay_bind(std::span<const uint8_t> datagram) noexcept;
Decoded<RelayBindAck> decode_relay_bind_ack(std::span<const uint8_t> datagram) noexcept;

// The token the DC hands out with a relay assignment. Throws CryptoError.
RelayToken compute_relay_token(std::span<const uint8_t, kKeySize> dc_rs_key, uint32_t relay_id,
                               uint64_t node_id, uint64_t expires_unix);
// True when `token` matches (constant-time compare) and now_unix < expires_unix.
bool verify_relay_token(std::span<const uint8_t, kKeySize> dc_rs_key, uint32_t relay_id,
                        uint64_t node_id, uint64_t expires_unix, std::span<const uint8_t> token,
                        uint64_t now_unix);
// Same, for a decoded RelayBind.
bool verify_relay_token(std::span<const uint8_t, kKeySize> dc_rs_key, const RelayBind& bind,
                        uint64_t now_unix);

}  // namespace ntm::control
