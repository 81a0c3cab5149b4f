// The Direction Coordinator (docs/protocol.md section 4), over UDP (io::UdpTransport):
//   Register     opens the ticket with the ticket key, authenticates the message with the
//                session key inside, checks the challenge (register_challenges.h: issued by this
//                instance, to this node at this address, within 30 s; otherwise it answers with
//                one), allocates the node's stable virtual addresses, records its private
//                endpoints and the observed source endpoint (NAT detection); the registration's
//                messages are then sealed with its own key (control/registration.h);
//   Keepalive    refreshes both; nodes silent for 3 keepalive intervals expire;
//   Resolve      finds the peer (by FQDN or virtual address), decides the path
//                (path_decision.h), assigns a relay (the live one with the lowest round-trip
//                time, relay_health.h; relay_id + token for the DC-RS key), sends
//                Direction to both ends (every 250 ms until DirectionAck, at most 8 times), then
//                ResolveReply to the resolver. Floods do not amplify (resolve_limits.h): one
//                direction per pair at a time, resolves coalesced onto a recent one, new
//                directions per requester and per target rate-limited.
// A disabled (or deleted) account's node is refused at Register, and revoked while registered:
// the DC checks every registered node's account (the AccountStore, the AS's SQLite database)
// every `account_recheck`; a revoked node gets Error 2 and is forgotten, and every registered
// node is told with PeerRevoked (retransmitted until acknowledged), so its peers tear its
// tunnels down within a few seconds of `ntm-server accounts disable`. In a fleet every DC reads
// the same account store: an account revoked since its previous sweep whose node another DC
// holds is told to this DC's nodes too (that DC drops the node itself).
//
// Access policy (access_policy.h, `policy_file`, re-read every second): a Resolve between nodes
// the policy keeps apart is answered with status denied and directs nobody; every Direction tells
// each end what it may open on the other; when the file changes, both ends of every registered
// pair whose access changed get a PeerAccess (retransmitted until acknowledged).
//
// A sealed message from a node the DC does not know (it restarted, or the registration expired)
// is answered with a challenge, so the node registers again at once; at start the DC also sends
// one to every node of its previous run (`known_nodes_file`, rewritten at most once a second).
//
// A fleet of DCs on one PostgreSQL database (`fleet_database`, dc_bus.h): every registration is
// written to the database with this DC's bus id; a Resolve for a peer registered at another DC
// is directed from here - the resolver's Direction sent directly, the peer's handed to its DC
// with NOTIFY, which sends it to its node and returns the DirectionAck the same way; a node
// that registers here after another DC had it is forgotten there (docs/protocol.md 4.4).
//
// A library object: start() binds and runs one thread (common/udp_service.h); stop() joins it.
// All node state lives in that thread (nothing is shared but counters).
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log_limiter.h"
#include "common/metrics.h"
#include "common/udp_service.h"
#include "control/dc_channel.h"
#include "control/dc_messages.h"
#include "dc/access_policy.h"
#include "dc/dc_bus.h"
#include "dc/path_decision.h"
#include "dc/register_challenges.h"
#include "dc/resolve_limits.h"
#include "dc/relay_health.h"
#include "io/udp_transport.h"
#include "store/account_store.h"
#include "store/address_store.h"

