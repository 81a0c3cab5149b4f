// A tunnel-table entry: one peer, its identity keys (NodeID, FQDN, virtual IPv4/IPv6, static
// public key), where its packets go (real endpoint, path kind), its sessions and counters.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/x25519.h"
#include "tunnel/access.h"
#include "tunnel/handshake.h"
#include "tunnel/replay_window.h"
#include "util/endpoint.h"
#include "wire/constants.h"

namespace ntm::tunnel {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class PathKind : uint8_t { none = 0, direct = 1, relay = 2 };

using Ipv4 = std::array<uint8_t, 4>;
using Ipv6 = std::array<uint8_t, 16>;

struct PeerIdentity {
  uint64_t node_id = 0;
  std::string fqdn;
  std::optional<Ipv4> vip4;
  std::optional<Ipv6> vip6;
  crypto::X25519Key static_public{};
  // The key handshake messages to this peer carry mac1 under, when the peer has a secret one
  // (control-plane mode: from the DC's Direction); nullopt: derived from static_public.
  std::optional<std::array<uint8_t, 32>> mac1_key;
};

// One set of data keys between us and a peer, found by our PathID.
struct Session : std::enable_shared_from_this<Session> {
  Session(uint32_t local, uint32_t remote, crypto::AeadAlgorithm alg, const HandshakeKeys& keys,
          bool initiator, TimePoint now)
      : local_path_id(local),
        remote_path_id(remote),
        created(now),
        is_initiator(initiator),
        confirmed(initiator),
        send_aead(alg, keys.send_key),
        recv_aead(alg, keys.recv_key) {}

  const uint32_t local_path_id;
  const uint32_t remote_path_id;
  const TimePoint created;
  const bool is_initiator;
  // A responder may send only after the initiator has proved it holds the keys (first packet).
  std::atomic<bool> confirmed;

  std::mutex send_mutex;  // guards send_aead and send_counter
  crypto::Aead send_aead;
  uint64_t send_counter = 0;

  std::mutex recv_mutex;  // guards recv_aead and replay
  crypto::Aead recv_aead;
  ReplayWindow replay;
};

// A handshake we started and wait to be answered.
struct PendingHandshake {
  InitiatorHandshake state;
  uint32_t local_path_id = 0;
  TimePoint sent_at{};
  TimePoint first_sent_at{};
  int attempts = 0;
  bool probe = false;  // a relayed tunnel trying its direct candidates: failure is not an error
  // The init's mac1 (a cookie reply answering it is sealed with it as associated data) and
  // whether it carried a mac2.
  std::array<uint8_t, 16> sent_mac1{};
  bool sent_mac2 = false;
  // Hole punching after an opening punch: the init goes to every candidate with the normal hop
  // limit at full_punch_at (TimePoint{}: sent, or nothing deferred).
  TimePoint full_punch_at{};
  std::array<uint8_t, wire::kHandshakeInitSize> init_bytes{};
};

struct Peer {
  explicit Peer(PeerIdentity id) : identity(std::move(id)), mac1_key(identity.mac1_key) {}

  const PeerIdentity identity;
  // Static peers come from configuration and are never expired from the table.
  bool pinned = false;

  std::mutex mutex;  // guards everything below that is not atomic
  // The key handshake messages to this peer carry mac1 under (cookie.h, mac1_key_of): the
  // identity's, or a newer one from a later Direction (the peer logged in again).
  std::optional<std::array<uint8_t, 32>> mac1_key;
  Endpoint endpoint;  // where datagrams go now: the peer itself, or the Relay Server
  PathKind path = PathKind::none;
  // Control-plane mode: direct endpoints to punch (from the DC) and the relay to fall back to.
  std::vector<Endpoint> candidates;
  struct Relay {
    Endpoint server;
    uint32_t relay_id = 0;
  };
  std::optional<Relay> relay;
  TimePoint direct_deadline{};    // hole punching gives up at this time (then the relay)
  TimePoint next_direct_probe{};  // while relayed: when to try the candidates again
  bool endpoint_confirmed = false;  // an authenticated packet came straight from `endpoint`
  // The path may be dead: our own address changed, or a tunnel that had gone idle started again,
  // and nothing authenticated has come back from this peer since. While stale, the DC is asked
  // to direct a new path (needs_direction) at next_direction_request, again with backoff, and
  // the tunnel falls back to its relay after the direct timeout; the first authenticated packet
  // from the peer ends it.
  bool path_stale = false;
  TimePoint stale_since{};
  // Punching gave up in this stale episode and the tunnel went to its relay: later Directions
  // (both ends ask the DC several times while stale) leave it there rather than punch again and
  // wait another direct timeout; once the relay answers, the periodic direct probe tries again.
  bool relayed_while_stale = false;
  TimePoint next_direction_request{};
  int direction_requests = 0;
  TimePoint last_direct_receive{};
  // A relayed path's liveness (constants.h, kRelaySilence): when the first data packet went out
  // through the relay since the peer's last authenticated packet (zero: none unanswered), and
  // whether the relay in use went silent - then the direction requests name it, so the DC
  // assigns another (both cleared by the peer's next authenticated packet).
  TimePoint relay_unanswered_since{};
  bool relay_suspect = false;
  std::shared_ptr<Session> current;   // used for sending
  std::shared_ptr<Session> previous;  // still accepted while the peer switches over
  std::shared_ptr<Session> next;      // responder side, until the initiator confirms it
  std::optional<PendingHandshake> pending;
  std::vector<std::vector<uint8_t>> queued;  // inner packets waiting for a session
  uint64_t last_init_timestamp = 0;          // handshake replay protection
  // The peer under load sent us a cookie: our inits carry mac2 with it for kCookieUseTime.
  std::optional<std::array<uint8_t, 16>> cookie;
  TimePoint cookie_received{};
  // What the access policy lets through this tunnel (access.h; from the DC, unrestricted until
  // it says otherwise) and the UDP flows we opened, which replies may come back on.
  PeerAccess access;
  UdpFlows udp_flows;

  std::atomic<int> refs{0};
  std::atomic<int64_t> last_use_ns{0};  // steady clock, for idle expiry
  std::atomic<int64_t> last_sent_ns{0};
  // Last data packet (keepalives excluded) or handshake response: drives passive keepalives.
  std::atomic<int64_t> last_received_ns{0};
  std::atomic<uint64_t> bytes_sent{0}, bytes_received{0}, packets_sent{0}, packets_received{0};
  // Smoothed round-trip time (RFC 6298 weights) from handshakes; -1 until the first sample.
  std::atomic<int64_t> rtt_us{-1};
  // Largest inner packet known to reach the peer on the current path; 0 until measured
  // (path_mtu.h). The search state below is guarded by `mutex`: the current round, when it
  // ends, the largest size acknowledged in it, rounds that went unanswered, the next search.
  std::atomic<uint32_t> path_mtu{0};
  uint32_t mtu_round = 0;
  TimePoint mtu_round_ends{};
  uint16_t mtu_acked = 0;
  int mtu_rounds_unanswered = 0;
  TimePoint mtu_next_search{};

  void add_rtt_sample(std::chrono::nanoseconds sample) {
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(sample).count();
    const int64_t old = rtt_us.load(std::memory_order_relaxed);
    rtt_us.store(old < 0 ? us : old + (us - old) / 8, std::memory_order_relaxed);
  }

  void touch(TimePoint now) {
    last_use_ns.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }
};

}  // namespace ntm::tunnel
