// The tunnel engine (the seed's PMM): seals inner IP packets into capsules for a peer's current
// endpoint, opens capsules back into inner packets, and runs the handshakes that make sessions.
// It does no I/O and reads no clock: callers pass bytes and the time in, and the engine answers
// through an EngineSink ("send these bytes to that endpoint", "deliver this inner packet").
// Thread-safe: any thread may call any method; the sink may be called from each of them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "crypto/aead.h"
#include "crypto/x25519.h"
#include "tunnel/constants.h"
#include "tunnel/cookie.h"
#include "tunnel/handshake_limiter.h"
#include "tunnel/peer.h"
#include "tunnel/tunnel_table.h"
#include "util/endpoint.h"

namespace ntm::tunnel {

enum class EngineEventType {
  tunnel_up,
  tunnel_down,
  path_changed,
  needs_direction  // mobility: the peer did not answer our path update; ask the DC
};

struct EngineEvent {
  EngineEventType type;
  const Peer* peer;
  Endpoint endpoint;
  PathKind path;
  std::string message;
  // needs_direction only: the relay (its RS endpoint) that stopped answering, for the DC to
  // avoid; invalid when the relay is not in question.
  Endpoint failed_relay{};
};

// A data capsule whose header is written and whose counter is taken, but which is not sealed
// yet: a sink that takes it (EngineSink::send_unsealed) runs seal_capsule() later, on any thread,
// before the datagram leaves. Counters are taken in order; seals may finish in another order
// (the peer's replay window accepts reordering).
struct UnsealedCapsule {
  std::shared_ptr<Session> session;  // null: nothing to seal
  uint64_t counter = 0;
  size_t capsule_offset = 0;  // where the capsule header starts in the datagram's buffer
  size_t inner_length = 0;
};

// Seals the capsule in `buffer` (the buffer the datagram was built in) with its session's key.
void seal_capsule(const UnsealedCapsule& capsule, std::span<uint8_t> buffer);

class EngineSink {
 public:
  virtual ~EngineSink() = default;
  // A buffer of at least `size` bytes to build the next outgoing datagram in; valid until the
  // matching send().
  virtual std::span<uint8_t> datagram_buffer(size_t size) = 0;
  // Bytes [offset, offset + length) of the last datagram_buffer() are a datagram for `to`.
  virtual void send(const Endpoint& to, size_t offset, size_t length) = 0;
  // As send(), for a data capsule not sealed yet: a sink that returns true seals it (with
  // seal_capsule) before it sends. false: the engine seals it now and calls send().
  virtual bool send_unsealed(const Endpoint& /*to*/, size_t /*offset*/, size_t /*length*/,
                             UnsealedCapsule& /*capsule*/) {
    return false;
  }
  // The same with an IPv4 TTL / IPv6 hop limit of `hop_limit` for this datagram alone: hole
  // punching's opening punch, which must pass our own NAT and expire before the peer's.
  // The default (a sink that cannot set it) sends the datagram plainly.
  virtual void send_hop_limited(const Endpoint& to, size_t offset, size_t length,
                                uint8_t hop_limit) {
    (void)hop_limit;
    send(to, offset, length);
  }
  // An authenticated inner packet for the virtual stack. The bytes are valid during the call.
  virtual void deliver(std::span<const uint8_t> inner) = 0;
  virtual void event(const EngineEvent& event) = 0;
  // A timer may now be due earlier than next_timer() said before (a handshake started, a path
  // went stale) - called from whichever thread did it, with no engine lock held. A node that
  // sleeps until next_timer() wakes up and asks again.
  virtual void timers_changed() {}
};

struct EngineConfig {
  crypto::X25519KeyPair static_key;
  crypto::AeadAlgorithm cipher = crypto::AeadAlgorithm::aes_256_gcm;
  std::chrono::nanoseconds idle_timeout = std::chrono::minutes(3);
  std::chrono::nanoseconds direct_timeout = std::chrono::seconds(1);
  // A fresh punch sends the full-hop-limit inits this long after the opening punch
  // (kPunchLead, see constants.h); 0 sends them at once.
  std::chrono::nanoseconds punch_lead = kPunchLead;
  // The virtual interface's MTU: path MTU probes (path_mtu.h) go from it down to
  // kMinTunnelMtu. 0: no path MTU discovery.
  uint16_t virtual_mtu = 0;
  // A tunnel with a session sends an empty keepalive when it has sent nothing for this long, so
  // NAT mappings on the path stay open. Keepalives are not use: the tunnel still goes idle.
  // Zero (the default here; nodes set 25 s): none, only the passive keepalive after unanswered
  // data.
  std::chrono::nanoseconds keepalive_interval{0};
  // This node's secret mac1 key (control-plane mode, from the DC); nullopt: derived from the
  // static public key. set_mac1_key() replaces it later.
  std::optional<MacKey> mac1_key;
  // Public-key work on inits before the node is under load and asks for cookies.
  HandshakeLimits handshake_limits = default_handshake_limits();
};

struct EngineStats {
  std::atomic<uint64_t> packets_sent{0}, packets_received{0}, bytes_sent{0}, bytes_received{0};
  std::atomic<uint64_t> dropped_malformed{0}, dropped_unknown_path{0}, dropped_auth{0},
      dropped_replay{0}, dropped_no_tunnel{0}, handshakes_completed{0}, handshakes_failed{0};
  // Inner packets whose source is not one of the sending peer's virtual addresses, refused by
  // the access policy, or refused by a resource limit (ntm_stats version 2).
  std::atomic<uint64_t> dropped_spoofed{0}, dropped_policy{0}, dropped_limit{0};
  std::atomic<uint64_t> handshakes_initiated{0}, relay_fallbacks{0}, direct_upgrades{0};
  // Under load: inits answered with a cookie reply instead of public-key work, and inits with a
  // valid cookie refused because their source exceeded its rate.
  std::atomic<uint64_t> cookie_replies_sent{0}, handshakes_throttled{0};
  // Handshake messages whose mac1 is not under our mac1 key, dropped before any public-key work
  // (also counted in dropped_auth; not in the C ABI).
  std::atomic<uint64_t> dropped_mac1{0};
};

enum class SendResult { sent, queued, no_tunnel, dropped };

class Engine {
 public:
  Engine(EngineConfig config, TunnelTable& table);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Sends the inner packet at datagram[kDatagramHeadroom, +inner_length) to the peer that owns
  // its destination virtual address. `datagram` must come from sink.datagram_buffer() with
  // kDatagramTailroom bytes to spare after the packet; it is sealed in place. Without a session
  // the packet is copied to the peer's queue and a handshake starts.
  SendResult send_inner(std::span<uint8_t> datagram, size_t inner_length, EngineSink& sink,
                        TimePoint now);

