// Node <-> DC message bodies (docs/protocol.md section 4): the plaintexts sealed inside the DC
// envelope (dc_channel.h). Pure codecs; encoders throw std::length_error /
// std::invalid_argument for values the format cannot carry, decoders are strict: truncated,
// bad_field (an invalid enum value or endpoint family), oversized (trailing bytes).
//
//   Register       private list<endpoint> | challenge[32] (zero: none yet; registration.h) |
//                  version u8 (kNodeProtocolVersion; absent = 1, a node before 0.4)
//   RegisterAck    virtual_ipv4[4] | virtual_ipv6[16] | observed endpoint | keepalive_s u16 |
//                  relays list<endpoint>
//   Keepalive      private list<endpoint>
//   KeepaliveAck   observed endpoint
//   Resolve        request_id u32 | by u8 (0 fqdn, 1 virtual address) |
//                  by=0: fqdn str    by=1: family u8 (4|6) | address[4|16]
//                  [ | failed_relay endpoint ] (the RS of our relayed path to this peer that
//                  stopped answering: the DC assigns another; absent = none, and what a node
//                  before 0.4 sends)
//   ResolveReply   request_id u32 | status u8 | node_id u64 | fqdn str | virtual_ipv4[4] |
//                  virtual_ipv6[16]        (zeros / empty when status != ok)
//   Direction      direction_id u32 | peer certificate bytes | peer virtual_ipv4[4] |
//                  peer virtual_ipv6[16] | candidates list<endpoint> | mode u8 (0 direct,
//                  1 relay) | relay optional-endpoint | relay_id u32 | relay_expires_unix u64 |
//                  relay_token[32] | peer_mac1_key[32] [ | access ]
//                  (optional-endpoint: family 0 alone = no relay assigned; access: see below,
//                  absent = unrestricted, which is what a DC before 0.4 means)
//   DirectionAck   direction_id u32
//   Error          code u8 | message str
//   PeerRevoked    notice_id u32 | node_id u64 | reason str
//   PeerRevokedAck notice_id u32
//   PeerAccess     notice_id u32 | node_id u64 | access
//   PeerAccessAck  notice_id u32
// access = restricted u8 (0: every port, the lists are empty; 1: only the lists) |
//          inbound list<port_range> | outbound list<port_range>
// port_range = protocol u8 (0 TCP and UDP, 6 TCP, 17 UDP) | first u16 | last u16 (first <= last)
#pragma once

#include <span>

#include "control/codec_util.h"
#include "tunnel/access.h"  // the port lists the node enforces (a plain value type)

namespace ntm::control {

using Challenge = std::array<uint8_t, kChallengeSize>;

struct Register {
  std::vector<Endpoint> private_endpoints;
  Challenge challenge{};  // the DC's last RegisterChallenge for this node, or zero
  // The node's protocol version (constants.h). 1 is encoded without the field, as nodes before
  // 0.4 sent it (tests use it to play an old node).
  uint8_t version = kNodeProtocolVersion;
  friend bool operator==(const Register&, const Register&) = default;
};

struct RegisterAck {
  Ipv4Address virtual_ipv4{};
  Ipv6Address virtual_ipv6{};
  Endpoint observed;
  uint16_t keepalive_s = 0;
  std::vector<Endpoint> relays;
  friend bool operator==(const RegisterAck&, const RegisterAck&) = default;
};

struct Keepalive {
  std::vector<Endpoint> private_endpoints;
  friend bool operator==(const Keepalive&, const Keepalive&) = default;
};

struct KeepaliveAck {
  Endpoint observed;
  friend bool operator==(const KeepaliveAck&, const KeepaliveAck&) = default;
};

struct Resolve {
  uint32_t request_id = 0;
  ResolveBy by = ResolveBy::fqdn;
  std::string fqdn;  // by == fqdn
  // by == virtual_address: v4 (first 4 bytes of `address`) or v6.
  Endpoint::Family family = Endpoint::Family::none;
  Ipv6Address address{};
  // The relay our relayed path to this peer went through until it stopped answering (invalid:
  // none): the DC directs the pair through another one.
  Endpoint failed_relay{};
  friend bool operator==(const Resolve&, const Resolve&) = default;