namespace ntm::servers {

// One relay server: its public endpoints (an IPv4 and/or an IPv6 one). A node is sent the one
// in the family it reaches the DC with, so one dual-stack RS joins IPv4-only and IPv6-only nodes.
struct RelayServerInfo {
  std::vector<Endpoint> endpoints;
};

struct DirectionCoordinatorConfig {
  // Local UDP addresses: at most one IPv4 and one IPv6 (port 0: any free port).
  std::vector<Endpoint> listen{Endpoint::v4({127, 0, 0, 1}, control::kDcPort)};
  control::Key32 ticket_key{};  // AS-DC
  control::Key32 relay_key{};   // DC-RS
  std::vector<RelayServerInfo> relays;
  uint16_t keepalive_s = 20;
  unsigned expiry_keepalives = 3;  // a node silent this many intervals is forgotten
  std::chrono::milliseconds direction_retransmit{250};
  unsigned direction_max_sends = 8;
  unsigned max_pending_directions_per_node = 32;
  std::chrono::seconds relay_token_lifetime{24 * 3600};
  std::chrono::milliseconds account_recheck{2000};
  // Where the registered nodes (node_id and address, no keys) are kept so that a restarted DC
  // can ask them to register again at once; empty: not kept.
  std::filesystem::path known_nodes_file;
  // Challenges sent to nodes the DC does not know (unauthenticated), at most this many a second.
  unsigned unknown_challenges_per_second = 1000;
  // The access policy (access_policy.h); empty or an absent file: every node may reach every
  // port of every other. Read at construction (a malformed file throws PolicyError) and again
  // every second; a malformed change is logged and the previous policy kept.
  std::filesystem::path policy_file;
  ResolveLimitsConfig resolve_limits;
  // A PostgreSQL URL shared by a fleet of DCs (dc_bus.h); empty: this DC resolves only the
  // nodes registered with it.
  std::string fleet_database;
  std::function<uint64_t()> now_unix;  // default: the system clock
};

class DirectionCoordinator {
 public:
  // `accounts` may be null (then no account checks: a test or a deployment without them).
  DirectionCoordinator(DirectionCoordinatorConfig config, AddressStore& addresses,
                       AccountStore* accounts);
  ~DirectionCoordinator();
  DirectionCoordinator(const DirectionCoordinator&) = delete;
  DirectionCoordinator& operator=(const DirectionCoordinator&) = delete;

  // Binds and starts the thread. Throws std::system_error naming the address.
  void start();
  void stop();  // idempotent

  std::vector<Endpoint> local_endpoints() const { return service_.local_endpoints(); }
  size_t registered_nodes() const { return registered_.load(); }
  // Counters for tests and logs.
  uint64_t dropped_datagrams() const { return dropped_.load(); }
  const ReasonCounters<DcDrop>& drops() const { return drops_; }
  uint64_t registrations() const { return registrations_.load(); }  // Registers accepted
  uint64_t directions() const { return directions_sent_.load(); }   // tunnels directed
  uint64_t challenges() const { return challenges_sent_.load(); }   // RegisterChallenges sent
  uint64_t revocations() const { return revocations_.load(); }     // registered nodes revoked
  // Revocations our nodes were told of (PeerRevoked to all): ours, and those of nodes another
  // DC of the fleet held (or none did), seen in the shared account store.
  uint64_t revocations_told() const { return peers_told_revoked_.load(); }
  uint64_t policy_loads() const { return policy_loads_.load(); }   // policy files applied
  // Resolves answered from a running or recent direction of the same pair (no new direction).
  uint64_t resolves_coalesced() const { return resolves_coalesced_.load(); }
  // Directions whose peer is registered at another DC of the fleet.
  uint64_t fleet_directions() const { return fleet_directions_.load(); }
  // What the DC measured of each relay (config.relays order).
  const RelayHealth& relay_health() const { return relay_health_; }

 private:
  using Clock = UdpService::Clock;

  struct NodeState {
    uint64_t node_id = 0;
    std::string fqdn;
    control::Key32 static_public{};
    control::Bytes certificate;
    control::Key32 mac1_key{};  // the node's secret mac1 key (registration.h): given to its peers
    uint64_t ticket_expires = 0;
    // Opens Registers (session key from the ticket); never seals.
    std::optional<control::DcChannel> register_channel;
    uint64_t register_counter = 0;  // of the Register that made the current registration
    std::optional<control::DcChannel> channel;  // the registration key: everything else
    // The key of the registration this one replaced, still accepted until previous_until: what
    // the node sealed before our RegisterAck reached it (a Resolve right after its Register)
    // is not a stranger's, and challenging it would make the node register once more.
    std::optional<control::DcChannel> previous_channel;
    std::chrono::steady_clock::time_point previous_until{};
    std::vector<Endpoint> private_endpoints;
    Endpoint observed;
    VirtualAddresses addresses;
    Clock::time_point last_seen;
    Clock::time_point account_checked;
    unsigned pending_directions = 0;
    std::string remote_dc;  // a peer held by another DC of the fleet (bus id); empty: ours
    std::string published;  // the endpoints last written to the fleet's table
  };

