#include "dc/direction_coordinator.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>

#include "control/certificate.h"
#include "control/registration.h"
#include "control/relay_messages.h"
#include "control/ticket.h"
#include "crypto/encoding.h"
#include "crypto/random.h"
#include "util/log.h"

namespace ntm::servers {

namespace {

using control::Bytes;
using control::DcErrorCode;
using control::MessageType;
using control::ResolveStatus;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The RS endpoint a node should use: the one in the family it reaches the DC with.
Endpoint relay_endpoint_for(const RelayServerInfo& rs, const Endpoint& observed) {
  for (const auto& e : rs.endpoints)
    if (e.family == observed.family) return e;
  return rs.endpoints.empty() ? Endpoint{} : rs.endpoints.front();
}

// At most this many further Resolves wait on one running direction.
constexpr size_t kMaxWaiters = 16;
// How long a node's previous registration key still opens its messages (NodeState::
// previous_channel): longer than a RegisterAck's round trip and the node's first retries.
constexpr auto kPreviousChannelGrace = std::chrono::seconds(2);

std::vector<std::vector<Endpoint>> relay_endpoints(const std::vector<RelayServerInfo>& relays) {
  std::vector<std::vector<Endpoint>> out;
  for (const auto& rs : relays) out.push_back(rs.endpoints);
  return out;
}

}  // namespace

DirectionCoordinator::DirectionCoordinator(DirectionCoordinatorConfig config,
                                           AddressStore& addresses, AccountStore* accounts)
    : config_(std::move(config)),
      addresses_(addresses),
      accounts_(accounts),
      limits_(config_.resolve_limits),
      relay_health_(relay_endpoints(config_.relays)),
      service_(
          UdpServiceOptions{.name = "DC",
                            .listen = config_.listen,
                            .socket_buffer_bytes = size_t{4} << 20,
                            .batch = 32},
          [this](std::span<const io::ReceiveSlot> received, Clock::time_point now) {
            on_batch(received, now);
          },
          [this](Clock::time_point now) {
            try {
              expire_nodes(now);
            } catch (const std::exception& e) {
              NTM_LOG_ERROR("DC: timer error: %s", e.what());
            }
          }) {
  if (!config_.fleet_database.empty()) {
    bus_ = make_postgresql_bus(config_.fleet_database);
    if (!bus_) throw std::runtime_error("a fleet of DCs needs the PostgreSQL backend");
    NTM_LOG_INFO("DC: in a fleet on its database, as %s", bus_->id().c_str());
  }
  if (config_.keepalive_s == 0) config_.keepalive_s = 1;
  if (config_.direction_max_sends == 0) config_.direction_max_sends = 1;
  if (!config_.policy_file.empty()) {
    std::ifstream in(config_.policy_file);
    if (in) {
      policy_text_.assign(std::istreambuf_iterator<char>(in), {});
      policy_ = AccessPolicy::parse(policy_text_, config_.policy_file.string());
      ++policy_loads_;
      if (policy_.restricts())
        NTM_LOG_INFO("DC: access policy %s: %zu rule(s)", config_.policy_file.c_str(),
                     policy_.rules());
    }
  }
}

DirectionCoordinator::~DirectionCoordinator() { stop(); }

uint64_t DirectionCoordinator::now_unix() const {
  return config_.now_unix ? config_.now_unix() : static_cast<uint64_t>(std::time(nullptr));
}

void DirectionCoordinator::start() {
  relay_health_.start();
  service_.start();
}

void DirectionCoordinator::stop() {
  if (!service_.running()) return;
  service_.stop();
  relay_health_.stop();
  save_known_nodes();  // a clean stop keeps the list for the next start too
  nodes_.clear();
  by_fqdn_.clear();
  directions_.clear();
  notices_.clear();
  forgotten_.clear();
  registered_ = 0;
}

void DirectionCoordinator::on_batch(std::span<const io::ReceiveSlot> received,
                                    Clock::time_point now) {
  if (!announced_) announce_restart(now);
  for (const io::ReceiveSlot& slot : received) {
    try {
      handle(std::span<const uint8_t>(slot.buffer.data(), slot.length), slot.from, now);
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("DC: error handling a datagram from %s: %s", slot.from.to_string().c_str(),
                    e.what());
    }
  }
  try {
    poll_fleet(now);
    run_direction_timers(now);
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("DC: timer error: %s", e.what());
  }
}

void DirectionCoordinator::handle(std::span<const uint8_t> datagram, const Endpoint& from,
                                  Clock::time_point now) {
  auto env = control::decode_dc_envelope(datagram);
  if (!env) {
    drop(DcDrop::malformed);
    return;
  }
  if (env->type == MessageType::register_node) {
    on_register(datagram, *env, from, now);
    return;
  }
  auto it = nodes_.find(env->node_id);
  if (it == nodes_.end()) {
    // Unknown node (expired, or the DC restarted): we hold no key to answer with, but a
    // challenge needs none: the node registers again at once.
    drop(DcDrop::unknown_node);
    send_challenge(env->node_id, from, now, /*unsolicited=*/true);
    return;
  }
  NodeState& node = it->second;
  auto opened = node.channel->open(datagram);
  if (!opened && node.previous_channel && now < node.previous_until)
    opened = node.previous_channel->open(datagram);
  if (!opened) {
    // Forged, replayed, or sealed with a registration key we replaced (the node missed our
    // RegisterAck): a challenge lets the real node register again; it is worthless to others.
    drop(DcDrop::bad_auth);
    send_challenge(env->node_id, from, now, /*unsolicited=*/true);
    return;
  }
  if (!(node.observed == from)) known_nodes_dirty_ = true;
  node.observed = from;  // the newest authenticated source (the node may have moved)
  node.last_seen = now;
  switch (opened->type) {
    case MessageType::keepalive:
      on_keepalive(node, opened->plaintext, now);
      break;
    case MessageType::resolve:
      on_resolve(node, opened->plaintext, now);
      break;
    case MessageType::direction_ack:
      on_direction_ack(node, opened->plaintext);
      break;
    case MessageType::peer_revoked_ack:
      if (auto ack = control::decode_peer_revoked_ack(opened->plaintext))
        on_notice_ack(node, ack.value().notice_id);
      break;
    case MessageType::peer_access_ack:
      if (auto ack = control::decode_peer_access_ack(opened->plaintext))
        on_notice_ack(node, ack.value().notice_id);
      break;
    default:
      drop(DcDrop::unexpected);
      break;
  }
}

void DirectionCoordinator::on_register(std::span<const uint8_t> datagram,
                                       const control::DcEnvelopeView& env, const Endpoint& from,
                                       Clock::time_point now) {
  auto ticket = control::open_ticket(config_.ticket_key, env.ticket);
  if (!ticket || ticket->node_id != env.node_id) {
    drop(DcDrop::bad_ticket);
    return;
  }
  auto it = nodes_.find(env.node_id);
  const bool known = it != nodes_.end();
  // The channel that opens this node's Registers: the registration's own (same login), a
  // forgotten one's (the node expired a moment ago), or a new one (new login, or new to us).
  control::DcChannel* opener = nullptr;
  uint64_t last_counter = 0;
  std::optional<control::DcChannel> fresh;
  auto gone = forgotten_.find(env.node_id);
  if (known && it->second.register_channel->has_key(ticket->session_key)) {
    opener = &*it->second.register_channel;
    last_counter = it->second.register_counter;
  } else if (!known && gone != forgotten_.end() &&
             gone->second.register_channel.has_key(ticket->session_key)) {
    opener = &gone->second.register_channel;
    last_counter = gone->second.register_counter;
  } else {
    if (known && ticket->expires_unix < it->second.ticket_expires) {
      drop(DcDrop::replayed_ticket);  // an older ticket than the one in use: a replay
      return;
    }
    fresh.emplace(control::DcRole::dc, env.node_id, ticket->session_key);
    opener = &*fresh;
  }
  auto opened = opener->open(datagram);
  if (!opened) {
    drop(DcDrop::bad_auth);
    return;
  }
  auto body = control::decode_register(opened->plaintext);
  if (!body) {
    drop(DcDrop::malformed);
    return;
  }
  if (!challenges_.valid(body->challenge, env.node_id, from, now)) {
    // First contact, or a Register captured earlier and replayed (from elsewhere, after a
    // restart or too late): only the holder of the session key can use the challenge.
    drop(DcDrop::no_challenge);
    send_challenge(env.node_id, from, now, /*unsolicited=*/false);
    return;
  }
  if (!fresh && env.counter <= last_counter) {
    drop(DcDrop::replayed_register);  // older than the registration in place
    return;
  }

  // From here on everything is sealed with this registration's key.
  control::DcChannel channel(control::DcRole::dc, env.node_id,
                             control::registration_key(ticket->session_key, body->challenge,
                                                       env.counter),
                             next_counter_base_);
  next_counter_base_ += uint64_t{1} << 32;
  auto refuse = [&](DcErrorCode code, const std::string& message) {
    const Bytes d = channel.seal(MessageType::error, control::encode(control::DcError{code, message}));
    const io::OutgoingDatagram out{from, d};
    service_.send_batch(std::span<const io::OutgoingDatagram>(&out, 1));
  };
  if (body->version < control::kNodeProtocolVersion) {
    // A node before 0.4 would take its peers' mac1 keys from their public keys, which this DC's
    // nodes refuse: it could reach nobody. Say so, to it and in our log.
    NTM_LOG_LIMITED(old_node_log_, log::Level::warn,
                    "DC: refused node %s: it speaks node protocol %u, this DC needs %u (upgrade "
                    "libntm to 0.4 or later)",
                    ticket->fqdn.c_str(), unsigned{body->version},
                    unsigned{control::kNodeProtocolVersion});
    refuse(DcErrorCode::bad_request,
           "this DC needs node protocol " + std::to_string(control::kNodeProtocolVersion) +
               " (libntm 0.4 or later); this node speaks " + std::to_string(body->version) +
               ": upgrade it");
    return;
  }
  if (now_unix() >= ticket->expires_unix) {
    refuse(DcErrorCode::session_expired, "session expired: log in again");
    if (known) forget(env.node_id);
    return;
  }
  if (auto why = account_refusal(env.node_id)) {
    NTM_LOG_INFO("DC: refused node %s: %s", ticket->fqdn.c_str(), why->c_str());
    refuse(DcErrorCode::account_disabled, *why);
    if (known) forget(env.node_id);
    return;
  }
  // The node's virtual addresses are the ones the AS certified (and allocated in the store at
  // login): its peers check them against the certificate.
  auto cert = control::decode_certificate(ticket->certificate);
  if (!cert || cert->version < control::kCertificateVersion) {
    refuse(DcErrorCode::session_expired,
           "the ticket's certificate (from an AS before 0.4) certifies no virtual addresses: log "
           "in again");
    return;
  }
  const VirtualAddresses addrs{cert->virtual_ipv4, cert->virtual_ipv6};

  NodeState tmp;
  NodeState& node = known ? it->second : tmp;
  if (fresh) {
    node.register_channel = std::move(fresh);
  } else if (!known) {
    node.register_channel = std::move(gone->second.register_channel);
  }
  if (gone != forgotten_.end()) forgotten_.erase(gone);
  node.register_counter = env.counter;
  if (known && node.channel) {
    node.previous_channel = std::move(node.channel);
    node.previous_until = now + kPreviousChannelGrace;
  }
  node.channel = std::move(channel);
  node.node_id = env.node_id;
  if (!(node.observed == from)) known_nodes_dirty_ = true;
  node.observed = from;
  node.last_seen = now;

  const std::string fqdn = lower(ticket->fqdn);
  if (known && node.fqdn != fqdn) by_fqdn_.erase(node.fqdn);
  node.fqdn = fqdn;
  node.static_public = ticket->static_public;
  node.certificate = std::move(ticket->certificate);
  node.mac1_key = control::node_mac1_key(ticket->session_key, env.node_id);
  node.ticket_expires = ticket->expires_unix;
  node.private_endpoints = std::move(body->private_endpoints);
  node.addresses = addrs;
  node.account_checked = now;
  NodeState* stored = &node;
  ++registrations_;
  if (!known) {
    auto [ins, _] = nodes_.emplace(env.node_id, std::move(tmp));
    stored = &ins->second;
    registered_ = nodes_.size();
    known_nodes_dirty_ = true;
    NTM_LOG_INFO("DC: registered %s from %s%s", fqdn.c_str(), from.to_string().c_str(),
                 behind_nat({stored->private_endpoints, from}) ? " (behind NAT)" : "");
  }
  // A name belongs to one node_id (one account); the newest registration wins.
  if (auto old = by_fqdn_.find(fqdn); old != by_fqdn_.end() && old->second != env.node_id)
    forget(old->second);
  by_fqdn_[fqdn] = env.node_id;
  publish(*stored, /*force=*/true);

  control::RegisterAck ack;
  ack.virtual_ipv4 = addrs.v4;
  ack.virtual_ipv6 = addrs.v6;
  ack.observed = from;
  ack.keepalive_s = config_.keepalive_s;
  for (const auto& rs : config_.relays)
    for (const auto& e : rs.endpoints)
      if (ack.relays.size() < control::kMaxListSize) ack.relays.push_back(e);
  send(*stored, MessageType::register_ack, control::encode(ack));
}

void DirectionCoordinator::send_challenge(uint64_t node_id, const Endpoint& to,
                                          Clock::time_point now, bool unsolicited) {
  if (unsolicited) {
    if (now - challenge_second_ >= std::chrono::seconds(1)) {
      challenge_second_ = now;
      challenges_this_second_ = 0;
    }
    if (challenges_this_second_ >= config_.unknown_challenges_per_second) return;
    ++challenges_this_second_;
  }
  const Bytes d = control::encode(
      control::RegisterChallenge{node_id, challenges_.issue(node_id, to, now)});
  const io::OutgoingDatagram out{to, d};
  service_.send_batch(std::span<const io::OutgoingDatagram>(&out, 1));
  ++challenges_sent_;
}

void DirectionCoordinator::announce_restart(Clock::time_point now) {
  announced_ = true;
  if (config_.known_nodes_file.empty()) return;
  std::ifstream in(config_.known_nodes_file);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint64_t node_id = 0;
    std::string address;
    if (!(fields >> node_id >> address)) continue;
    if (auto e = Endpoint::parse(address)) {
      send_challenge(node_id, *e, now, /*unsolicited=*/false);
      ++n;
    }
  }
  if (n > 0) NTM_LOG_INFO("DC: asked %zu node(s) of the previous run to register again", n);
}

