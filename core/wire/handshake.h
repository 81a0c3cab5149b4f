// Handshake messages: fixed-size, one per datagram. The codecs only carry the encrypted fields
// and the mac; sealing, opening and computing the mac belong to the caller (crypto/, control/).
//
// Handshake init, kHandshakeInitSize = 152 bytes:
//   0 type u8 = 1 | 1 flags u8 | 2 reserved u16 = 0 | 4 sender_path_id u32 | 8 ephemeral[32]
//   | 40 encrypted_static[48] | 88 encrypted_payload[32] | 120 mac1[16] | 136 mac2[16]
// Handshake response, kHandshakeResponseSize = 76 bytes:
//   0 type u8 = 2 | 1 flags u8 | 2 reserved u16 = 0 | 4 sender_path_id u32
//   | 8 receiver_path_id u32 | 12 ephemeral[32] | 44 encrypted_empty[16] | 60 mac[16]
// Cookie reply, kCookieReplySize = 52 bytes:
//   0 type u8 = 4 | 1 flags u8 | 2 reserved u16 = 0 | 4 receiver_path_id u32 | 8 nonce[12]
//   | 20 encrypted_cookie[32]
// The mac of each covers every byte before it (kHandshake*MacOffset); the init's mac2 covers
// mac1 too. Integers big-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/constants.h"
#include "wire/decoded.h"

namespace ntm::wire {

struct HandshakeInit {
  uint8_t flags = 0;
  uint32_t sender_path_id = 0;
  std::array<uint8_t, kPublicKeySize> ephemeral{};
  std::array<uint8_t, kEncryptedStaticSize> encrypted_static{};
  std::array<uint8_t, kEncryptedPayloadSize> encrypted_payload{};  // seals a HandshakePayload
  std::array<uint8_t, kHandshakeMacSize> mac{};   // mac1
  std::array<uint8_t, kHandshakeMacSize> mac2{};  // zero unless the initiator holds a cookie

  friend bool operator==(const HandshakeInit&, const HandshakeInit&) = default;
};

struct HandshakeResponse {
  uint8_t flags = 0;
  uint32_t sender_path_id = 0;
  uint32_t receiver_path_id = 0;
  std::array<uint8_t, kPublicKeySize> ephemeral{};
  std::array<uint8_t, kEncryptedEmptySize> encrypted_empty{};
  std::array<uint8_t, kHandshakeMacSize> mac{};

  friend bool operator==(const HandshakeResponse&, const HandshakeResponse&) = default;
};

struct CookieReply {
  uint8_t flags = 0;
  uint32_t receiver_path_id = 0;
  std::array<uint8_t, kCookieNonceSize> nonce{};
  std::array<uint8_t, kEncryptedCookieSize> encrypted_cookie{};

  friend bool operator==(const CookieReply&, const CookieReply&) = default;
};

// The plaintext sealed in HandshakeInit::encrypted_payload (kHandshakePayloadSize = 16 bytes):
//   timestamp_ns u64 | aead_algorithm u8 | reserved[7] = 0
struct HandshakePayload {
  uint64_t timestamp_ns = 0;
  AeadAlgorithm aead = AeadAlgorithm::aes_256_gcm;

  friend bool operator==(const HandshakePayload&, const HandshakePayload&) = default;
};

// Encoders write the whole message (type and zero reserved fields included) and return its size,
// or 0, writing nothing, if out is too small.
size_t encode(const HandshakeInit& message, std::span<uint8_t> out) noexcept;
size_t encode(const HandshakeResponse& message, std::span<uint8_t> out) noexcept;
size_t encode(const CookieReply& message, std::span<uint8_t> out) noexcept;
void encode_handshake_payload(const HandshakePayload& payload,
                              std::span<uint8_t, kHandshakePayloadSize> out) noexcept;

// Decoders require the exact size. Checks, in order: empty -> truncated; wrong type ->
// unknown_type; shorter -> truncated; longer -> oversized; reserved != 0 -> bad_field.
Decoded<HandshakeInit> decode_handshake_init(std::span<const uint8_t> datagram) noexcept;
Decoded<HandshakeResponse> decode_handshake_response(std::span<const uint8_t> datagram) noexcept;
Decoded<CookieReply> decode_cookie_reply(std::span<const uint8_t> datagram) noexcept;

// Exactly kHandshakePayloadSize bytes: shorter -> truncated, longer -> oversized; an unknown
// AEAD algorithm or non-zero reserved bytes -> bad_field.
Decoded<HandshakePayload> decode_handshake_payload(std::span<const uint8_t> plaintext) noexcept;

}  // namespace ntm::wire