  struct PendingDirection {
    uint32_t id = 0;
    uint64_t resolver = 0;
    uint64_t peer = 0;
    uint32_t request_id = 0;
    control::Bytes to_resolver;  // Direction plaintexts
    control::Bytes to_peer;
    bool resolver_acked = false;
    bool peer_acked = false;
    uint64_t ends = 0;  // both ends' addresses when it was made (resolve_limits.h)
    std::optional<size_t> relay_index;  // the RS it assigned (config.relays)
    // Further Resolves of the same pair (from either end) answered when this one finishes:
    // (node_id, request_id).
    std::vector<std::pair<uint64_t, uint32_t>> waiters;
    unsigned sends = 0;
    Clock::time_point next_send;
    // The peer is held by another DC (its bus id): the peer's Direction goes there, and what
    // the ResolveReply says of the peer is kept here.
    std::string peer_dc;
    std::string peer_fqdn;
    VirtualAddresses peer_addresses;
  };

  void on_batch(std::span<const io::ReceiveSlot> received, Clock::time_point now);
  void handle(std::span<const uint8_t> datagram, const Endpoint& from, Clock::time_point now);
  void on_register(std::span<const uint8_t> datagram, const control::DcEnvelopeView& env,
                   const Endpoint& from, Clock::time_point now);
  void on_keepalive(NodeState& node, const control::Bytes& plain, Clock::time_point now);
  void on_resolve(NodeState& node, const control::Bytes& plain, Clock::time_point now);
  void on_direction_ack(NodeState& node, const control::Bytes& plain);
  void run_direction_timers(Clock::time_point now);  // every batch: retransmits are 250 ms apart
  void check_accounts(Clock::time_point now);        // from the sweep
  // Error 2 to the node, PeerRevoked to every other registered node, then forget it.
  void revoke(uint64_t node_id, const std::string& why, Clock::time_point now);
  // PeerRevoked about `node_id` to every registered node (retransmitted until acknowledged).
  void tell_revoked(uint64_t node_id, const std::string& why, Clock::time_point now);
  // A PeerRevoked or PeerAccess acknowledged: stop repeating it.
  void on_notice_ack(NodeState& node, uint32_t notice_id);
  // A notice to `to`, repeated (as Direction) until acknowledged.
  void send_notice(NodeState& to, control::MessageType type, uint32_t notice_id,
                   control::Bytes plain, Clock::time_point now);
  uint32_t new_notice_id();
  // Reads the policy file again; when it changed, tells both ends of every registered pair whose
  // access changed (from the sweep, once a second).
  void reload_policy(Clock::time_point now);
  tunnel::PeerAccess access_between(const NodeState& self, const NodeState& peer) const;
  // Both ends' addresses, as a number: a pair is directed again when it changed.
  static uint64_t ends_fingerprint(const NodeState& a, const NodeState& b);
  void expire_nodes(Clock::time_point now);          // once a second
  void send_pending(PendingDirection& p, Clock::time_point now);
  void finish_direction(PendingDirection& p, Clock::time_point now);
  void reply_resolve(NodeState& node, uint32_t request_id, control::ResolveStatus status,
                     const NodeState* peer);
  void send(NodeState& node, control::MessageType type, const control::Bytes& plain);
  void send_error(NodeState& node, control::DcErrorCode code, const std::string& message);
  // A RegisterChallenge to `to` (in the clear). `unsolicited`: for a message the DC could not
  // authenticate, so counted against unknown_challenges_per_second.
  void send_challenge(uint64_t node_id, const Endpoint& to, Clock::time_point now,
                      bool unsolicited);
  void forget(uint64_t node_id);
  void announce_restart(Clock::time_point now);  // once, from the loop thread
  void save_known_nodes();                       // when changed, from the sweep
  // Why the node's account is refused, or nullopt when it may use the DC.
  std::optional<std::string> account_refusal(uint64_t node_id);
  NodeState* find_peer(const control::Resolve& r);
  // The peer from the fleet's table when another DC holds it.
  std::optional<NodeState> find_fleet_peer(const control::Resolve& r);
  // Writes the node's registration to the fleet's table when its endpoints changed (or `force`).
  void publish(NodeState& node, bool force);
  void poll_fleet(Clock::time_point now);  // every batch: messages from the other DCs
  void on_fleet_message(const FleetMessage& m, Clock::time_point now);
  // `scratch` filled with what a ResolveReply says of the direction's end `id`, when it is the
  // remote peer; else the registered node, or nullptr.
  const NodeState* end_of(const PendingDirection& p, uint64_t id, NodeState& scratch);
  bool name_known(const std::string& fqdn);
  uint64_t now_unix() const;