void DirectionCoordinator::save_known_nodes() {
  if (!known_nodes_dirty_ || config_.known_nodes_file.empty()) return;
  known_nodes_dirty_ = false;
  const auto tmp = config_.known_nodes_file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [id, node] : nodes_) out << id << ' ' << node.observed.to_string() << '\n';
    if (!out) {
      NTM_LOG_WARN("DC: cannot write %s", tmp.c_str());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, config_.known_nodes_file, ec);
  if (ec) NTM_LOG_WARN("DC: cannot replace %s: %s", config_.known_nodes_file.c_str(),
                       ec.message().c_str());
}

void DirectionCoordinator::on_keepalive(NodeState& node, const Bytes& plain,
                                        Clock::time_point now) {
  auto body = control::decode_keepalive(plain);
  if (!body) {
    send_error(node, DcErrorCode::bad_request, "malformed Keepalive");
    return;
  }
  if (now_unix() >= node.ticket_expires) {
    send_error(node, DcErrorCode::session_expired, "session expired: log in again");
    forget(node.node_id);
    return;
  }
  if (now - node.account_checked >= config_.account_recheck) {
    node.account_checked = now;
    if (auto why = account_refusal(node.node_id)) {
      revoke(node.node_id, *why, now);
      return;
    }
  }
  node.private_endpoints = std::move(body->private_endpoints);
  publish(node, /*force=*/false);
  send(node, MessageType::keepalive_ack, control::encode(control::KeepaliveAck{node.observed}));
}

