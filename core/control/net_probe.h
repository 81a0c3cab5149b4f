// Reachability probes that any client may send to the DC's and the RS's UDP ports (docs/protocol.md
// section 7), the way STUN's Binding request works. `ntm netcheck` uses them to learn, per address
// family, whether a server answers, the endpoint it sees (so NAT and mapping behaviour can be
// told), and the largest datagram that reaches it.
//
//   0x40 NetProbe       type u8 | reserved u8 = 0 | reserved u16 = 0 | nonce u64 | padding (zeros)
//   0x41 NetProbeReply  type u8 | reserved u8 = 0 | received_size u16 | nonce u64 | observed endpoint
//
// A probe is at least kNetProbeMinSize bytes, and a reply (at most 31 bytes) is never larger
// than the probe it answers, so a forged source address gains an attacker no amplification. They
// are unauthenticated on purpose: the reply tells the sender only its own address.
#pragma once

#include <span>

#include "control/codec_util.h"

namespace ntm::control {

inline constexpr uint8_t kNetProbeType = 0x40;
inline constexpr uint8_t kNetProbeReplyType = 0x41;
inline constexpr size_t kNetProbeMinSize = 32;
inline constexpr size_t kNetProbeReplyMaxSize = 12 + 19;  // header + an IPv6 endpoint

struct NetProbe {
  uint64_t nonce = 0;
  size_t size = kNetProbeMinSize;  // the whole datagram, padding included
  friend bool operator==(const NetProbe&, const NetProbe&) = default;
};

struct NetProbeReply {
  uint64_t nonce = 0;
  uint16_t received_size = 0;  // how many bytes of the probe the server received
  Endpoint observed;           // the probe's source address as the server saw it
  friend bool operator==(const NetProbeReply&, const NetProbeReply&) = default;
};

// Throws std::length_error if m.size is below kNetProbeMinSize or above kMaxDatagramSize.
Bytes encode(const NetProbe& m);
Bytes encode(const NetProbeReply& m);
// Strict, whole datagrams: empty -> truncated; wrong type -> unknown_type; short -> truncated;
// long -> oversized; non-zero reserved or padding, or a bad endpoint family -> bad_field.
Decoded<NetProbe> decode_net_probe(std::span<const uint8_t> datagram) noexcept;
Decoded<NetProbeReply> decode_net_probe_reply(std::span<const uint8_t> datagram) noexcept;

// The reply a server sends to `datagram` received from `from`, or nothing when it is not a valid
// probe (the caller then treats it as any other datagram).
std::optional<Bytes> answer_net_probe(std::span<const uint8_t> datagram, const Endpoint& from);

}  // namespace ntm::control
