// The node's side of the control plane after login: registration with the DC over the node's
// own UDP socket (so the DC sees the NAT mapping peers can reach), keepalives, name resolution,
// and the DC's directions, which add the peer and start hole punching or the relay
// (docs/protocol.md sections 4 and 5). Thread-safe.
//
// Registration answers the DC's challenge (control/registration.h): a Register without a fresh
// challenge gets one, and the Register that carries it makes a registration with its own key.
// A challenge that arrives while registered means the DC lost us (it restarted): register again
// at once. Likewise a RelayChallenge from an RS for a relay we use means it lost the binding: bind
// again at once (with the RS's cookie, which also comes with every RelayBindAck).
//
// Revocation: a PeerRevoked from the DC removes that peer from the tunnel table (its tunnels go
// down; handshakes from it are refused, as from any node not in the table) and keeps it out
// (later directions to it are ignored); the application gets NTM_EVENT_PEER_REVOKED. Error 2
// (account disabled) about ourselves: every tunnel goes down, the node stops registering and
// logging in, and the application gets NTM_EVENT_REVOKED saying why.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/dc_channel.h"
#include "control/dc_messages.h"
#include "control/login.h"
#include "control/relay_messages.h"
#include "io/transport.h"
#include "node/node_config.h"
#include "tunnel/engine.h"
#include "tunnel/tunnel_table.h"

namespace ntm::node {

// Control-plane counters (ntm_stats version 2), written by the receiver and application threads.
struct ControlStats {
  std::atomic<uint64_t> logins{0}, registrations{0}, resolves_sent{0}, directions_received{0},
      dc_keepalives_sent{0}, dc_keepalives_missed{0};
  // Directions whose peer certificate was refused (control::check_directed_peer; not in the C
  // ABI).
  std::atomic<uint64_t> directions_refused{0};
};

struct Registration {
  std::array<uint8_t, 4> vip4{};
  std::array<uint8_t, 16> vip6{};
  Endpoint observed;
  std::vector<Endpoint> relays;  // the RSs the DC announced
};

class ControlClient {
 public:
  // `relogin` is called (from the receiver thread) when the DC says the session expired; it
  // returns a fresh grant or throws. `registered_again` is called (receiver thread, no lock
  // held) when the DC acknowledged a registration after the first one (after a network change,
  // a restarted DC, a new session).
  ControlClient(const ControlPlaneConfig& config, control::LoginGrant grant,
                tunnel::Engine& engine, tunnel::TunnelTable& table, io::Transport& transport,
                std::function<control::LoginGrant()> relogin,
                std::function<void()> registered_again = {},
                std::function<void()> relay_restored = {},
                std::function<void(NodeEvent)> post_event = {});

  // Registers with the DC, waiting up to `timeout`. Used before the receiver thread runs: it
  // reads the transport itself. Throws std::runtime_error naming the problem.
  Registration register_blocking(std::chrono::milliseconds timeout);

  // Is this datagram (by its first byte) a control-plane message for us?
  static bool is_control(std::span<const uint8_t> datagram);
  // Handles one control datagram (receiver thread). `sink` carries engine output.
  void on_datagram(std::span<const uint8_t> datagram, const Endpoint& from,
                   tunnel::EngineSink& sink, tunnel::TimePoint now);
  // Keepalives, retransmissions, relay-bind refresh (receiver thread, at next_timer()).
  void tick(tunnel::EngineSink& sink, tunnel::TimePoint now);
  // When tick() next has something to do: the next keepalive, a registration or resolution to
  // send again. Requests made from other threads wake the transport's receive().
  tunnel::TimePoint next_timer() const;

  struct Resolved {
    uint64_t node_id = 0;
    std::string fqdn;
    std::array<uint8_t, 4> vip4{};
    std::array<uint8_t, 16> vip6{};
  };
  // Asks the DC for a peer by name or virtual address; the DC directs both ends first. Blocks
  // until the peer is in the tunnel table or `timeout` passes. nullopt: unknown or offline.
  std::optional<Resolved> resolve_name(const std::string& fqdn, std::chrono::milliseconds timeout);
  std::optional<Resolved> resolve_address(const Endpoint& virtual_address,
                                          std::chrono::milliseconds timeout);

  // Asks the DC to direct a new path to a peer (mobility), without waiting for the answer. Sent
  // once: the caller (the engine's stale-path timer) repeats it with backoff. `failed_relay`:
  // the RS our relayed path to the peer went through until it stopped answering, which the
  // DC then avoids (invalid: none).
  void request_direction(const std::string& fqdn, const Endpoint& failed_relay = {});
  // Asks the DC who owns a virtual address (a socket's peer without a tunnel entry), without
  // waiting; the direction adds the peer. Sent once (the caller repeats it).
  void request_resolve(const Endpoint& virtual_address);
  // Our addresses changed: register again (trying every DC, as the family may have changed) and
  // rebind every relay assignment from the new address.
  void on_network_change();

  const control::LoginGrant& grant() const { return grant_; }
  const ControlStats& stats() const { return stats_; }
  // Counts a successful login (the node's first, before this client existed).
  void count_login() { stats_.logins.fetch_add(1, std::memory_order_relaxed); }
  const Registration& registration() const { return registration_; }
  // The DC endpoint we are registered with (or trying).
  Endpoint dc() const {
    std::lock_guard lock(mutex_);
    return dc_;
  }
  // The servers this node uses, for `ntm netcheck`: the AS, every DC endpoint from the login, and
  // the relays (announced at registration or assigned in a direction).
  struct Servers {
    Endpoint as;
    std::vector<Endpoint> dcs;
    std::vector<Endpoint> relays;
  };
  Servers servers() const;
  // True once the DC said our own account was disabled or deleted.
  bool revoked() const;