  DirectionCoordinatorConfig config_;
  AddressStore& addresses_;
  AccountStore* accounts_;
  std::atomic<size_t> registered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> registrations_{0}, directions_sent_{0}, challenges_sent_{0},
      revocations_{0}, policy_loads_{0}, resolves_coalesced_{0}, peers_told_revoked_{0};
  ReasonCounters<DcDrop> drops_;
  void drop(DcDrop why) {
    ++dropped_;
    drops_.add(why);
  }

  // Loop-thread state.
  std::unordered_map<uint64_t, NodeState> nodes_;
  std::unordered_map<std::string, uint64_t> by_fqdn_;
  std::unordered_map<uint32_t, PendingDirection> directions_;
  RegisterChallenges challenges_;
  LogLimiter old_node_log_{5, std::chrono::seconds(10)};  // Registers from nodes before 0.4
  ResolveLimits limits_;
  struct PendingNotice {  // a PeerRevoked or PeerAccess until its ack
    uint64_t to = 0;
    control::MessageType type = control::MessageType::peer_revoked;
    control::Bytes plain;
    unsigned sends = 0;
    Clock::time_point next_send;
  };
  std::unordered_map<uint32_t, PendingNotice> notices_;
  Clock::time_point accounts_checked_{};
  // The account roll of the previous sweep: an account disabled or deleted since then whose
  // node is not ours was revoked through another DC (or none held it): our nodes are told.
  std::optional<AccountStore::Roll> last_roll_;
  AccessPolicy policy_;
  std::string policy_text_;  // the file as last read ("" when absent)
  // Forgotten registrations, kept while their challenge could still be valid: a Register replayed
  // after the node expired is checked against the counter of the one that was accepted.
  struct Forgotten {
    control::DcChannel register_channel;
    uint64_t register_counter;
    Clock::time_point when;
  };
  std::unordered_map<uint64_t, Forgotten> forgotten_;
  uint64_t next_counter_base_ = 0;  // each registration channel sends from its own range
  bool announced_ = false;
  bool known_nodes_dirty_ = false;
  Clock::time_point challenge_second_{};
  unsigned challenges_this_second_ = 0;
  // The fleet (dc_bus.h), or null. Directions of another DC's resolves that we passed to our
  // node, until its DirectionAck: direction id -> (that DC, node id, when).
  std::unique_ptr<DcBus> bus_;
  struct FleetDirection {
    std::string origin;
    uint64_t node_id = 0;
    Clock::time_point when;
  };
  std::unordered_map<uint32_t, FleetDirection> fleet_directions_in_;
  Clock::time_point fleet_polled_{};
  std::atomic<uint64_t> fleet_directions_{0};
  // Probes the relays; the loop thread asks it which one to assign (relay_health.h).
  RelayHealth relay_health_;
  // Last: destroyed first, so the thread is joined before the state it uses goes away.
  UdpService service_;
};

}  // namespace ntm::servers
