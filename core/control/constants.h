// Control-plane protocol constants (docs/protocol.md sections 3-5): message types, default
// ports, status codes and fixed sizes shared by the node and the servers. Changing any of them
// breaks interoperability. Tuning knobs (intervals, retry counts, pool sizes) live with the code
// they tune (the servers' configs, the node's control state machines).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ntm::control {

// The first byte of every control message. 0x10-0x1f node <-> DC (UDP), 0x20-0x2f node <-> AS
// (TLS frames), 0x30-0x3f node <-> RS (UDP). The data plane uses 1-3 (wire/constants.h).
enum class MessageType : uint8_t {
  // node <-> DC, sealed with the DC session key (dc_channel.h)
  register_node = 0x10,  // node -> DC
  register_ack = 0x11,   // DC -> node
  keepalive = 0x12,      // node -> DC
  keepalive_ack = 0x13,  // DC -> node
  resolve = 0x14,        // node -> DC
  resolve_reply = 0x15,  // DC -> node
  direction = 0x16,      // DC -> both nodes
  direction_ack = 0x17,  // node -> DC
  error = 0x18,          // DC -> node
  peer_revoked = 0x19,      // DC -> node: a peer's account was disabled or deleted
  peer_revoked_ack = 0x1a,  // node -> DC
  peer_access = 0x1b,       // DC -> node: the access policy between it and a peer changed
  peer_access_ack = 0x1c,   // node -> DC
  // node <-> DC in the clear (registration.h): a fresh challenge for the next Register
  register_challenge = 0x1f,  // DC -> node
  // node <-> AS, inside TLS 1.3 (login.h)
  login_request = 0x20,
  login_response = 0x21,
  // node <-> RS (relay_messages.h)
  relayed = 0x30,
  relay_bind = 0x31,
  relay_bind_ack = 0x32,
  relay_challenge = 0x33,  // RS -> node: a cookie for the next RelayBind from this address
};

// True for 0x10..0x1c (the sealed types; 0x1f travels in the clear).
constexpr bool is_dc_type(uint8_t t) noexcept { return t >= 0x10 && t <= 0x1c; }
// Which DC message types travel node -> DC (the others travel DC -> node).
constexpr bool is_node_to_dc_type(uint8_t t) noexcept {
  return t == 0x10 || t == 0x12 || t == 0x14 || t == 0x17 || t == 0x1a || t == 0x1c;
}

// The node <-> DC protocol version a node states in its Register (docs/protocol.md 4.3).
// 1: before 0.4 (no version field; the peer's mac1 key derived from its public key).
// 2: secret per-node mac1 keys (the Direction carries the peer's); certificates version 2.
// A DC refuses a Register below kNodeProtocolVersion with Error 4 and a message naming both.
inline constexpr uint8_t kNodeProtocolVersion = 2;

// ---- default ports ----
inline constexpr uint16_t kAsPort = 7800;  // TCP, TLS 1.3
inline constexpr uint16_t kDcPort = 7801;  // UDP
inline constexpr uint16_t kRsPort = 7802;  // UDP

// ---- status codes ----
// LoginResponse.status.
enum class LoginStatus : uint8_t {
  ok = 0,
  bad_credentials = 1,   // also for an unknown account, and for a used enrollment token
  account_disabled = 2,
  bad_request = 3,
  server_error = 4,
  rate_limited = 5,      // too many failed logins from this address or for this account
  busy = 6,              // the AS is saturated: retry after LoginResponse.retry_after_ms
};
inline constexpr uint8_t kMaxLoginStatus = 6;

// ResolveReply.status.
// denied: the access policy does not let the two nodes talk (the name exists; the answer is
// the same whether the peer is online or not).
enum class ResolveStatus : uint8_t { ok = 0, unknown_name = 1, peer_offline = 2, denied = 3 };
inline constexpr uint8_t kMaxResolveStatus = 3;

