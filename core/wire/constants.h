// Protocol constants: values fixed by the ntmobile wire format (docs/protocol.md). Changing any
// of them breaks interoperability. Tuning knobs (timeouts, window sizes, batch sizes) do NOT
// belong here; they live next to the code they tune.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ntm::wire {

// The first byte of every tunnel datagram. 0x10 and up are reserved for control-plane types.
enum class MessageType : uint8_t {
  handshake_init = 1,
  handshake_response = 2,
  data = 3,
  cookie_reply = 4,  // a responder under load asks the initiator to prove its address (mac2)
};

// AEAD negotiated in the handshake-init payload.
enum class AeadAlgorithm : uint8_t {
  aes_256_gcm = 1,
  chacha20_poly1305 = 2,
};

// ---- sizes shared by the formats ----
inline constexpr size_t kTagSize = 16;           // AEAD tag (AES-GCM and ChaCha20-Poly1305)
inline constexpr size_t kNonceSize = 12;         // AEAD nonce
inline constexpr size_t kPublicKeySize = 32;     // X25519 public key
inline constexpr size_t kMaxDatagramSize = 65535;  // largest tunnel datagram we accept

// ---- data capsule ----
// type u8 | flags u8 | reserved u16 | receiver_path_id u32 | counter u64 | ciphertext | tag[16]
// The 16 header bytes are the AEAD associated data; the nonce is derived from the counter.
inline constexpr size_t kCapsuleHeaderSize = 16;
inline constexpr size_t kCapsuleOverhead = kCapsuleHeaderSize + kTagSize;
// Largest inner IP packet a capsule may carry: the datagram limit minus header and tag, minus 48
// bytes of outer IPv6 (40) + UDP (8) headers.
inline constexpr size_t kMaxInnerPacket = kMaxDatagramSize - kCapsuleHeaderSize - kTagSize - 48;

// Counters at or above this are never sent nor accepted; a session must rekey before.
inline constexpr uint64_t kRejectAfterMessages = uint64_t{1} << 60;

// ---- handshake init (fixed size) ----
// type u8 | flags u8 | reserved u16 | sender_path_id u32 | ephemeral[32] | encrypted_static[48]
// | encrypted_payload[32] | mac1[16] | mac2[16]
inline constexpr size_t kEncryptedStaticSize = kPublicKeySize + kTagSize;  // 48
// Handshake-init payload plaintext: timestamp_ns u64 | aead_algorithm u8 | reserved[7] (zero).
inline constexpr size_t kHandshakePayloadSize = 16;
inline constexpr size_t kEncryptedPayloadSize = kHandshakePayloadSize + kTagSize;  // 32
inline constexpr size_t kHandshakeMacSize = 16;
inline constexpr size_t kHandshakeInitEphemeralOffset = 8;
inline constexpr size_t kHandshakeInitStaticOffset = kHandshakeInitEphemeralOffset + kPublicKeySize;
inline constexpr size_t kHandshakeInitPayloadOffset = kHandshakeInitStaticOffset + kEncryptedStaticSize;
// mac1 covers every byte before its offset; mac2 (zero without a cookie) every byte before its.
inline constexpr size_t kHandshakeInitMacOffset = kHandshakeInitPayloadOffset + kEncryptedPayloadSize;
inline constexpr size_t kHandshakeInitMac2Offset = kHandshakeInitMacOffset + kHandshakeMacSize;
inline constexpr size_t kHandshakeInitSize = kHandshakeInitMac2Offset + kHandshakeMacSize;

// ---- handshake response (fixed size) ----
// type u8 | flags u8 | reserved u16 | sender_path_id u32 | receiver_path_id u32 | ephemeral[32]
// | encrypted_empty[16] | mac[16]
inline constexpr size_t kEncryptedEmptySize = kTagSize;  // AEAD of an empty plaintext
inline constexpr size_t kHandshakeResponseEphemeralOffset = 12;
inline constexpr size_t kHandshakeResponseEmptyOffset = kHandshakeResponseEphemeralOffset + kPublicKeySize;
// The mac covers every byte before this offset.
inline constexpr size_t kHandshakeResponseMacOffset = kHandshakeResponseEmptyOffset + kEncryptedEmptySize;
inline constexpr size_t kHandshakeResponseSize = kHandshakeResponseMacOffset + kHandshakeMacSize;

// ---- cookie reply (fixed size) ----
// type u8 = 4 | flags u8 | reserved u16 | receiver_path_id u32 | nonce[12] | encrypted_cookie[32]
// receiver_path_id is the sender_path_id of the init it answers; the cookie is sealed with
// AES-256-GCM under a key derived from the responder's mac1 key, with the init's mac1 as
// associated data (docs/protocol.md 2.4).
inline constexpr size_t kCookieSize = 16;
inline constexpr size_t kCookieNonceSize = 12;
inline constexpr size_t kEncryptedCookieSize = kCookieSize + kTagSize;  // 32
inline constexpr size_t kCookieReplyNonceOffset = 8;
inline constexpr size_t kCookieReplyCookieOffset = kCookieReplyNonceOffset + kCookieNonceSize;
inline constexpr size_t kCookieReplySize = kCookieReplyCookieOffset + kEncryptedCookieSize;

static_assert(kHandshakeInitMacOffset == 120 && kHandshakeInitMac2Offset == 136 &&
              kHandshakeInitSize == 152);
static_assert(kCookieReplySize == 52);
static_assert(kHandshakeResponseMacOffset == 60 && kHandshakeResponseSize == 76);
static_assert(kMaxInnerPacket == 65455);

// ---- inner IP packets ----
inline constexpr size_t kIpv4MinHeaderSize = 20;
inline constexpr size_t kIpv6HeaderSize = 40;

// A tunnel datagram relayed through a Relay Server: type 0x30 | flags | reserved u16 |
// relay_id u32, then the datagram (docs/protocol.md 2.3).
inline constexpr uint8_t kRelayedType = 0x30;
inline constexpr size_t kRelayHeaderSize = 8;

}  // namespace ntm::wire