 private:
  struct PendingResolve {
    control::Resolve request;
    tunnel::TimePoint sent_at{};
    int attempts = 0;
    std::optional<control::ResolveReply> reply;
    bool detached = false;  // nobody waits: drop it when answered
  };
  struct RelayBinding {
    Endpoint server;
    uint32_t relay_id = 0;
    uint64_t peer_node_id = 0;  // one binding per peer: a newer direction replaces it
    uint64_t expires_unix = 0;
    control::RelayToken token{};
    tunnel::TimePoint last_sent{};
    bool acked = false;      // the RS acknowledged a bind of ours once
    bool restoring = false;  // re-sent on a RelayChallenge: the ack means the relay is back
  };

  std::optional<Resolved> resolve(control::Resolve request, std::chrono::milliseconds timeout);
  static control::Resolve resolve_by_address(const Endpoint& virtual_address);
  void send_detached_locked(control::Resolve request);
  void send_to_dc(control::MessageType type, const control::Bytes& plaintext);
  // Register (sealed with the session key) to `to` with the latest challenge; the registration
  // key it would make waits in pending_ for the RegisterAck.
  void send_register_locked(const Endpoint& to);
  // Opens a DC datagram with the key of one of the Registers sent since the last ack; a
  // RegisterAck makes that key the channel's. nullopt: none of them sealed it.
  std::optional<control::DcChannel::Opened> open_with_pending_locked(std::span<const uint8_t> datagram);
  void on_register_challenge(std::span<const uint8_t> datagram, const Endpoint& from);
  // Returns true when a binding became usable: its first ack, or the RS had lost it and has it
  // again (the caller resends pending handshakes through it and kicks TCP).
  bool on_relay_message(std::span<const uint8_t> datagram, const Endpoint& from,
                        tunnel::TimePoint now);
  void send_bind_locked(RelayBinding& binding, tunnel::TimePoint now);
  control::RelayCookie cookie_for(const Endpoint& server) const;
  void send_raw(const Endpoint& to, std::span<const uint8_t> bytes);
  std::vector<Endpoint> private_endpoints() const;
  void on_direction(const control::Direction& direction, tunnel::EngineSink& sink,
                    tunnel::TimePoint now);
  void on_error(const control::DcError& error);
  // Under mutex_: acknowledges, remembers the peer; returns it for removal outside the lock.
  void on_peer_revoked_locked(const control::PeerRevoked& notice);
  void relogin_locked();
  // A keepalive to the DC (counted as unanswered until its ack).
  void send_keepalive_locked(tunnel::TimePoint now);
  // Our DC stopped answering: register with the next one (tick() tries them in turn).
  void start_failover_locked(tunnel::TimePoint now);
  // The DC endpoint after dc_ in dcs_, wrapping around.
  Endpoint next_dc_locked() const;

  const ControlPlaneConfig config_;
  tunnel::Engine& engine_;
  tunnel::TunnelTable& table_;
  io::Transport& transport_;
  std::function<control::LoginGrant()> relogin_;
  std::function<void()> registered_again_;
  std::function<void()> relay_restored_;
  std::function<void(NodeEvent)> post_event_;
  ControlStats stats_;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  control::LoginGrant grant_;
  control::DcChannel session_channel_;  // seals Registers (session key)
  std::optional<control::DcChannel> channel_;  // the registration's key: everything else
  // The keys the Registers sent since the last RegisterAck would make, oldest first (at most
  // kMaxPendingRegisters). Not only the last one's: a round goes to every DC endpoint (each
  // Register has its own counter, hence its own key), and the DC answers whichever reached it.
  std::vector<control::DcChannel> pending_;
  control::Challenge challenge_{};             // the DC's latest challenge to us
  tunnel::TimePoint last_challenge_register_{};
  std::vector<Endpoint> dcs_;  // usable DC endpoints, in order
  Endpoint dc_;                // the one that answered the registration
  Registration registration_;
  bool registered_ = false;
  bool revoked_ = false;
  std::string revoked_reason_;
  std::set<uint64_t> revoked_peers_;  // node ids the DC revoked: never added again
  std::vector<control::PeerRevoked> to_tear_down_;  // filled under mutex_, handled after it
  bool needs_register_ = false;
  bool failing_over_ = false;  // registering with one DC after another, until one answers
  // A new login changed our mac1 key: once registered again, ask for a direction to every peer.
  bool announce_mac1_ = false;
  std::chrono::seconds keepalive_interval_{15};
  tunnel::TimePoint next_keepalive_{};
  tunnel::TimePoint keepalive_sent_at_{};
  // Keepalives sent since the DC last answered one: the first unanswered one is repeated after
  // kKeepaliveRetry, and when that is unanswered too the node fails over to the next DC (a DC
  // that restarted answers with a challenge instead, which is quicker).
  int keepalives_unanswered_ = 0;
  // When a detached Resolve (the engine asking for a path, a packet for an unknown address)
  // went to a DC that has sent nothing authenticated since; {}: none waiting. After
  // kResolveRetry the DC is checked with a keepalive (tick()), as for an unanswered Resolve.
  tunnel::TimePoint dc_needed_since_{};
  tunnel::TimePoint last_register_sent_{};
  uint32_t next_request_id_ = 1;
  // How long tick() waits for an answer before registering again (grows from 100 ms to 500 ms).
  std::chrono::milliseconds register_retry_{500};
  std::map<uint32_t, PendingResolve> resolves_;
  std::map<uint32_t, RelayBinding> relay_bindings_;  // by relay_id
  std::vector<std::pair<Endpoint, control::RelayCookie>> relay_cookies_;  // by RS endpoint
  uint64_t bind_sequence_ = 0;
};

}  // namespace ntm::node