// Error.code (DC -> node).
enum class DcErrorCode : uint8_t {
  session_expired = 1,   // the ticket expired or the DC lost the session: log in again
  account_disabled = 2,  // the account was disabled: stop
  not_registered = 3,    // a message other than Register from an unknown node: register again
  bad_request = 4,       // the message could not be processed
  address_pool_exhausted = 5,
};
inline constexpr uint8_t kMaxDcErrorCode = 5;

// Direction.mode.
enum class DirectionMode : uint8_t { direct = 0, relay = 1 };

// Resolve: what the node asks for.
enum class ResolveBy : uint8_t { fqdn = 0, virtual_address = 1 };

// ---- sizes ----
inline constexpr size_t kKeySize = 32;            // session keys, ticket key, DC-RS key
inline constexpr size_t kPublicKeySize = 32;      // X25519 / Ed25519 public keys
inline constexpr size_t kSignatureSize = 64;      // Ed25519
inline constexpr size_t kTagSize = 16;            // AES-256-GCM tag
inline constexpr size_t kNonceSize = 12;          // AES-256-GCM nonce
inline constexpr size_t kRelayTokenSize = 32;     // HMAC-SHA256
inline constexpr size_t kMaxStrSize = 65535;      // str / bytes: u16 length
inline constexpr size_t kMaxListSize = 255;       // list<T>: u8 count
inline constexpr size_t kMaxDatagramSize = 65535; // any control datagram we accept

// Login frames: length u32 | type u8 | body. `length` counts type + body and is 1..kMaxFrameSize.
inline constexpr size_t kFrameLengthSize = 4;
inline constexpr size_t kMaxFrameSize = 64 * 1024;

// Node certificate (certificate.h): version u8 = 2 | node_id u64 | fqdn str | static_public[32] |
// virtual_ipv4[4] | virtual_ipv6[16] | expires_unix u64 | signature[64]. Version 1 (before 0.4)
// had no addresses.
inline constexpr uint8_t kCertificateVersion = 2;
inline constexpr uint8_t kLegacyCertificateVersion = 1;

// Ticket: nonce[12] | AES-256-GCM(ticket key, nonce, plaintext, aad = kTicketAad).
inline constexpr char kTicketAad[] = "ntm-ticket-v1";

// DC envelope: type u8 | flags u8 | reserved u16 | node_id u64 | counter u64 | ... | tag[16].
// (docs/protocol.md said "24-byte header"; the fields add up to 20.)
inline constexpr size_t kDcHeaderSize = 20;
// Nonce direction byte.
inline constexpr uint8_t kDirectionNodeToDc = 0;
inline constexpr uint8_t kDirectionDcToNode = 1;

// Relay: the 8-byte header of 0x30 / 0x31 / 0x32 datagrams
// (type u8 | flags u8 | reserved u16 | relay_id u32).
inline constexpr size_t kRelayHeaderSize = 8;
// RelayBind: header | node_id u64 | expires_unix u64 | sequence u64 | cookie[16] | proof[16].
inline constexpr size_t kRelayCookieSize = 16;
inline constexpr size_t kRelayProofSize = 16;
inline constexpr size_t kRelayBindSize =
    kRelayHeaderSize + 8 + 8 + 8 + kRelayCookieSize + kRelayProofSize;            // 64
// RelayBindAck and RelayChallenge: header | cookie[16].
inline constexpr size_t kRelayBindAckSize = kRelayHeaderSize + kRelayCookieSize;  // 24
inline constexpr size_t kRelayChallengeSize = kRelayHeaderSize + kRelayCookieSize;  // 24

// RegisterChallenge (in the clear): type u8 | flags u8 | reserved u16 | node_id u64 |
// challenge[32].
inline constexpr size_t kChallengeSize = 32;
inline constexpr size_t kRegisterChallengeSize = 4 + 8 + kChallengeSize;  // 44

}  // namespace ntm::control