  // Handles one datagram from the network. The buffer is decrypted in place. `relay_id` is set
  // when the datagram came (unwrapped) from a Relay Server at `from`.
  void receive(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
               TimePoint now, std::optional<uint32_t> relay_id = std::nullopt);

  // Timers: handshake retries and failures, rekeying, keepalives, session and idle expiry.
  // Call at next_timer() (or more often: a tick with nothing due does nothing).
  void tick(EngineSink& sink, TimePoint now);

  // The earliest time at which tick() has something to do, given the state now; TimePoint::max()
  // when nothing is armed (no sessions, handshakes or stale paths). State changed by other
  // threads may arm an earlier timer: they call EngineSink::timers_changed().
  TimePoint next_timer(TimePoint now) const;

  // Starts a handshake with a peer now if it has no session (e.g. to warm a tunnel up).
  void connect(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now);

  // Control-plane direction: the peer's direct candidates and relay. Both ends start punching
  // at once (connect); without success within direct_timeout the tunnel goes through the relay.
  void direct(const TunnelTable::Ref& peer, std::vector<Endpoint> candidates,
              std::optional<Peer::Relay> relay, EngineSink& sink, TimePoint now);

  // Our real addresses changed: every tunnel sends a path update (a new handshake from the new
  // address, which the peer authenticates before it follows) and, in parallel, asks the DC to
  // direct a new path (needs_direction), again with backoff while the peer stays silent; after
  // direct_timeout of silence a tunnel with a relay falls back to it.
  void on_network_change(EngineSink& sink, TimePoint now);

