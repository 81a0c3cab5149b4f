// The node's side of the control plane after login: registration with the DC over the node's
// own UDP socket (so the DC sees the NAT mapping peers can reach), keepalives, name resolution,
// and the DC's directions, which add the peer and start hole punching or the relay
// (docs/protocol.md sections 4 and 5). Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
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
                std::function<void()> registered_again = {});

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
  // once: the caller (the engine's stale-path timer) repeats it with backoff.
  void request_direction(const std::string& fqdn);
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
  // The servers this node uses, for `ntm netcheck`: the AS, every DC endpoint from the login, and
  // the relays (announced at registration or assigned in a direction).
  struct Servers {
    Endpoint as;
    std::vector<Endpoint> dcs;
    std::vector<Endpoint> relays;
  };
  Servers servers() const;

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
    control::RelayBind bind;
  };

  std::optional<Resolved> resolve(control::Resolve request, std::chrono::milliseconds timeout);
  static control::Resolve resolve_by_address(const Endpoint& virtual_address);
  void send_detached_locked(control::Resolve request);
  void send_to_dc(control::MessageType type, const control::Bytes& plaintext,
                  std::span<const uint8_t> ticket = {});
  void send_raw(const Endpoint& to, std::span<const uint8_t> bytes);
  std::vector<Endpoint> private_endpoints() const;
  void on_direction(const control::Direction& direction, tunnel::EngineSink& sink,
                    tunnel::TimePoint now);
  void on_error(const control::DcError& error);
  void relogin_locked();

  const ControlPlaneConfig config_;
  tunnel::Engine& engine_;
  tunnel::TunnelTable& table_;
  io::Transport& transport_;
  std::function<control::LoginGrant()> relogin_;
  std::function<void()> registered_again_;
  ControlStats stats_;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable changed_;
  control::LoginGrant grant_;
  control::DcChannel channel_;
  std::vector<Endpoint> dcs_;  // usable DC endpoints, in order
  Endpoint dc_;                // the one that answered the registration
  Registration registration_;
  bool registered_ = false;
  bool needs_register_ = false;
  std::chrono::seconds keepalive_interval_{15};
  tunnel::TimePoint next_keepalive_{};
  // Keepalives sent since the DC last answered one. A DC that restarted has forgotten our
  // session and drops them silently: after a few, the node registers again with its ticket.
  int keepalives_unanswered_ = 0;
  tunnel::TimePoint last_register_sent_{};
  uint32_t next_request_id_ = 1;
  size_t register_attempt_ = 0;
  std::map<uint32_t, PendingResolve> resolves_;
  std::map<uint32_t, RelayBinding> relay_bindings_;  // by relay_id
};

}  // namespace ntm::node
