// A running NTM node: the virtual interface (lwIP), the tunnel engine and table, the UDP
// transport, and the threads that move packets between them. One per process (lwIP is a
// process-wide singleton); it may be stopped and another started.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "io/udp_transport.h"
#include "mobility/address_watcher.h"
#include "node/control_client.h"
#include "node/control_server.h"
#include "node/netcheck.h"
#include "node/pinger.h"
#include "node/event_queue.h"
#include "node/node_config.h"
#include "node/peer_holds.h"
#include "node/tx_worker.h"
#include "stack/virtual_interface.h"
#include "tunnel/engine.h"
#include "tunnel/tunnel_table.h"

namespace ntm::node {

// Why a node could not start; `invalid` means the configuration, `io` the operating system.
class StartError : public std::runtime_error {
 public:
  enum class Kind { invalid, io, unsupported, auth, unreachable };
  StartError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct NodeInfo {
  uint64_t node_id = 0;
  std::string name;
  crypto::X25519Key public_key{};
  std::optional<std::array<uint8_t, 4>> vip4;
  std::optional<std::array<uint8_t, 16>> vip6;
  std::vector<Endpoint> endpoints;
  uint16_t mtu = 0;
};

struct TunnelInfo {
  std::string peer_name;
  uint64_t peer_node_id = 0;
  std::optional<std::array<uint8_t, 4>> vip4;
  std::optional<std::array<uint8_t, 16>> vip6;
  int state = 0;  // 0 idle, 1 handshake, 2 up
  tunnel::PathKind path = tunnel::PathKind::none;
  Endpoint endpoint;
  uint32_t local_path_id = 0;
  uint64_t bytes_sent = 0, bytes_received = 0, packets_sent = 0, packets_received = 0;
  int64_t last_activity_ms = -1;
  int64_t session_age_ms = -1;
  int64_t rtt_us = -1;
  uint32_t path_mtu = 0;
};

// ntm_stats in C++ terms: a snapshot of the engine's, the control plane's and the node's
// counters and gauges.
struct NodeStats {
  uint64_t packets_sent = 0, packets_received = 0, bytes_sent = 0, bytes_received = 0;
  uint64_t dropped_malformed = 0, dropped_unknown_path = 0, dropped_auth = 0, dropped_replay = 0,
           dropped_no_tunnel = 0, dropped_spoofed = 0, dropped_policy = 0, dropped_limit = 0;
  uint64_t handshakes_completed = 0, handshakes_failed = 0, handshakes_initiated = 0;
  uint64_t logins = 0, registrations = 0, network_changes = 0, resolves_sent = 0,
           directions_received = 0, dc_keepalives_sent = 0, dc_keepalives_missed = 0;
  uint64_t relay_fallbacks = 0, direct_upgrades = 0;
  uint64_t tcp_connections = 0, memory_used = 0;  // gauges
  // Times the receiver thread came back from waiting (datagrams, timers, wake-ups); not in the
  // C ABI: tests check with it that an idle node sleeps.
  uint64_t receiver_wakeups = 0;
};

// The answer to Node::ping(): the round trip through the tunnel, or why there is none.
struct PingResult {
  std::string peer_name;
  std::string address;     // the virtual address pinged
  std::string error;       // no peer, no route, ...; empty otherwise
  bool timed_out = false;  // sent, but no answer within the timeout
  int64_t rtt_us = -1;
  tunnel::PathKind path = tunnel::PathKind::none;
  Endpoint endpoint;       // the peer's real endpoint when the answer came
};

struct Resolved {
  std::optional<std::array<uint8_t, 4>> vip4;
  std::optional<std::array<uint8_t, 16>> vip6;
};

class Node final : private tunnel::EngineSink, private stack::PacketOutput {
 public:
  // Binds the UDP sockets, adds the virtual interface and the peers. Throws StartError.
  static std::unique_ptr<Node> start(NodeConfig config);
  ~Node() override;  // stops
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  NodeInfo info() const;
  std::vector<TunnelInfo> tunnels() const;
  NodeStats stats() const;
  std::optional<Resolved> resolve(std::string_view name) const;
  bool on_event_thread() const { return events_->on_delivery_thread(); }
  // Control-plane mode: makes sure a peer owns this virtual address, asking the DC if needed
  // (so connecting to a registered peer's virtual address works without a name). Blocks.
  bool ensure_peer_for(const Endpoint& virtual_address);
  // The application (or the address watcher) says the host's network changed: tunnels send
  // path updates from the new address, the DC is told, TCP retransmits at once.
  void notify_network_change();
  // True while a connection the application already closed still has data or its FIN in
  // flight (lwIP keeps sending after close); stop waits for these, boundedly.
  bool has_closing_connections() const;
  // Local control API (ntm status / ntm ping).
  // Pings a peer (name or virtual address) through its tunnel; blocks up to `timeout` (plus a
  // DC resolution for an unknown name).
  PingResult ping(std::string_view target, std::chrono::milliseconds timeout);
  std::vector<RecentEvent> recent_events() const { return events_->recent(); }
  bool control_plane() const { return control_ != nullptr; }
  // The servers `ntm netcheck` probes; empty in static-peer mode.
  NetcheckTargets netcheck_targets() const;
  int64_t uptime_ms() const;