  // Replaces this node's mac1 key (control-plane mode: derived from the session key of each
  // login). Handshake messages from then on must carry mac1 under it; those under the key it
  // replaces are still accepted until `previous_until` (peers learn the new key from their next
  // Direction). Default: the previous key is refused at once.
  void set_mac1_key(const MacKey& key, TimePoint previous_until = {});

  // The node registered with the DC again (after an outage, a restart, a move): every stale
  // tunnel asks for its direction again at once.
  void on_registered(EngineSink& sink, TimePoint now);

  // The Relay Server at `server` has just accepted our binding (the first one there, or again
  // after it lost it): handshakes sent through it before were dropped by the RS, so every
  // tunnel waiting for one through that relay sends its init again now instead of after
  // kHandshakeRetryInterval (a move to an IPv6-only network otherwise stalls 0.5-1.5 s).
  void on_relay_bound(const Endpoint& server, EngineSink& sink, TimePoint now);

  // The hop limit of opening punches to IPv4 candidates (kPunchOpenHopLimit when this host is
  // behind a NAT, 0: none). The node sets it at start and after every network change.
  void set_punch_open_hop_limit(uint8_t hop_limit) {
    punch_open_hop_limit_.store(hop_limit, std::memory_order_relaxed);
  }

  // Is there a peer that owns this virtual destination? (The stack's routing hook.)
  bool has_peer_for(std::span<const uint8_t, 4> vip4) const;
  bool has_peer_for(std::span<const uint8_t, 16> vip6) const;

  const EngineStats& stats() const { return stats_; }
  const crypto::X25519KeyPair& static_key() const { return config_.static_key; }
  TunnelTable& table() { return table_; }

