#include "dc/direction_coordinator.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "control/relay_messages.h"
#include "control/ticket.h"
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

bool serves_family(const RelayServerInfo& rs, Endpoint::Family f) {
  return std::any_of(rs.endpoints.begin(), rs.endpoints.end(),
                     [f](const Endpoint& e) { return e.family == f; });
}

}  // namespace

DirectionCoordinator::DirectionCoordinator(DirectionCoordinatorConfig config,
                                           AddressStore& addresses, AccountStore* accounts)
    : config_(std::move(config)),
      addresses_(addresses),
      accounts_(accounts),
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
  if (config_.keepalive_s == 0) config_.keepalive_s = 1;
  if (config_.direction_max_sends == 0) config_.direction_max_sends = 1;
}

DirectionCoordinator::~DirectionCoordinator() { stop(); }

uint64_t DirectionCoordinator::now_unix() const {
  return config_.now_unix ? config_.now_unix() : static_cast<uint64_t>(std::time(nullptr));
}

void DirectionCoordinator::start() { service_.start(); }

void DirectionCoordinator::stop() {
  if (!service_.running()) return;
  service_.stop();
  nodes_.clear();
  by_fqdn_.clear();
  directions_.clear();
  registered_ = 0;
}

void DirectionCoordinator::on_batch(std::span<const io::ReceiveSlot> received,
                                    Clock::time_point now) {
  for (const io::ReceiveSlot& slot : received) {
    try {
      handle(std::span<const uint8_t>(slot.buffer.data(), slot.length), slot.from, now);
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("DC: error handling a datagram from %s: %s", slot.from.to_string().c_str(),
                    e.what());
    }
  }
  try {
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
    // Unknown node (expired, or the DC restarted): we hold no key to answer with. The node
    // re-registers with its ticket when its keepalives go unanswered.
    drop(DcDrop::unknown_node);
    return;
  }
  NodeState& node = it->second;
  auto opened = node.channel->open(datagram);
  if (!opened) {
    drop(DcDrop::bad_auth);
    return;
  }
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
  const bool same_key = known && it->second.channel->has_key(ticket->session_key);
  if (known && !same_key && ticket->expires_unix < it->second.ticket_expires) {
    drop(DcDrop::replayed_ticket);  // an older ticket than the one in use: a replay
    return;
  }
  std::optional<control::DcChannel> fresh;
  control::DcChannel* channel = nullptr;
  if (same_key) {
    channel = &*it->second.channel;
  } else {
    fresh.emplace(control::DcRole::dc, env.node_id, ticket->session_key,
                  control::counter_start_from_clock());
    channel = &*fresh;
  }
  auto opened = channel->open(datagram);
  if (!opened) {
    drop(DcDrop::bad_auth);
    return;
  }

  NodeState tmp;  // for answers before the node is (re)registered
  NodeState& node = known ? it->second : tmp;
  if (fresh) node.channel = std::move(fresh);
  node.node_id = env.node_id;
  node.observed = from;
  node.last_seen = now;

  if (now_unix() >= ticket->expires_unix) {
    send_error(node, DcErrorCode::session_expired, "session expired: log in again");
    if (known) forget(env.node_id);
    return;
  }
  auto body = control::decode_register(opened->plaintext);
  if (!body) {
    send_error(node, DcErrorCode::bad_request, "malformed Register");
    return;
  }
  if (auto why = account_refusal(env.node_id)) {
    NTM_LOG_INFO("DC: refused node %s: %s", ticket->fqdn.c_str(), why->c_str());
    send_error(node, DcErrorCode::account_disabled, *why);
    if (known) forget(env.node_id);
    return;
  }
  VirtualAddresses addrs;
  try {
    addrs = addresses_.assign(env.node_id);
  } catch (const PoolExhausted& e) {
    NTM_LOG_ERROR("DC: %s", e.what());
    send_error(node, DcErrorCode::address_pool_exhausted, "no virtual address available");
    return;
  }

  const std::string fqdn = lower(ticket->fqdn);
  if (known && node.fqdn != fqdn) by_fqdn_.erase(node.fqdn);
  node.fqdn = fqdn;
  node.static_public = ticket->static_public;
  node.certificate = std::move(ticket->certificate);
  node.ticket_expires = ticket->expires_unix;
  node.private_endpoints = std::move(body->private_endpoints);
  node.addresses = addrs;
  node.account_checked = now;
  NodeState* stored = &node;
  if (!known) {
    auto [ins, _] = nodes_.emplace(env.node_id, std::move(tmp));
    stored = &ins->second;
    registered_ = nodes_.size();
    ++registrations_;
    NTM_LOG_INFO("DC: registered %s from %s%s", fqdn.c_str(), from.to_string().c_str(),
                 behind_nat({stored->private_endpoints, from}) ? " (behind NAT)" : "");
  }
  // A name belongs to one node_id (one account); the newest registration wins.
  if (auto old = by_fqdn_.find(fqdn); old != by_fqdn_.end() && old->second != env.node_id)
    forget(old->second);
  by_fqdn_[fqdn] = env.node_id;

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
      send_error(node, DcErrorCode::account_disabled, *why);
      forget(node.node_id);
      return;
    }
  }
  node.private_endpoints = std::move(body->private_endpoints);
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
  if (!peer) {
    ResolveStatus status = ResolveStatus::unknown_name;
    if (r.by == control::ResolveBy::fqdn && name_known(r.fqdn)) status = ResolveStatus::peer_offline;
    if (r.by == control::ResolveBy::virtual_address) {
      const bool assigned =
          r.family == Endpoint::Family::v4
              ? addresses_.node_for_ipv4({r.address[0], r.address[1], r.address[2], r.address[3]})
                    .has_value()
              : addresses_.node_for_ipv6(r.address).has_value();
      if (assigned) status = ResolveStatus::peer_offline;
    }
    reply_resolve(node, r.request_id, status, nullptr);
    return;
  }
  if (peer == &node) {
    reply_resolve(node, r.request_id, ResolveStatus::ok, &node);
    return;
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
  if (!config_.relays.empty()) {
    const size_t n = config_.relays.size();
    for (size_t k = 0; k < n && !rs; ++k) {
      const auto& cand = config_.relays[(relay_id + k) % n];
      if (serves_family(cand, node.observed.family) && serves_family(cand, peer->observed.family))
        rs = &cand;
    }
    if (!rs) rs = &config_.relays[relay_id % n];
  }
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
    if (rs) {
      d.relay = relay_endpoint_for(*rs, to.observed);
      d.relay_id = relay_id;
      d.relay_expires_unix = expires;
      d.relay_token = control::compute_relay_token(config_.relay_key, relay_id, to.node_id, expires);
    }
    return control::encode(d);
  };

  uint32_t id = 0;
  while (id == 0 || directions_.count(id)) id = crypto::random_u32();
  PendingDirection p;
  p.id = id;
  p.resolver = node.node_id;
  p.peer = peer->node_id;
  p.request_id = r.request_id;
  p.to_resolver = make(node, *peer, decision.candidates_for_a, id);
  p.to_peer = make(*peer, node, decision.candidates_for_b, id);
  p.next_send = now;
  ++node.pending_directions;
  ++directions_sent_;
  NTM_LOG_INFO("DC: direction %08x %s <-> %s: %s", id, node.fqdn.c_str(), peer->fqdn.c_str(),
               decision.mode == control::DirectionMode::direct ? "direct" : "relay");
  auto [it, _] = directions_.emplace(id, std::move(p));
  send_pending(it->second, now);
}

