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
// A responder whose session reaches this age rekeys it itself (as initiator of the new one): the
// initiator sends nothing, or both ends opened the tunnel at once (hole punching) and each sends
// on the session the other started. docs/protocol.md 2.2 states the figure; a test checks it.
inline constexpr auto kResponderRekeyAfterTime = kRejectAfterTime - 30s;
static_assert(kResponderRekeyAfterTime > kRekeyAfterTime);
// After receiving data with nothing to send back for this long, send an empty keepalive so
// the peer knows the path still works.
inline constexpr auto kPassiveKeepalive = 10s;
// Default: a tunnel with no traffic for this long loses its session keys.
inline constexpr auto kDefaultIdleTimeout = 180s;
// Hole punching: how long direct candidates may take before the relay is used (default; the
// node's options override it), and how often a relayed tunnel tries to go direct again.
inline constexpr auto kDefaultDirectTimeout = 1000ms;
inline constexpr auto kDirectProbeInterval = 5s;
// Punching through NATs that let an unsolicited packet create state - stock Linux masquerade
// without a filter on the uplink: a peer's punch that arrives before our own has left makes a
// conntrack entry on our router, and our punch is then mapped to another port the peer's NAT
// does not expect, so neither gets through. A fresh punch therefore first sends the init with
// hop limit kPunchOpenHopLimit to every IPv4 candidate (when the node is behind a NAT: it passes
// our router, opening the mapping, and expires before it reaches the peer's), and the init with
// the normal hop limit only kPunchLead later - longer than the gap between the two ends receiving
// the DC's Direction - by when the peer's own opening punch has gone out too. Re-punching a
// tunnel that has a session (a move) does not wait: the mover opened its mapping with its path
// update already, and the wait would add to every handover.
inline constexpr uint8_t kPunchOpenHopLimit = 2;
inline constexpr auto kPunchLead = 20ms;
// A stale path (our address changed, or an idle tunnel starts again) asks the DC to direct a new
// one: after a network change at once (in parallel with the path update sent straight to the
// peer), when an idle tunnel resumes after kResumeDirectionDelay without an answer; then again
// after kDirectionRetry, doubling up to kDirectionRetryMax, until the peer answers or
// kDirectionGiveUp has passed (a re-registration with the DC asks again at once).
inline constexpr auto kResumeDirectionDelay = 200ms;
inline constexpr auto kDirectionRetry = 250ms;
inline constexpr auto kDirectionRetryMax = 2s;
inline constexpr auto kDirectionGiveUp = 120s;
// A relayed tunnel whose RS died (docs/protocol.md 4.2): data sent through the relay and nothing
// authenticated back from the peer for kRelaySilence makes the node send a handshake through the
// relay (the peer answers it if only it had nothing to say) and, unanswered kRelayProbeWait
// later, ask the DC for a path that avoids this relay. TCP's ACKs answer within a round trip, so
// a live relayed session never goes that long without an answer; a one-way flow (UDP the peer
// never answers) costs one handshake per kRelaySilence. Together with the DC's Direction and the
// bind to the new RS they keep the gap of a relayed session whose RS dies under 3 s
// (tests/fleet: relay fail-over).
inline constexpr auto kRelaySilence = 1000ms;
inline constexpr auto kRelayProbeWait = 500ms;
// Handshakes under load (cookie.h, handshake_limiter.h). A responder's cookie secret changes
// this often, and an initiator stops using a cookie a little before that.
inline constexpr auto kCookieRefreshTime = 120s;
inline constexpr auto kCookieUseTime = kCookieRefreshTime - 5s;
// Inits a node handles with public-key work per second (and in a burst) before it is "under
// load" and asks for cookies: at about 0.2 ms each, 256/s is 5% of one core, and a node with
// 30000 peers rekeying every 120 s needs 250/s.
inline constexpr double kHandshakeRate = 256;
inline constexpr double kHandshakeBurst = 256;
// Under load, one source address (with a valid cookie) gets at most this many (WireGuard's figures).
inline constexpr double kHandshakeRatePerSource = 20;
inline constexpr double kHandshakeBurstPerSource = 5;
// Sources the per-source limiter tracks at once; beyond this, new sources wait.
inline constexpr size_t kHandshakeSourcesTracked = 4096;
// Inner packets held per peer while a handshake runs; older ones are dropped beyond this.
inline constexpr size_t kMaxQueuedPackets = 256;
// Room the engine needs around an inner packet in a datagram buffer: a relay header (8 bytes,
// used when the path goes through a Relay Server) and the capsule header (16).
inline constexpr size_t kRelayHeaderRoom = 8;  // == wire::kRelayHeaderSize
inline constexpr size_t kDatagramHeadroom = kRelayHeaderRoom + 16;
inline constexpr size_t kDatagramTailroom = 16;

}  // namespace ntm::tunnel
