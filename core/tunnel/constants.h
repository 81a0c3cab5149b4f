// Tuning constants of the tunnel layer (protocol constants live in wire/constants.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace ntm::tunnel {

using namespace std::chrono_literals;

// A handshake not answered within this time is sent again (new ephemeral key, new PathID).
inline constexpr auto kHandshakeRetryInterval = 500ms;
// After this many unanswered attempts the handshake fails and queued packets are dropped.
inline constexpr int kHandshakeMaxAttempts = 20;
// The initiator of a session starts a new handshake when its session is this old.
inline constexpr auto kRekeyAfterTime = 120s;
// No packet is sent or accepted on a session older than this.
inline constexpr auto kRejectAfterTime = 180s;
// After receiving data with nothing to send back for this long, send an empty keepalive so
// the peer knows the path still works.
inline constexpr auto kPassiveKeepalive = 10s;
// Default: a tunnel with no traffic for this long loses its session keys.
inline constexpr auto kDefaultIdleTimeout = 180s;
// Hole punching: how long direct candidates may take before the relay is used (default; the
// node's options override it), and how often a relayed tunnel tries to go direct again.
inline constexpr auto kDefaultDirectTimeout = 1000ms;
inline constexpr auto kDirectProbeInterval = 5s;
// Mobility: after our address changes, how long a peer may stay silent to our path update (a
// new handshake from the new address) before the DC is asked to direct a new path.
inline constexpr auto kRoamTimeout = 60ms;
// Inner packets held per peer while a handshake runs; older ones are dropped beyond this.
inline constexpr size_t kMaxQueuedPackets = 256;
// Room the engine needs around an inner packet in a datagram buffer: a relay header (8 bytes,
// used when the path goes through a Relay Server) and the capsule header (16).
inline constexpr size_t kRelayHeaderRoom = 8;  // == wire::kRelayHeaderSize
inline constexpr size_t kDatagramHeadroom = kRelayHeaderRoom + 16;
inline constexpr size_t kDatagramTailroom = 16;

}  // namespace ntm::tunnel