 private:
  TunnelTable::Ref peer_for_inner(std::span<const uint8_t> inner) const;
  void seal_and_send(Peer& peer, Session& session, std::span<uint8_t> datagram,
                     size_t inner_length, EngineSink& sink, TimePoint now);
  // `count_attempt` false: a resend the peer asked for (a cookie reply), not a retry.
  // `open_nat_first`: punch as a fresh tunnel does (kPunchLead) although a session exists - the
  // peer is not where our path update went, so our NAT has no mapping towards it yet.
  void start_handshake_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now,
                              bool count_attempt = true, bool open_nat_first = false);
  // Fills init.mac2 when we hold a fresh cookie from the peer; returns whether it did.
  bool add_mac2_locked(const Peer& peer, wire::HandshakeInit& init, TimePoint now) const;
  // Under load, decides whether an init (mac1 already checked) gets public-key work; otherwise
  // answers it with a cookie reply or drops it. true: go ahead.
  bool admit_init(const wire::HandshakeInit& init, std::span<const uint8_t> datagram,
                  const Endpoint& from, std::optional<uint32_t> relay_id, EngineSink& sink,
                  TimePoint now);
  struct OwnMac1 {
    MacKey key;
    std::shared_ptr<const crypto::HmacSha256> keyed;
    std::shared_ptr<const crypto::HmacSha256> previous;  // null: none
    TimePoint previous_until{};
  };
  OwnMac1 own_mac1() const;
  // The mac1 of an init (or response) is under our current key, or our previous one while it is
  // still accepted; counts the drop otherwise.
  bool mac1_ok(std::span<const uint8_t> datagram, bool init, TimePoint now);
  void on_data(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
               TimePoint now, std::optional<uint32_t> relay_id);
  void on_init(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
               TimePoint now, std::optional<uint32_t> relay_id);
  void on_response(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
                   TimePoint now, std::optional<uint32_t> relay_id);
  void on_cookie_reply(std::span<uint8_t> datagram, EngineSink& sink, TimePoint now);
  // Sends buffer[kRelayHeaderRoom, +length) on the peer's path (wrapped for a relay).
  void transmit_locked(Peer& peer, std::span<uint8_t> buffer, size_t length, EngineSink& sink);
  void transmit_to(const Endpoint& to, const std::optional<Peer::Relay>& relay,
                   std::span<uint8_t> buffer, size_t length, EngineSink& sink);
  // Where buffer[kRelayHeaderRoom, +length) goes on the path: the relay header written in front
  // when it goes through a relay. Returns the destination and the datagram's bytes.
  struct Wrapped {
    Endpoint to;
    size_t offset;
    size_t length;
  };
  static Wrapped wrap_for_path(const Endpoint& to, const std::optional<Peer::Relay>& relay,
                               std::span<uint8_t> buffer, size_t length);
  // `fresh`: both ends are about to punch with nothing open yet - opening punch, then the lead.
  void start_probe_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now,
                          bool fresh);
  // Sends the init to every candidate: the opening punch and a deferred full punch when
  // `fresh` and a lead is configured, else the full punch at once.
  void punch_locked(Peer& peer, const wire::HandshakeInit& init, bool fresh, EngineSink& sink,
                    TimePoint now);
  void send_to_candidates_locked(const Peer& peer, std::span<const uint8_t> init,
                                 uint8_t hop_limit, bool ipv4_only, EngineSink& sink);
  void fall_back_to_relay_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now,
                                 std::vector<EngineEvent>& events);
  void install_session_locked(const TunnelTable::Ref& peer, std::shared_ptr<Session> session);
  void flush_queue(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now);
  void send_keepalive(Peer& peer, Session& session, EngineSink& sink, TimePoint now);
  // Path MTU discovery (path_mtu.h, engine_mtu.cc). Under the peer's lock: ends a round that
  // is over and says whether a new one starts now (its id in peer.mtu_round).
  bool mtu_round_due_locked(Peer& peer, TimePoint now);
  void send_mtu_probes(Peer& peer, Session& session, uint32_t round, EngineSink& sink,
                       TimePoint now);
  // A control message from the peer (an authenticated capsule, not an IP packet).
  void on_tunnel_control(Peer& peer, std::span<const uint8_t> plaintext, EngineSink& sink,
                         TimePoint now);
  // `use`: the packet counts as use of the tunnel (data does; keepalives do not).
  void seal_and_send(Peer& peer, Session& session, std::span<uint8_t> datagram,
                     size_t inner_length, EngineSink& sink, TimePoint now, bool use);
  void update_endpoint_locked(Peer& peer, const Endpoint& from,
                              std::optional<uint32_t> relay_id, TimePoint now,
                              std::vector<EngineEvent>& events, bool explicit_path = false);
  void keep_or_probe_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now,
                            std::vector<EngineEvent>& events);
  void mark_stale_locked(Peer& peer, TimePoint now, TimePoint first_direction_request);
  // A relayed tunnel's peer stayed silent for kRelaySilence after we sent it data: probe the
  // relay with a handshake and, unanswered, ask the DC for a path avoiding it.
  void relay_went_silent_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now);
  // Whether tick() finds the relay silent now (the same test in tick() and next_timer()).
  static bool relay_watched(const Peer& peer);
  void request_direction_locked(Peer& peer, TimePoint now, std::vector<EngineEvent>& events);
  void drop_session_locked(Peer& peer, std::shared_ptr<Session>& slot);
  uint64_t next_timestamp();

  EngineConfig config_;
  TunnelTable& table_;
  EngineStats stats_;
  std::atomic<uint64_t> last_timestamp_{0};
  std::atomic<uint8_t> punch_open_hop_limit_{0};
  std::atomic<uint32_t> next_mtu_round_{1};
  mutable std::mutex mac1_mutex_;
  OwnMac1 mac1_;  // guarded by mac1_mutex_
  CookieChecker cookies_;
  HandshakeLimiter limiter_;
};

const char* to_string(PathKind kind);

}  // namespace ntm::tunnel