 private:
  explicit Node(NodeConfig config);
  bool is_own_address(const Endpoint& address) const;
  void run_receiver();
  // The receiver's timers: when they are next due, and running them.
  tunnel::TimePoint next_timer(tunnel::TimePoint now) const;
  void run_timers(tunnel::TimePoint now);
  // Another thread armed a timer (or asked for kick_tcp): the receiver works its sleep out again.
  void wake_receiver();
  void handle_network_change(tunnel::TimePoint now);
  void kick_tcp();
  void dispatch(std::span<uint8_t> datagram, const Endpoint& from, tunnel::TimePoint now);
  control::LoginGrant log_in();
  void register_with_dc(control::LoginGrant grant);
  // Control-plane start-up: login and registration retry until then (start_timeout).
  std::chrono::steady_clock::time_point start_deadline_{};
  void post_engine_event(const tunnel::EngineEvent& event);
  void send_held_packets(tunnel::TimePoint now);
  // Behind a NAT, hole punching opens the NAT's mapping with a short-lived packet first.
  void update_punch_hop_limit();
  // Holds IPv6 sends while every IPv6 address of the host is tentative (io::UdpTransport::hold_ipv6).
  void hold_ipv6_while_tentative();
  // The virtual interface's MTU follows the smallest measured tunnel path MTU (receiver thread).
  void follow_path_mtu();
  bool routes_to_tunnel(const Endpoint& virtual_address) const;

  // EngineSink
  std::span<uint8_t> datagram_buffer(size_t size) override;
  void send(const Endpoint& to, size_t offset, size_t length) override;
  bool send_unsealed(const Endpoint& to, size_t offset, size_t length,
                     tunnel::UnsealedCapsule& capsule) override;
  void send_hop_limited(const Endpoint& to, size_t offset, size_t length,
                        uint8_t hop_limit) override;
  void deliver(std::span<const uint8_t> inner) override;
  void event(const tunnel::EngineEvent& event) override;
  void timers_changed() override;
  // PacketOutput
  err_t output_packet(struct pbuf* packet) override;

  static struct netif* route_ip4(const ip4_addr_t* dest);
  static struct netif* route_ip6(const ip6_addr_t* dest);
  static void flush_on_core_unlock();

  NodeConfig config_;
  uint64_t limit_drops_at_start_ = 0;  // the virtual stack's count is process-wide
  uint64_t node_id_ = 0;
  std::unique_ptr<EventQueue> events_;
  tunnel::TunnelTable table_;
  std::unique_ptr<tunnel::Engine> engine_;
  std::unique_ptr<io::UdpTransport> transport_;
  // Seals and sends what lwIP's output gathered, on its own core (null: NTM_TX_WORKER=0).
  std::unique_ptr<TxWorker> tx_worker_;
  // Receiver thread only: inner packets of the batch being handled, opened outside lwIP's lock
  // and delivered under it in one go.
  std::vector<std::span<const uint8_t>> rx_inner_;
  std::unique_ptr<ControlClient> control_;  // control-plane mode only
  std::unique_ptr<stack::VirtualInterface> interface_;
  std::atomic<bool> running_{false};
  std::atomic<bool> network_changed_{false};
  std::atomic<bool> kick_tcp_{false};
  std::atomic<uint64_t> network_changes_{0};  // a path came (back): retransmit without waiting for RTO
  // Open sockets hold their peers' entries; packets to an address without an entry wait here
  // (control-plane mode) while the DC resolves it.
  SocketHolds socket_holds_;
  HeldPackets held_;
  std::unique_ptr<mobility::AddressWatcher> watcher_;
  uint16_t interface_mtu_ = 0;  // receiver thread: the MTU follow_path_mtu() last set
  std::thread receiver_;
  std::atomic<std::thread::id> receiver_thread_{};
  std::atomic<uint64_t> receiver_wakeups_{0};
  // Receiver thread only: the socket holds' next refresh, lwIP's slow timers (after fragments).
  tunnel::TimePoint next_hold_refresh_{};
  tunnel::TimePoint next_slow_timers_ = tunnel::TimePoint::max();
  tunnel::TimePoint slow_timers_until_{};
  Pinger pinger_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::unique_ptr<ControlServer> control_server_;  // last: stops first
};

}  // namespace ntm::node