void DirectionCoordinator::send_pending(PendingDirection& p, Clock::time_point now) {
  if (!p.resolver_acked) {
    if (auto it = nodes_.find(p.resolver); it != nodes_.end())
      send(it->second, MessageType::direction, p.to_resolver);
  }
  if (!p.peer_acked) {
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
  if (it == directions_.end()) return;  // late duplicate
  PendingDirection& p = it->second;
  if (node.node_id == p.resolver) p.resolver_acked = true;
  if (node.node_id == p.peer) p.peer_acked = true;
  if (p.resolver_acked && p.peer_acked) {
    finish_direction(p);
    directions_.erase(it);
  }
}

void DirectionCoordinator::finish_direction(PendingDirection& p) {
  auto resolver = nodes_.find(p.resolver);
  if (resolver == nodes_.end()) return;
  if (resolver->second.pending_directions > 0) --resolver->second.pending_directions;
  auto peer = nodes_.find(p.peer);
  if (p.peer_acked && peer != nodes_.end()) {
    reply_resolve(resolver->second, p.request_id, ResolveStatus::ok, &peer->second);
  } else {
    reply_resolve(resolver->second, p.request_id, ResolveStatus::peer_offline, nullptr);
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

void DirectionCoordinator::run_direction_timers(Clock::time_point now) {
  for (auto it = directions_.begin(); it != directions_.end();) {
    PendingDirection& p = it->second;
    if (now < p.next_send) {
      ++it;
      continue;
    }
    if (p.sends >= config_.direction_max_sends) {
      finish_direction(p);
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
    if (now - node.last_seen > limit) {
      NTM_LOG_INFO("DC: %s expired (silent)", node.fqdn.c_str());
      gone.push_back(id);
    } else if (unix_now >= node.ticket_expires) {
      send_error(node, DcErrorCode::session_expired, "session expired: log in again");
      gone.push_back(id);
    }
  }
  for (uint64_t id : gone) forget(id);
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
  nodes_.erase(it);
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
