// Path MTU discovery for a tunnel (RFC 8899 style datagram PLPMTUD): the engine sends padded
// probes of several sizes inside the tunnel at once, the peer acknowledges each one that
// arrives, and the largest acknowledged size is the tunnel's path MTU - the largest inner packet
// that reaches the peer on the current path. Nothing depends on ICMP, so a path that drops ICMP
// "fragmentation needed" (a black hole) is measured as well as one that sends it.
//
// Probes and acks are tunnel control messages: capsule plaintexts whose first byte has 0 in its
// high nibble (no IP version), which the receiver handles itself and never hands to the stack.
//   probe: 0x01 | round u32 | size u16 | zero padding up to `size` bytes in all
//   ack:   0x02 | round u32 | size u16                           (7 bytes)
// A node that predates them drops them as malformed inner packets; its tunnels keep path_mtu 0.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace ntm::tunnel {

using namespace std::chrono_literals;

inline constexpr uint8_t kControlMtuProbe = 0x01;
inline constexpr uint8_t kControlMtuAck = 0x02;
inline constexpr size_t kMtuControlSize = 7;
// The smallest inner MTU searched: what fits a 1280-byte IPv6 path (1280 - 40 IPv6 - 8 UDP -
// 16 capsule header - 16 tag). IPv6 guarantees 1280, so this size needs no probe to be trusted.
inline constexpr uint16_t kMinTunnelMtu = 1200;
// Probe sizes go down from the virtual MTU in these steps (a 1280-byte IPv4 link carries 1220).
inline constexpr uint16_t kMtuProbeStep = 20;
// A round of probes ends this long after it was sent; the largest acknowledged size wins.
inline constexpr auto kMtuRoundTime = 300ms;
// Rounds without any acknowledgement before the search stops (the peer may not answer probes).
inline constexpr int kMtuMaxRounds = 3;
// How often a tunnel in use searches again (a path may have widened), and how recently it must
// have been used for that: probing must not keep an idle tunnel alive.
inline constexpr auto kMtuSearchInterval = 10min;
inline constexpr auto kMtuActiveWithin = 10s;

// Is this capsule plaintext a tunnel control message rather than an IP packet?
inline bool is_tunnel_control(std::span<const uint8_t> plaintext) {
  return !plaintext.empty() && (plaintext[0] >> 4) == 0;
}

struct MtuControl {
  uint8_t type = 0;  // kControlMtuProbe or kControlMtuAck
  uint32_t round = 0;
  uint16_t size = 0;
};

// The probe sizes for a virtual MTU, largest first, down to kMinTunnelMtu.
std::vector<uint16_t> mtu_probe_sizes(uint16_t virtual_mtu);

// The largest size worth probing on a path. A relayed datagram carries an 8-byte relay header,
// and the RS may forward it on another address family (IPv4 in, IPv6 out: 20 bytes more), so at
// the default 1420 it no longer fits a 1500-byte link: the sending host (the node or the RS)
// fragments it, and a fragmented probe is acknowledged like any other. Relayed, the search starts
// 8 bytes lower, where every leg fits the 1500 bytes a direct path of that MTU fits.
uint16_t probe_ceiling(uint16_t virtual_mtu, bool relayed);

// Writes a message into `out` (a probe fills out.size() == size bytes; an ack kMtuControlSize).
void encode_mtu_control(const MtuControl& message, std::span<uint8_t> out);

// A probe or an ack (a probe's size must match its length); nullopt for anything else.
std::optional<MtuControl> decode_mtu_control(std::span<const uint8_t> plaintext);

}  // namespace ntm::tunnel