DirectionCoordinator::NodeState* DirectionCoordinator::find_peer(const control::Resolve& r) {
  std::optional<uint64_t> id;
  if (r.by == control::ResolveBy::fqdn) {
    auto it = by_fqdn_.find(lower(r.fqdn));
    if (it != by_fqdn_.end()) id = it->second;
  } else if (r.family == Endpoint::Family::v4) {
    control::Ipv4Address a;
    std::copy_n(r.address.begin(), 4, a.begin());
    id = addresses_.node_for_ipv4(a);
  } else {
    id = addresses_.node_for_ipv6(r.address);
  }
  if (!id) return nullptr;
  auto it = nodes_.find(*id);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::optional<DirectionCoordinator::NodeState> DirectionCoordinator::find_fleet_peer(
    const control::Resolve& r) {
  if (!bus_) return std::nullopt;
  std::optional<FleetRegistration> f;
  try {
    if (r.by == control::ResolveBy::fqdn) {
      f = bus_->find_by_fqdn(lower(r.fqdn));
    } else {
      const auto owner =
          r.family == Endpoint::Family::v4
              ? addresses_.node_for_ipv4({r.address[0], r.address[1], r.address[2], r.address[3]})
              : addresses_.node_for_ipv6(r.address);
      if (owner) f = bus_->find_by_node(*owner);
    }
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("DC: fleet table: %s", e.what());
    return std::nullopt;
  }
  // Our own row without the node: a registration of ours that expired meanwhile.
  if (!f || f->dc == bus_->id()) return std::nullopt;
  NodeState n;
  n.node_id = f->node_id;
  n.fqdn = f->fqdn;
  n.certificate = std::move(f->certificate);
  n.observed = f->observed;
  n.private_endpoints = std::move(f->private_endpoints);
  n.addresses = f->addresses;
  n.mac1_key = f->mac1_key;
  n.remote_dc = f->dc;
  return n;
}

void DirectionCoordinator::publish(NodeState& node, bool force) {
  if (!bus_) return;
  std::string endpoints = node.observed.to_string();
  for (const auto& e : node.private_endpoints) endpoints += "," + e.to_string();
  if (!force && endpoints == node.published) return;
  node.published = std::move(endpoints);
  try {
    const auto before = bus_->publish({node.node_id, node.fqdn, "", node.certificate,
                                       node.observed, node.private_endpoints, node.addresses,
                                       node.mac1_key});
    // The DC that had it forgets it, so it never directs a peer to a registration the node left.
    if (before) bus_->send(*before, "moved " + std::to_string(node.node_id));
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("DC: fleet table: %s", e.what());
  }
}

void DirectionCoordinator::poll_fleet(Clock::time_point now) {
  if (!bus_ || now - fleet_polled_ < std::chrono::milliseconds(5)) return;
  fleet_polled_ = now;
  std::vector<FleetMessage> messages;
  try {
    messages = bus_->receive();
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("DC: fleet bus: %s", e.what());
  }
  for (const auto& m : messages) on_fleet_message(m, now);
}

void DirectionCoordinator::on_fleet_message(const FleetMessage& m, Clock::time_point now) {
  std::istringstream in(m.text);
  std::string kind;
  in >> kind;
  if (kind == "direction") {
    // A peer's Direction from the DC that resolved it: to our node, until it acknowledges.
    uint32_t id = 0;
    uint64_t node_id = 0;
    std::string hex;
    if (!(in >> id >> node_id >> hex)) return;
    auto it = nodes_.find(node_id);
    auto plain = crypto::from_hex(hex);
    if (it == nodes_.end() || !plain) return;  // not (or no longer) ours: it times out there
    send(it->second, MessageType::direction, *plain);
    fleet_directions_in_[id] = FleetDirection{m.from, node_id, now};
  } else if (kind == "ack") {
    uint32_t id = 0;
    uint64_t node_id = 0;
    if (!(in >> id >> node_id)) return;
    auto it = directions_.find(id);
    if (it == directions_.end() || it->second.peer != node_id || it->second.peer_dc != m.from)
      return;
    it->second.peer_acked = true;
    if (it->second.resolver_acked) {
      finish_direction(it->second, now);
      directions_.erase(it);
    }
  } else if (kind == "moved") {
    uint64_t node_id = 0;
    if (!(in >> node_id)) return;
    if (auto it = nodes_.find(node_id); it != nodes_.end()) {
      NTM_LOG_INFO("DC: %s registered with another DC", it->second.fqdn.c_str());
      forget(node_id);
    }
  }
}

const DirectionCoordinator::NodeState* DirectionCoordinator::end_of(const PendingDirection& p,
                                                                    uint64_t id,
                                                                    NodeState& scratch) {
  if (id == p.peer && !p.peer_dc.empty()) {
    scratch.node_id = p.peer;
    scratch.fqdn = p.peer_fqdn;
    scratch.addresses = p.peer_addresses;
    return &scratch;
  }
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

bool DirectionCoordinator::name_known(const std::string& fqdn) {
  if (!accounts_) return false;
  const auto dot = fqdn.find('.');
  try {
    return accounts_->find(lower(fqdn.substr(0, dot))).has_value();
  } catch (const std::exception&) {
    return false;
  }
}

void DirectionCoordinator::on_resolve(NodeState& node, const Bytes& plain, Clock::time_point now) {
  auto body = control::decode_resolve(plain);
  if (!body) {
    send_error(node, DcErrorCode::bad_request, "malformed Resolve");
    return;
  }
  const control::Resolve& r = *body;
  // A retransmitted Resolve while its direction is still running: nothing new to do.
  for (const auto& [id, p] : directions_)
    if (p.resolver == node.node_id && p.request_id == r.request_id) return;

  NodeState* peer = find_peer(r);
  std::optional<NodeState> fleet_peer;  // registered at another DC of the fleet
  if (!peer && (fleet_peer = find_fleet_peer(r))) peer = &*fleet_peer;
  const std::string_view self_account = account_of_fqdn(node.fqdn);
  if (!peer) {
    ResolveStatus status = ResolveStatus::unknown_name;
    std::optional<std::string> account;  // of the offline peer, when known
    if (r.by == control::ResolveBy::fqdn && name_known(r.fqdn)) {
      status = ResolveStatus::peer_offline;
      account = lower(std::string(account_of_fqdn(r.fqdn)));
    }
    if (r.by == control::ResolveBy::virtual_address) {
      const auto owner =
          r.family == Endpoint::Family::v4
              ? addresses_.node_for_ipv4({r.address[0], r.address[1], r.address[2], r.address[3]})
              : addresses_.node_for_ipv6(r.address);
      if (owner) {
        status = ResolveStatus::peer_offline;
        if (accounts_ && policy_.restricts()) {
          try {
            if (auto a = accounts_->find_by_node_id(*owner)) account = a->name;
          } catch (const std::exception&) {
          }
        }
      }
    }
    // Denied looks the same whether the peer is online or not.
    if (account && policy_.access(self_account, *account).denied()) {
      drop(DcDrop::denied);
      status = ResolveStatus::denied;
    }
    reply_resolve(node, r.request_id, status, nullptr);
    return;
  }
  if (peer == &node) {
    reply_resolve(node, r.request_id, ResolveStatus::ok, &node);
    return;
  }
  if (access_between(node, *peer).denied()) {
    drop(DcDrop::denied);
    reply_resolve(node, r.request_id, ResolveStatus::denied, nullptr);
    return;
  }
  // One direction per pair at a time: a Resolve of a pair whose direction still runs (from
  // either end, neither having moved since) is answered when it finishes.
  const uint64_t ends = ends_fingerprint(node, *peer);
  for (auto& [id, p] : directions_) {
    const bool same_pair = (p.resolver == node.node_id && p.peer == peer->node_id) ||
                           (p.resolver == peer->node_id && p.peer == node.node_id);
    if (!same_pair || p.ends != ends) continue;
    const std::pair<uint64_t, uint32_t> waiter{node.node_id, r.request_id};
    if (std::find(p.waiters.begin(), p.waiters.end(), waiter) != p.waiters.end()) return;
    if (p.waiters.size() >= kMaxWaiters) {
      drop(DcDrop::rate_limited);
      return;
    }
    p.waiters.push_back(waiter);
    ++resolves_coalesced_;
    return;
  }
  // The requester's relayed path to the peer went silent through this RS (docs/protocol.md 4.2):
  // a new direction through another one, even if the pair was directed moments ago.
  std::optional<size_t> failed_relay;
  if (r.failed_relay.valid()) {
    failed_relay = relay_health_.index_of(r.failed_relay);
    NTM_LOG_INFO("DC: %s reports the relay at %s silent on its path to %s", node.fqdn.c_str(),
                 r.failed_relay.to_string().c_str(), peer->fqdn.c_str());
  }
  switch (limits_.admit(node.node_id, peer->node_id, ends, now, failed_relay)) {
    case ResolveLimits::Verdict::coalesce:
      // The pair was directed moments ago and neither end moved since: nothing new to say.
      ++resolves_coalesced_;
      reply_resolve(node, r.request_id, ResolveStatus::ok, peer);
      return;
    case ResolveLimits::Verdict::limited:
      drop(DcDrop::rate_limited);  // the node asks again in 500 ms
      return;
    case ResolveLimits::Verdict::direct:
      break;
  }
  if (node.pending_directions >= config_.max_pending_directions_per_node) {
    drop(DcDrop::busy);
    return;
  }

  const PathDecision decision = decide_path({node.private_endpoints, node.observed},
                                            {peer->private_endpoints, peer->observed});
  uint32_t relay_id = 0;
  while (relay_id == 0) relay_id = crypto::random_u32();
  const RelayServerInfo* rs = nullptr;
  std::optional<size_t> rs_index;
  if (auto i = relay_health_.choose(node.observed.family, peer->observed.family, relay_id,
                                    failed_relay)) {
    rs_index = *i;
  } else if (!config_.relays.empty()) {
    rs_index = relay_id % config_.relays.size();  // none serves both families
  }
  if (rs_index) rs = &config_.relays[*rs_index];
  if (decision.mode == control::DirectionMode::relay && !rs) {
    NTM_LOG_WARN("DC: %s and %s need a relay (no common address family) and none is configured",
                 node.fqdn.c_str(), peer->fqdn.c_str());
    reply_resolve(node, r.request_id, ResolveStatus::peer_offline, nullptr);
    return;
  }
  const uint64_t expires = now_unix() + static_cast<uint64_t>(config_.relay_token_lifetime.count());

  auto make = [&](const NodeState& to, const NodeState& other,
                  const std::vector<Endpoint>& candidates, uint32_t direction_id) {
    control::Direction d;
    d.direction_id = direction_id;
    d.peer_certificate = other.certificate;
    d.peer_virtual_ipv4 = other.addresses.v4;
    d.peer_virtual_ipv6 = other.addresses.v6;
    d.candidates = candidates;
    d.mode = decision.mode;
    d.access = access_between(to, other);
    if (rs) {
      d.relay = relay_endpoint_for(*rs, to.observed);
      d.relay_id = relay_id;
      d.relay_expires_unix = expires;
      d.relay_token = control::compute_relay_token(config_.relay_key, relay_id, to.node_id, expires);
    }
    d.peer_mac1_key = other.mac1_key;
    return control::encode(d);
  };

  uint32_t id = 0;
  while (id == 0 || directions_.count(id)) id = crypto::random_u32();
  PendingDirection p;
  p.id = id;
  p.resolver = node.node_id;
  p.peer = peer->node_id;
  p.request_id = r.request_id;
  p.ends = ends;
  p.relay_index = rs_index;
  p.to_resolver = make(node, *peer, decision.candidates_for_a, id);
  p.to_peer = make(*peer, node, decision.candidates_for_b, id);
  p.next_send = now;
  p.peer_dc = peer->remote_dc;
  p.peer_fqdn = peer->fqdn;
  p.peer_addresses = peer->addresses;
  if (!p.peer_dc.empty()) ++fleet_directions_;
  ++node.pending_directions;
  ++directions_sent_;
  NTM_LOG_INFO("DC: direction %08x %s <-> %s: %s (relay %s)", id, node.fqdn.c_str(),
               peer->fqdn.c_str(),
               decision.mode == control::DirectionMode::direct ? "direct" : "relay",
               rs && !rs->endpoints.empty() ? rs->endpoints.front().to_string().c_str() : "none");
  auto [it, _] = directions_.emplace(id, std::move(p));
  send_pending(it->second, now);
}

void DirectionCoordinator::send_pending(PendingDirection& p, Clock::time_point now) {
  if (!p.resolver_acked) {
    if (auto it = nodes_.find(p.resolver); it != nodes_.end())
      send(it->second, MessageType::direction, p.to_resolver);
  }
  if (!p.peer_acked && !p.peer_dc.empty()) {
    // Its DC sends it to the peer (and returns the ack): "direction ID NODE HEX".
    try {
      bus_->send(p.peer_dc, "direction " + std::to_string(p.id) + " " + std::to_string(p.peer) +
                                " " + crypto::to_hex(p.to_peer));
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("DC: fleet message: %s", e.what());
    }
  } else if (!p.peer_acked) {
    if (auto it = nodes_.find(p.peer); it != nodes_.end())
      send(it->second, MessageType::direction, p.to_peer);
  }
  ++p.sends;
  p.next_send = now + config_.direction_retransmit;
}

void DirectionCoordinator::on_direction_ack(NodeState& node, const Bytes& plain) {
  auto body = control::decode_direction_ack(plain);
  if (!body) return;
  auto it = directions_.find(body->direction_id);
  if (it == directions_.end() ||
      (it->second.resolver != node.node_id && it->second.peer != node.node_id)) {
    // Another DC's direction we passed on: the ack goes back to it ("ack ID NODE").
    auto f = fleet_directions_in_.find(body->direction_id);
    if (f == fleet_directions_in_.end() || f->second.node_id != node.node_id) return;
    try {
      bus_->send(f->second.origin, "ack " + std::to_string(body->direction_id) + " " +
                                       std::to_string(node.node_id));
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("DC: fleet message: %s", e.what());
    }
    fleet_directions_in_.erase(f);
    return;  // else a late duplicate
  }
  PendingDirection& p = it->second;
  if (node.node_id == p.resolver) p.resolver_acked = true;
  if (node.node_id == p.peer) p.peer_acked = true;
  if (p.resolver_acked && p.peer_acked) {
    finish_direction(p, Clock::now());
    directions_.erase(it);
  }
}

void DirectionCoordinator::finish_direction(PendingDirection& p, Clock::time_point now) {
  const bool both = p.resolver_acked && p.peer_acked;
  if (both) limits_.directed(p.resolver, p.peer, p.ends, now, p.relay_index);
  auto resolver = nodes_.find(p.resolver);
  NodeState scratch;
  const NodeState* peer = end_of(p, p.peer, scratch);
  if (resolver != nodes_.end()) {
    if (resolver->second.pending_directions > 0) --resolver->second.pending_directions;
    if (p.peer_acked && peer) {
      reply_resolve(resolver->second, p.request_id, ResolveStatus::ok, peer);
    } else {
      reply_resolve(resolver->second, p.request_id, ResolveStatus::peer_offline, nullptr);
    }
  }
  for (const auto& [waiter_id, request_id] : p.waiters) {
    auto waiter = nodes_.find(waiter_id);
    if (waiter == nodes_.end()) continue;
    NodeState other_scratch;
    const NodeState* other = end_of(p, waiter_id == p.resolver ? p.peer : p.resolver, other_scratch);
    if (both && other) {
      reply_resolve(waiter->second, request_id, ResolveStatus::ok, other);
    } else {
      reply_resolve(waiter->second, request_id, ResolveStatus::peer_offline, nullptr);
    }
  }
}

void DirectionCoordinator::reply_resolve(NodeState& node, uint32_t request_id,
                                         ResolveStatus status, const NodeState* peer) {
  control::ResolveReply reply;
  reply.request_id = request_id;
  reply.status = status;
  if (peer && status == ResolveStatus::ok) {
    reply.node_id = peer->node_id;
    reply.fqdn = peer->fqdn;
    reply.virtual_ipv4 = peer->addresses.v4;
    reply.virtual_ipv6 = peer->addresses.v6;
  }
  send(node, MessageType::resolve_reply, control::encode(reply));
}

void DirectionCoordinator::check_accounts(Clock::time_point now) {
  if (!accounts_ || now - accounts_checked_ < config_.account_recheck) return;
  accounts_checked_ = now;
  // One query for every registered node (accounts.h: roll()), not one lookup each.
  AccountStore::Roll roll;
  try {
    roll = accounts_->roll();
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("DC: account store failed: %s", e.what());  // fail open, as account_refusal
    return;
  }
  std::vector<std::pair<uint64_t, std::string>> refused;
  for (auto& [id, node] : nodes_) {
    node.account_checked = now;
    if (!roll.node_ids.contains(id)) {
      refused.emplace_back(id, "the account no longer exists");
    } else if (auto d = roll.disabled.find(id); d != roll.disabled.end()) {
      refused.emplace_back(id, "account '" + d->second + "' is disabled");
    }
  }
  // Accounts revoked since the previous sweep whose node another DC of the fleet holds (or no
  // DC): that DC drops the node, and we tell our nodes, which may have a tunnel with it - the
  // shared store is how every DC learns of a revocation, whichever DC or AS it came through.
  std::vector<std::pair<uint64_t, std::string>> elsewhere;
  if (last_roll_) {
    for (const auto& [id, name] : roll.disabled) {
      if (!nodes_.contains(id) && !last_roll_->disabled.contains(id) &&
          last_roll_->node_ids.contains(id))
        elsewhere.emplace_back(id, "account '" + name + "' is disabled");
    }
    for (uint64_t id : last_roll_->node_ids) {
      if (!roll.node_ids.contains(id) && !nodes_.contains(id) && !last_roll_->disabled.contains(id))
        elsewhere.emplace_back(id, "the account no longer exists");
    }
  }
  last_roll_ = std::move(roll);
  for (const auto& [id, why] : refused) revoke(id, why, now);
  for (const auto& [id, why] : elsewhere) {
    NTM_LOG_INFO("DC: node %016llx revoked (%s), not registered here; telling %zu node(s)",
                 static_cast<unsigned long long>(id), why.c_str(), nodes_.size());
    tell_revoked(id, why, now);
  }
}

void DirectionCoordinator::revoke(uint64_t node_id, const std::string& why, Clock::time_point now) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return;
  NTM_LOG_INFO("DC: revoked %s: %s; telling %zu node(s)", it->second.fqdn.c_str(), why.c_str(),
               nodes_.size() - 1);
  send_error(it->second, DcErrorCode::account_disabled, why);
  forget(node_id);
  ++revocations_;
  tell_revoked(node_id, why, now);
}

void DirectionCoordinator::tell_revoked(uint64_t node_id, const std::string& why,
                                        Clock::time_point now) {
  // Every registered node: the DC does not know every tunnel (peers may have met before this
  // DC run, or through another DC), and a node without that peer only acknowledges.
  for (auto& [id, node] : nodes_) {
    const uint32_t notice = new_notice_id();
    send_notice(node, MessageType::peer_revoked, notice,
                control::encode(control::PeerRevoked{notice, node_id, why}), now);
  }
  ++peers_told_revoked_;
}

uint32_t DirectionCoordinator::new_notice_id() {
  uint32_t notice = 0;
  while (notice == 0 || notices_.count(notice)) notice = crypto::random_u32();
  return notice;
}

void DirectionCoordinator::send_notice(NodeState& to, MessageType type, uint32_t notice_id,
                                       Bytes plain, Clock::time_point now) {
  send(to, type, plain);
  notices_.emplace(notice_id, PendingNotice{to.node_id, type, std::move(plain), 1,
                                            now + config_.direction_retransmit});
}

void DirectionCoordinator::on_notice_ack(NodeState& node, uint32_t notice_id) {
  auto it = notices_.find(notice_id);
  if (it != notices_.end() && it->second.to == node.node_id) notices_.erase(it);
}

uint64_t DirectionCoordinator::ends_fingerprint(const NodeState& a, const NodeState& b) {
  const NodeState& lo = a.node_id < b.node_id ? a : b;
  const NodeState& hi = a.node_id < b.node_id ? b : a;
  std::string text;
  for (const NodeState* n : {&lo, &hi}) {
    text += n->observed.to_string();
    for (const auto& e : n->private_endpoints) text += "," + e.to_string();
    text += '|';
  }
  return std::hash<std::string>{}(text);
}

tunnel::PeerAccess DirectionCoordinator::access_between(const NodeState& self,
                                                        const NodeState& peer) const {
  return policy_.access(account_of_fqdn(self.fqdn), account_of_fqdn(peer.fqdn));
}

void DirectionCoordinator::reload_policy(Clock::time_point now) {
  if (config_.policy_file.empty()) return;
  std::string text;
  if (std::ifstream in(config_.policy_file); in) text.assign(std::istreambuf_iterator<char>(in), {});
  if (text == policy_text_) return;
  policy_text_ = text;
  AccessPolicy next;
  try {
    next = AccessPolicy::parse(text, config_.policy_file.string());
  } catch (const PolicyError& e) {
    NTM_LOG_ERROR("DC: %s; keeping the previous access policy", e.what());
    return;
  }
  // Every registered pair whose access changed, both ways: O(nodes^2) policy lookups, once per
  // change of the file.
  size_t notices = 0;
  std::vector<NodeState*> all;
  all.reserve(nodes_.size());
  for (auto& [id, node] : nodes_) all.push_back(&node);
  for (NodeState* self : all) {
    for (NodeState* peer : all) {
      if (self == peer) continue;
      const auto self_account = account_of_fqdn(self->fqdn);
      const auto peer_account = account_of_fqdn(peer->fqdn);
      auto now_access = next.access(self_account, peer_account);
      if (now_access == policy_.access(self_account, peer_account)) continue;
      limits_.forget_pair(self->node_id, peer->node_id);
      const uint32_t notice = new_notice_id();
      send_notice(*self, MessageType::peer_access, notice,
                  control::encode(control::PeerAccessNotice{notice, peer->node_id, now_access}),
                  now);
      ++notices;
    }
  }
  policy_ = std::move(next);
  ++policy_loads_;
  NTM_LOG_INFO("DC: access policy %s reloaded: %zu rule(s), %zu notice(s) sent",
               config_.policy_file.c_str(), policy_.rules(), notices);
}

void DirectionCoordinator::run_direction_timers(Clock::time_point now) {
  for (auto it = notices_.begin(); it != notices_.end();) {
    PendingNotice& n = it->second;
    auto to = nodes_.find(n.to);
    if (to == nodes_.end() || n.sends >= config_.direction_max_sends) {
      it = notices_.erase(it);
      continue;
    }
    if (now >= n.next_send) {
      send(to->second, n.type, n.plain);
      ++n.sends;
      n.next_send = now + config_.direction_retransmit;
    }
    ++it;
  }
  for (auto it = directions_.begin(); it != directions_.end();) {
    PendingDirection& p = it->second;
    if (now < p.next_send) {
      ++it;
      continue;
    }
    if (p.sends >= config_.direction_max_sends) {
      finish_direction(p, now);
      it = directions_.erase(it);
      continue;
    }
    send_pending(p, now);
    ++it;
  }
}

void DirectionCoordinator::expire_nodes(Clock::time_point now) {
  const auto limit = std::chrono::seconds(uint64_t{config_.keepalive_s} * config_.expiry_keepalives);
  const uint64_t unix_now = now_unix();
  std::vector<uint64_t> gone;
  for (auto& [id, node] : nodes_) {
    // A replaced registration key is kept only for its grace: it holds a cipher context.
    if (node.previous_channel && now >= node.previous_until) node.previous_channel.reset();
    if (now - node.last_seen > limit) {
      NTM_LOG_INFO("DC: %s expired (silent)", node.fqdn.c_str());
      gone.push_back(id);
    } else if (unix_now >= node.ticket_expires) {
      send_error(node, DcErrorCode::session_expired, "session expired: log in again");
      gone.push_back(id);
    }
  }
  for (uint64_t id : gone) forget(id);
  check_accounts(now);
  reload_policy(now);
  limits_.sweep(now);
  std::erase_if(fleet_directions_in_, [&](const auto& kv) {
    return now - kv.second.when > std::chrono::seconds(5);  // its DC stopped resending it
  });
  std::erase_if(forgotten_, [&](const auto& kv) {
    return now - kv.second.when > RegisterChallenges::kLifetime + std::chrono::seconds(1);
  });
  save_known_nodes();
}

void DirectionCoordinator::send(NodeState& node, MessageType type, const Bytes& plain) {
  if (!node.channel || !node.observed.valid()) return;
  const Bytes d = node.channel->seal(type, plain);
  const io::OutgoingDatagram out{node.observed, d};
  service_.send_batch(std::span<const io::OutgoingDatagram>(&out, 1));
}

void DirectionCoordinator::send_error(NodeState& node, DcErrorCode code,
                                      const std::string& message) {
  send(node, MessageType::error, control::encode(control::DcError{code, message}));
}

void DirectionCoordinator::forget(uint64_t node_id) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return;
  if (auto f = by_fqdn_.find(it->second.fqdn); f != by_fqdn_.end() && f->second == node_id)
    by_fqdn_.erase(f);
  if (it->second.register_channel) {
    forgotten_.insert_or_assign(
        node_id, Forgotten{std::move(*it->second.register_channel), it->second.register_counter,
                           Clock::now()});
  }
  nodes_.erase(it);
  limits_.forget(node_id);
  if (bus_) {
    try {
      bus_->withdraw(node_id);
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("DC: fleet table: %s", e.what());
    }
  }
  known_nodes_dirty_ = true;
  registered_ = nodes_.size();
}

std::optional<std::string> DirectionCoordinator::account_refusal(uint64_t node_id) {
  if (!accounts_) return std::nullopt;
  try {
    auto a = accounts_->find_by_node_id(node_id);
    if (!a) return std::string("the account no longer exists");
    if (a->disabled) return "account '" + a->name + "' is disabled";
  } catch (const std::exception& e) {
    // Fail open: a busy or broken store must not take every node offline.
    NTM_LOG_ERROR("DC: account store failed: %s", e.what());
  }
  return std::nullopt;
}

}  // namespace ntm::servers