  static Resolve by_name(uint32_t request_id, std::string fqdn);
  static Resolve by_ipv4(uint32_t request_id, const Ipv4Address& a);
  static Resolve by_ipv6(uint32_t request_id, const Ipv6Address& a);
};

struct ResolveReply {
  uint32_t request_id = 0;
  ResolveStatus status = ResolveStatus::ok;
  uint64_t node_id = 0;
  std::string fqdn;
  Ipv4Address virtual_ipv4{};
  Ipv6Address virtual_ipv6{};
  friend bool operator==(const ResolveReply&, const ResolveReply&) = default;
};

struct Direction {
  uint32_t direction_id = 0;
  Bytes peer_certificate;  // encoded NodeCertificate of the peer
  Ipv4Address peer_virtual_ipv4{};
  Ipv6Address peer_virtual_ipv6{};
  std::vector<Endpoint> candidates;  // in the order to try
  DirectionMode mode = DirectionMode::direct;
  Endpoint relay;  // invalid (family none) when no relay is assigned
  uint32_t relay_id = 0;
  uint64_t relay_expires_unix = 0;
  std::array<uint8_t, kRelayTokenSize> relay_token{};
  // The peer's secret mac1 key (registration.h, node_mac1_key): handshake messages to the peer
  // carry mac1 under it.
  Key32 peer_mac1_key{};
  // What the receiver and the peer may open on each other (inbound: the receiver's ports).
  // Encoded only when restricted, so nodes before 0.4 still read Directions of a DC without a
  // policy.
  tunnel::PeerAccess access;
  friend bool operator==(const Direction&, const Direction&) = default;
};

struct DirectionAck {
  uint32_t direction_id = 0;
  friend bool operator==(const DirectionAck&, const DirectionAck&) = default;
};

struct DcError {
  DcErrorCode code = DcErrorCode::bad_request;
  std::string message;
  friend bool operator==(const DcError&, const DcError&) = default;
};

// A peer's account was disabled or deleted: tear its tunnel down and accept it no more.
// Retransmitted (as Direction) until PeerRevokedAck.
struct PeerRevoked {
  uint32_t notice_id = 0;
  uint64_t node_id = 0;
  std::string reason;
  friend bool operator==(const PeerRevoked&, const PeerRevoked&) = default;
};

struct PeerRevokedAck {
  uint32_t notice_id = 0;
  friend bool operator==(const PeerRevokedAck&, const PeerRevokedAck&) = default;
};

// The operator changed the access policy: what the receiver and `node_id` may open on each
// other now (denied: tear the tunnel down; a later Direction may allow it again).
// Retransmitted until PeerAccessAck.
struct PeerAccessNotice {
  uint32_t notice_id = 0;
  uint64_t node_id = 0;
  tunnel::PeerAccess access;
  friend bool operator==(const PeerAccessNotice&, const PeerAccessNotice&) = default;
};

struct PeerAccessAck {
  uint32_t notice_id = 0;
  friend bool operator==(const PeerAccessAck&, const PeerAccessAck&) = default;
};

Bytes encode(const Register& m);
Bytes encode(const RegisterAck& m);
Bytes encode(const Keepalive& m);
Bytes encode(const KeepaliveAck& m);
Bytes encode(const Resolve& m);
Bytes encode(const ResolveReply& m);
Bytes encode(const Direction& m);
Bytes encode(const DirectionAck& m);
Bytes encode(const DcError& m);
Bytes encode(const PeerRevoked& m);
Bytes encode(const PeerRevokedAck& m);
Bytes encode(const PeerAccessNotice& m);
Bytes encode(const PeerAccessAck& m);

Decoded<Register> decode_register(std::span<const uint8_t> plaintext);
Decoded<RegisterAck> decode_register_ack(std::span<const uint8_t> plaintext);
Decoded<Keepalive> decode_keepalive(std::span<const uint8_t> plaintext);
Decoded<KeepaliveAck> decode_keepalive_ack(std::span<const uint8_t> plaintext);
Decoded<Resolve> decode_resolve(std::span<const uint8_t> plaintext);
Decoded<ResolveReply> decode_resolve_reply(std::span<const uint8_t> plaintext);
Decoded<Direction> decode_direction(std::span<const uint8_t> plaintext);
Decoded<DirectionAck> decode_direction_ack(std::span<const uint8_t> plaintext);
Decoded<DcError> decode_dc_error(std::span<const uint8_t> plaintext);
Decoded<PeerRevoked> decode_peer_revoked(std::span<const uint8_t> plaintext);
Decoded<PeerRevokedAck> decode_peer_revoked_ack(std::span<const uint8_t> plaintext);
Decoded<PeerAccessNotice> decode_peer_access(std::span<const uint8_t> plaintext);
Decoded<PeerAccessAck> decode_peer_access_ack(std::span<const uint8_t> plaintext);

// The envelope type of each body.
constexpr MessageType message_type(const Register&) { return MessageType::register_node; }
constexpr MessageType message_type(const RegisterAck&) { return MessageType::register_ack; }
constexpr MessageType message_type(const Keepalive&) { return MessageType::keepalive; }
constexpr MessageType message_type(const KeepaliveAck&) { return MessageType::keepalive_ack; }
constexpr MessageType message_type(const Resolve&) { return MessageType::resolve; }
constexpr MessageType message_type(const ResolveReply&) { return MessageType::resolve_reply; }
constexpr MessageType message_type(const Direction&) { return MessageType::direction; }
constexpr MessageType message_type(const DirectionAck&) { return MessageType::direction_ack; }
constexpr MessageType message_type(const DcError&) { return MessageType::error; }
constexpr MessageType message_type(const PeerRevoked&) { return MessageType::peer_revoked; }
constexpr MessageType message_type(const PeerRevokedAck&) { return MessageType::peer_revoked_ack; }
constexpr MessageType message_type(const PeerAccessNotice&) { return MessageType::peer_access; }
constexpr MessageType message_type(const PeerAccessAck&) { return MessageType::peer_access_ack; }

}  // namespace ntm::control
