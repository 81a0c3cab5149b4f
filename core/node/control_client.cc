#include "node/control_client.h"

#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <set>
#include <stdexcept>

#include "control/certificate.h"
#include "control/registration.h"
#include "control/relay_messages.h"
#include "mobility/network_state.h"
#include "util/log.h"

namespace ntm::node {

namespace {

using namespace std::chrono_literals;
// An unanswered Register goes again after kRegisterFirstRetry, doubling up to kRegisterRetry:
// right after a move the first one is often lost (the new link's neighbour or NAT state is not
// there yet), and every retry interval is a stall for the node's sessions.
constexpr auto kRegisterFirstRetry = 100ms;
constexpr auto kRegisterRetry = 500ms;
// An unanswered keepalive is repeated after this long, and when kKeepalivesBeforeFailover
// sent in a row (kKeepaliveRetry apart) are all unanswered the DC is taken as gone: the node
// registers with the next DC of its list (docs/protocol.md 4.3). So a node fails over within
// about 2 s of the first message its DC left unanswered.
constexpr auto kKeepaliveRetry = 1s;
constexpr int kKeepalivesBeforeFailover = 2;
constexpr auto kResolveRetry = 500ms;
// A Resolve left unanswered (kResolveRetry) makes the node check its DC with a keepalive at
// once, so a node that needs its DC finds out that it is gone without waiting for the
// keepalive interval.
constexpr int kResolveAttemptsBeforeCheck = 1;
// Challenges (DC or RS) are answered at once, but at most this often (forged ones cost little).
constexpr auto kChallengeAnswerGap = 100ms;
// Registers whose keys wait for the RegisterAck (ControlClient::pending_): a few rounds to every
// endpoint (both families) of a few DCs.
constexpr size_t kMaxPendingRegisters = 16;
constexpr int kResolveAttempts = 8;
// After a new login (new session key, so a new mac1 key) the previous mac1 key is still accepted
// this long: peers learn the new one from the Directions the node asks for once registered again.
constexpr auto kPreviousMac1Grace = std::chrono::minutes(5);

uint64_t now_unix() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// DNS names compare without case (the DC lowercases them).
bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool all_zero(std::span<const uint8_t> bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

// The DC endpoints this node could use: those of a family it has a socket for, in the AS's
// order. Registration tries them in turn (an IPv6-only host has an IPv4 socket but no route).
std::vector<Endpoint> usable_dcs(const std::vector<Endpoint>& dcs,
                                 const std::vector<Endpoint>& local) {
  std::vector<Endpoint> out;
  for (const auto& dc : dcs) {
    for (const auto& l : local) {
      if (l.family == dc.family) {
        out.push_back(dc);
        break;
      }
    }
  }
  if (out.empty()) {
    throw std::runtime_error("the AS named no DC reachable with this node's address families");
  }
  return out;
}

}  // namespace

ControlClient::ControlClient(const ControlPlaneConfig& config, control::LoginGrant grant,
                             tunnel::Engine& engine, tunnel::TunnelTable& table,
                             io::Transport& transport,
                             std::function<control::LoginGrant()> relogin,
                             std::function<void()> registered_again,
                             std::function<void()> relay_restored,
                             std::function<void(NodeEvent)> post_event)
    : config_(config),
      engine_(engine),
      table_(table),
      transport_(transport),
      relogin_(std::move(relogin)),
      registered_again_(std::move(registered_again)),
      relay_restored_(std::move(relay_restored)),
      post_event_(std::move(post_event)),
      grant_(std::move(grant)),
      session_channel_(control::DcRole::node, grant_.node_id, grant_.session_key),
      dcs_(usable_dcs(grant_.dc, transport.local_endpoints())),
      dc_(dcs_.front()) {
  // Handshakes to us carry mac1 under our secret key, which only the DC hands out (to the peers
  // it directs to us); one computed from our public key is refused before any public-key work.
  engine_.set_mac1_key(control::node_mac1_key(grant_.session_key, grant_.node_id));
}

bool ControlClient::is_control(std::span<const uint8_t> datagram) {
  if (datagram.empty()) return false;
  switch (static_cast<control::MessageType>(datagram[0])) {
    case control::MessageType::register_ack:
    case control::MessageType::keepalive_ack:
    case control::MessageType::resolve_reply:
    case control::MessageType::direction:
    case control::MessageType::error:
    case control::MessageType::peer_revoked:
    case control::MessageType::peer_access:
    case control::MessageType::relay_bind_ack:
    case control::MessageType::relay_challenge:
    case control::MessageType::register_challenge:
      return true;
    default:
      return false;
  }
}

// The node's own addresses with the port its tunnel socket has: the DC compares them with the
// address it observes (NAT detection) and gives them to peers behind the same NAT.
std::vector<Endpoint> ControlClient::private_endpoints() const {
  std::vector<Endpoint> out;
  for (const auto& bound : transport_.local_endpoints()) {
    const bool wildcard = all_zero(std::span(bound.address).first(bound.is_v4() ? 4 : 16));
    if (!wildcard) {
      out.push_back(bound);
      continue;
    }
    for (const auto& a : mobility::usable_addresses()) {
      if (a.address.family != bound.family) continue;
      Endpoint e = a.address;
      e.port = bound.port;
      out.push_back(e);
    }
  }
  return out;
}

void ControlClient::send_raw(const Endpoint& to, std::span<const uint8_t> bytes) {
  io::OutgoingDatagram d{to, bytes};
  transport_.send_batch(std::span(&d, 1));
}

void ControlClient::send_to_dc(control::MessageType type, const control::Bytes& plaintext) {
  if (!channel_) return;  // not registered yet: the registration's retries come first
  auto datagram = channel_->seal(type, plaintext);
  send_raw(dc_, datagram);
}

void ControlClient::send_register_locked(const Endpoint& to) {
  const uint64_t counter = session_channel_.send_counter();
  auto datagram = session_channel_.seal(
      control::MessageType::register_node,
      control::encode(control::Register{private_endpoints(), challenge_}), grant_.ticket);
  if (!control::is_zero(challenge_)) {
    if (pending_.size() >= kMaxPendingRegisters) pending_.erase(pending_.begin());
    pending_.emplace_back(control::DcRole::node, grant_.node_id,
                          control::registration_key(grant_.session_key, challenge_, counter));
  }
  send_raw(to, datagram);
}

std::optional<control::DcChannel::Opened> ControlClient::open_with_pending_locked(
    std::span<const uint8_t> datagram) {
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    auto opened = it->open(datagram);
    if (!opened) continue;
    if (opened->type == control::MessageType::register_ack) {
      channel_ = std::move(*it);  // that registration's key from now on
      pending_.clear();
    }
    return opened;
  }
  return std::nullopt;
}

Registration ControlClient::register_blocking(std::chrono::milliseconds timeout) {
  std::vector<uint8_t> storage(4096);
  io::ReceiveSlot slot{storage, 0, {}};
  const auto deadline = tunnel::Clock::now() + timeout;
  std::unique_lock lock(mutex_);
  size_t attempt = 0;
  while (tunnel::Clock::now() < deadline) {
    dc_ = dcs_[attempt++ % dcs_.size()];
    send_register_locked(dc_);
    const auto retry_at = std::min(deadline, tunnel::Clock::now() + kRegisterRetry);
    while (tunnel::Clock::now() < retry_at) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at -
                                                                        tunnel::Clock::now());
      if (transport_.receive(std::span(&slot, 1), std::max(wait, 1ms)) == 0) continue;
      if (std::find(dcs_.begin(), dcs_.end(), slot.from) == dcs_.end()) continue;
      const auto datagram = std::span<const uint8_t>(storage).first(slot.length);
      if (!datagram.empty() &&
          datagram[0] == static_cast<uint8_t>(control::MessageType::register_challenge)) {
        auto c = control::decode_register_challenge(datagram);
        if (!c || c.value().node_id != grant_.node_id) continue;
        challenge_ = c.value().challenge;
        dc_ = slot.from;
        send_register_locked(dc_);  // the answer to this one should be the RegisterAck
        continue;
      }
      auto opened = open_with_pending_locked(datagram);
      if (!opened) continue;
      dc_ = slot.from;  // a late answer from a DC tried earlier counts too
      if (opened->type == control::MessageType::error) {
        auto error = control::decode_dc_error(opened->plaintext);
        throw std::runtime_error("the DC refused the registration: " +
                                 (error ? error.value().message : std::string("bad reply")));
      }
      if (opened->type != control::MessageType::register_ack) continue;
      auto ack = control::decode_register_ack(opened->plaintext);
      if (!ack) continue;
      registration_.vip4 = ack.value().virtual_ipv4;
      registration_.vip6 = ack.value().virtual_ipv6;
      registration_.observed = ack.value().observed;
      registration_.relays = ack.value().relays;
      if (ack.value().keepalive_s > 0) {
        keepalive_interval_ = std::chrono::seconds(ack.value().keepalive_s);
      }
      registered_ = true;
      stats_.registrations.fetch_add(1, std::memory_order_relaxed);
      next_keepalive_ = tunnel::Clock::now() + keepalive_interval_;
      NTM_LOG_INFO("registered with the DC at %s as %s (seen as %s)", dc_.to_string().c_str(),
                   grant_.fqdn.c_str(), registration_.observed.to_string().c_str());
      return registration_;
    }
  }
  std::string tried;
  for (const auto& dc : dcs_) tried += (tried.empty() ? "" : ", ") + dc.to_string();
  throw std::runtime_error("no DC answered the registration (tried " + tried + ")");
}

void ControlClient::on_register_challenge(std::span<const uint8_t> datagram, const Endpoint& from) {
  if (revoked_) return;
  auto c = control::decode_register_challenge(datagram);
  if (!c || c.value().node_id != grant_.node_id) return;
  // Registered and content: a challenge from another DC (one we left, restarted and asking the
  // nodes of its previous run back) is not for us any more.
  if (registered_ && !needs_register_ && !(from == dc_)) return;
  challenge_ = c.value().challenge;
  const auto now = tunnel::Clock::now();
  if (!needs_register_) {
    NTM_LOG_INFO("the DC at %s does not know us (it restarted?): registering again",
                 from.to_string().c_str());
  }
  needs_register_ = true;
  if (now - last_challenge_register_ < kChallengeAnswerGap) return;  // tick() retries
  last_challenge_register_ = now;
  dc_ = from;
  send_register_locked(dc_);
  last_register_sent_ = now;
}

control::RelayCookie ControlClient::cookie_for(const Endpoint& server) const {
  for (const auto& [e, cookie] : relay_cookies_)
    if (e == server) return cookie;
  return {};
}

void ControlClient::send_bind_locked(RelayBinding& b, tunnel::TimePoint now) {
  const auto bind = control::make_relay_bind(b.relay_id, grant_.node_id, b.expires_unix, b.token,
                                             ++bind_sequence_, cookie_for(b.server));
  send_raw(b.server, control::encode(bind));
  b.last_sent = now;
}

bool ControlClient::on_relay_message(std::span<const uint8_t> datagram, const Endpoint& from,
                                     tunnel::TimePoint now) {
  std::lock_guard lock(mutex_);
  uint32_t relay_id = 0;
  control::RelayCookie cookie{};
  const bool is_challenge =
      datagram[0] == static_cast<uint8_t>(control::MessageType::relay_challenge);
  if (is_challenge) {
    auto c = control::decode_relay_challenge(datagram);
    if (!c) return false;
    relay_id = c.value().relay_id;
    cookie = c.value().cookie;
  } else {
    auto a = control::decode_relay_bind_ack(datagram);
    if (!a) return false;
    relay_id = a.value().relay_id;
    cookie = a.value().cookie;
  }
  auto it = relay_bindings_.find(relay_id);
  if (it == relay_bindings_.end() || !(it->second.server == from)) return false;  // not ours
  bool stored = false;
  for (auto& [e, c] : relay_cookies_) {
    if (e == from) {
      c = cookie;
      stored = true;
    }
  }
  if (!stored) relay_cookies_.emplace_back(from, cookie);
  RelayBinding& b = it->second;
  if (!is_challenge) {
    // The binding becomes usable with its first ack (after the challenge answering our first,
    // cookie-less bind) and again after the RS had lost it.
    const bool usable_now = !b.acked || b.restoring;
    if (b.restoring && b.acked)
      NTM_LOG_INFO("the relay at %s has relay %08x again", from.to_string().c_str(), relay_id);
    b.restoring = false;
    b.acked = true;
    return usable_now;
  }
  // The RS does not know this binding from here (it restarted, or we moved): bind again now.
  // Before the first ack this is the answer to our cookie-less first bind: use it at once.
  if (b.acked && now - b.last_sent < kChallengeAnswerGap) return false;
  if (!b.restoring && b.acked) {
    NTM_LOG_INFO("the relay at %s does not know relay %08x from here (it restarted?): binding again",
                 from.to_string().c_str(), relay_id);
  }
  b.restoring = true;
  send_bind_locked(b, now);
  return false;
}

void ControlClient::on_datagram(std::span<const uint8_t> datagram, const Endpoint& from,
                                tunnel::EngineSink& sink, tunnel::TimePoint now) {
  const auto type = static_cast<control::MessageType>(datagram[0]);
  if (type == control::MessageType::relay_bind_ack ||
      type == control::MessageType::relay_challenge) {
    if (on_relay_message(datagram, from, now)) {
      // What went through the relay before the RS knew us was dropped there: handshakes go
      // again now, and the node resends what TCP holds without its backoff.
      engine_.on_relay_bound(from, sink, now);
      if (relay_restored_) relay_restored_();
    }
    return;
  }
  std::optional<control::Direction> direction;
  bool registered_again = false;
  bool revoked_now = false;
  std::vector<control::PeerRevoked> torn_down;
  std::vector<control::PeerAccessNotice> access_changes;
  {
    std::lock_guard lock(mutex_);
    // Only the DC speaks this protocol to us (any of its endpoints: after a move the answer may
    // come from another family's).
    if (std::find(dcs_.begin(), dcs_.end(), from) == dcs_.end()) return;
    if (type == control::MessageType::register_challenge) {
      on_register_challenge(datagram, from);
      return;
    }
    std::optional<control::DcChannel::Opened> opened = open_with_pending_locked(datagram);
    if (!opened && channel_) opened = channel_->open(datagram);
    if (!opened) return;  // forged, replayed or for an old registration
    dc_needed_since_ = {};  // the DC is there
    switch (opened->type) {
      case control::MessageType::register_ack: {
        auto ack = control::decode_register_ack(opened->plaintext);
        if (ack) {
          dc_ = from;  // the DC endpoint that works from where we are now
          registration_.observed = ack.value().observed;
          registration_.relays = ack.value().relays;
          registered_again = needs_register_;  // not a duplicate ack of the same registration
          if (registered_again) stats_.registrations.fetch_add(1, std::memory_order_relaxed);
          if (registered_again && announce_mac1_) {
            // A new login changed our mac1 key: a direction to each peer gives it the new one.
            announce_mac1_ = false;
            for (const auto& peer : table_.all()) {
              if (!peer->pinned) send_detached_locked(control::Resolve::by_name(0, peer->identity.fqdn));
            }
          }
          registered_ = true;
          needs_register_ = false;
          failing_over_ = false;
          keepalives_unanswered_ = 0;
          next_keepalive_ = now + keepalive_interval_;
          // Resolves the old DC left unanswered go to this one at once (tick()).
          for (auto& [id, pending] : resolves_) {
            if (pending.reply || pending.detached) continue;
            pending.sent_at = {};
            pending.attempts = std::min(pending.attempts, kResolveAttempts - 1);
          }
        }
        break;
      }
      case control::MessageType::keepalive_ack: {
        auto ack = control::decode_keepalive_ack(opened->plaintext);
        if (ack) {
          registration_.observed = ack.value().observed;
          if (keepalives_unanswered_ > 0) next_keepalive_ = keepalive_sent_at_ + keepalive_interval_;
          keepalives_unanswered_ = 0;
        }
        break;
      }
      case control::MessageType::resolve_reply: {
        auto reply = control::decode_resolve_reply(opened->plaintext);
        if (reply) {
          auto it = resolves_.find(reply.value().request_id);
          if (it != resolves_.end()) {
            if (it->second.detached) {
              resolves_.erase(it);
            } else {
              it->second.reply = reply.value();
            }
          }
          changed_.notify_all();
        }
        break;
      }
      case control::MessageType::direction: {
        auto d = control::decode_direction(opened->plaintext);
        if (d) direction = d.value();
        break;
      }
      case control::MessageType::error: {
        auto error = control::decode_dc_error(opened->plaintext);
        if (error) {
          const bool was_revoked = revoked_;
          on_error(error.value());
          revoked_now = revoked_ && !was_revoked;
        }
        break;
      }
      case control::MessageType::peer_revoked: {
        auto notice = control::decode_peer_revoked(opened->plaintext);
        if (notice) on_peer_revoked_locked(notice.value());
        break;
      }
      case control::MessageType::peer_access: {
        auto notice = control::decode_peer_access(opened->plaintext);
        if (notice) {
          send_to_dc(control::MessageType::peer_access_ack,
                     control::encode(control::PeerAccessAck{notice.value().notice_id}));
          if (notice.value().access.denied()) {
            std::erase_if(relay_bindings_, [&](const auto& kv) {
              return kv.second.peer_node_id == notice.value().node_id;
            });
          }
          access_changes.push_back(std::move(notice.value()));
        }
        break;
      }
      default:
        break;
    }
    torn_down.swap(to_tear_down_);
  }
  for (const auto& notice : torn_down) {
    auto peer = table_.find_node_id(notice.node_id);
    if (!peer) continue;  // we had no tunnel with it: nothing to tell the application
    NTM_LOG_WARN("peer %s revoked by the DC: %s", peer->identity.fqdn.c_str(), notice.reason.c_str());
    const std::string name = peer->identity.fqdn;
    table_.remove(*peer);
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(notice.node_id));
    if (post_event_)
      post_event_({NodeEvent::Type::peer_revoked, name, id, "", 0,
                   "peer " + name + " revoked: " + notice.reason});
  }
  for (const auto& change : access_changes) {
    auto peer = table_.find_node_id(change.node_id);
    if (!peer) continue;  // no tunnel with it: the next Direction carries the access
    if (change.access.denied()) {
      // Repeats of the notice find no peer. A later Direction (the policy allows it again) adds
      // it back.
      NTM_LOG_WARN("the access policy no longer lets us talk to %s: tunnel removed",
                   peer->identity.fqdn.c_str());
      table_.remove(*peer);
    } else {
      std::lock_guard lock(peer->mutex);
      peer->access = change.access;
    }
  }
  if (revoked_now) {
    NTM_LOG_ERROR("this node's account was revoked: %s", revoked_reason_.c_str());
    table_.clear();  // every tunnel goes down
    if (post_event_)
      post_event_({NodeEvent::Type::revoked, "", "", "", 0, "revoked: " + revoked_reason_});
  }
  if (direction) on_direction(*direction, sink, now);
  if (registered_again) {
    NTM_LOG_INFO("registered with the DC at %s again", from.to_string().c_str());
    if (registered_again_) registered_again_();
  }
}

void ControlClient::on_direction(const control::Direction& d, tunnel::EngineSink& sink,
                                 tunnel::TimePoint now) {
  stats_.directions_received.fetch_add(1, std::memory_order_relaxed);
  // The peer's name, key and addresses are what the AS certified; the DC only relays them.
  auto checked = control::check_directed_peer(d.peer_certificate, d.peer_virtual_ipv4,
                                              d.peer_virtual_ipv6, grant_.as_sign_public,
                                              now_unix());
  if (!checked.cert) {
    stats_.directions_refused.fetch_add(1, std::memory_order_relaxed);
    NTM_LOG_WARN("refused a direction from the DC: %s", checked.refusal.c_str());
    return;
  }
  const control::NodeCertificate& c = *checked.cert;
  {
    std::lock_guard lock(mutex_);
    // A DC does not direct a pair the policy keeps apart; should one do so, we refuse it too.
    if (revoked_ || revoked_peers_.contains(c.node_id) || d.access.denied()) {
      // Acknowledged, so the DC stops repeating it, and otherwise ignored.
      send_to_dc(control::MessageType::direction_ack,
                 control::encode(control::DirectionAck{d.direction_id}));
      return;
    }
  }
  tunnel::PeerIdentity identity;
  identity.node_id = c.node_id;
  identity.fqdn = c.fqdn;
  if (!all_zero(c.virtual_ipv4)) identity.vip4 = c.virtual_ipv4;
  if (!all_zero(c.virtual_ipv6)) identity.vip6 = c.virtual_ipv6;
  identity.static_public = c.static_public;
  // Zero only from a DC before 0.4 (which refuses our Register anyway): the public derivation.
  if (!all_zero(d.peer_mac1_key)) identity.mac1_key = d.peer_mac1_key;

  auto peer = table_.find_node_id(c.node_id);
  if (peer && (peer->identity.static_public != c.static_public ||
               peer->identity.vip4 != identity.vip4 || peer->identity.vip6 != identity.vip6)) {
    table_.remove(*peer);  // the peer logged in again with a new key or address
    peer = {};
  }
  if (!peer) {
    // Anything else holding its name or addresses is stale: the DC is the authority.
    if (auto old = table_.find_fqdn(identity.fqdn)) table_.remove(*old);
    if (identity.vip4) {
      if (auto old = table_.find_vip4(*identity.vip4)) table_.remove(*old);
    }
    if (identity.vip6) {
      if (auto old = table_.find_vip6(*identity.vip6)) table_.remove(*old);
    }
    peer = table_.add(identity, /*pinned=*/false);
    if (!peer) {
      NTM_LOG_WARN("cannot add peer %s to the tunnel table", identity.fqdn.c_str());
      return;
    }
  }
  peer->touch(now);
  {
    std::lock_guard lock(peer->mutex);
    peer->access = d.access;  // what the access policy lets through this tunnel, both ways
    // The peer logged in again (a new session key): its handshakes keep their sessions.
    peer->mac1_key = identity.mac1_key;
  }

  std::optional<tunnel::Peer::Relay> relay;
  {
    std::lock_guard lock(mutex_);
    send_to_dc(control::MessageType::direction_ack,
               control::encode(control::DirectionAck{d.direction_id}));
    if (d.relay.valid()) {
      relay = tunnel::Peer::Relay{d.relay, d.relay_id};
      // One binding per peer: the newest direction's (older relay ids are no longer used).
      std::erase_if(relay_bindings_,
                    [&](const auto& kv) { return kv.second.peer_node_id == c.node_id; });
      RelayBinding binding;
      binding.server = d.relay;
      binding.relay_id = d.relay_id;
      binding.peer_node_id = c.node_id;
      binding.expires_unix = d.relay_expires_unix;
      binding.token = d.relay_token;
      auto& stored = relay_bindings_[d.relay_id] = binding;
      send_bind_locked(stored, now);
    }
    changed_.notify_all();
  }
  std::vector<Endpoint> candidates;
  if (d.mode == control::DirectionMode::direct) candidates = d.candidates;
  NTM_LOG_INFO("direction to %s: %zu candidate(s)%s", c.fqdn.c_str(), candidates.size(),
               relay ? ", relay assigned" : "");
  engine_.direct(peer, std::move(candidates), relay, sink, now);
}

void ControlClient::on_peer_revoked_locked(const control::PeerRevoked& notice) {
  send_to_dc(control::MessageType::peer_revoked_ack,
             control::encode(control::PeerRevokedAck{notice.notice_id}));
  if (!revoked_peers_.insert(notice.node_id).second) return;  // a repeat
  std::erase_if(relay_bindings_,
                [&](const auto& kv) { return kv.second.peer_node_id == notice.node_id; });
  to_tear_down_.push_back(notice);
}

bool ControlClient::revoked() const {
  std::lock_guard lock(mutex_);
  return revoked_;
}

void ControlClient::on_error(const control::DcError& error) {
  switch (error.code) {
    case control::DcErrorCode::account_disabled:
      // Final: no more registrations or logins (they would only be refused again).
      if (!revoked_) {
        revoked_ = true;
        revoked_reason_ = error.message;
        registered_ = false;
        needs_register_ = false;
        relay_bindings_.clear();
        for (auto& [id, pending] : resolves_) pending.attempts = kResolveAttempts;
        changed_.notify_all();
      }
      break;
    case control::DcErrorCode::session_expired:
      relogin_locked();
      break;
    case control::DcErrorCode::not_registered:
      needs_register_ = true;
      last_register_sent_ = {};
      break;
    default:
      NTM_LOG_WARN("the DC reported: %s", error.message.c_str());
      break;
  }
}

void ControlClient::relogin_locked() {
  if (revoked_) return;
  try {
    grant_ = relogin_();
    stats_.logins.fetch_add(1, std::memory_order_relaxed);
    session_channel_ = control::DcChannel(control::DcRole::node, grant_.node_id, grant_.session_key);
    engine_.set_mac1_key(control::node_mac1_key(grant_.session_key, grant_.node_id),
                         tunnel::Clock::now() + kPreviousMac1Grace);
    announce_mac1_ = true;
    pending_.clear();
    needs_register_ = true;
    last_register_sent_ = {};
    NTM_LOG_INFO("logged in again as %s", grant_.fqdn.c_str());
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("logging in again failed: %s", e.what());
  }
}

void ControlClient::tick(tunnel::EngineSink&, tunnel::TimePoint now) {
  std::lock_guard lock(mutex_);
  if (revoked_) return;
  if (needs_register_ && now - last_register_sent_ > register_retry_) {
    if (failing_over_) {
      // One DC at a time, starting with the one after the silent DC: each answers with a
      // challenge and registers us, and a node registered at two DCs at once would have its
      // peers directed through the one it no longer listens to.
      register_retry_ = last_register_sent_ == tunnel::TimePoint{}
                            ? kRegisterFirstRetry
                            : std::min<std::chrono::milliseconds>(register_retry_ * 2, kRegisterRetry);
      dc_ = next_dc_locked();
      send_register_locked(dc_);
    } else if (last_register_sent_ == tunnel::TimePoint{}) {
      // A new round (keepalives unanswered, a new login): the DC we know first.
      register_retry_ = kRegisterFirstRetry;
      send_register_locked(dc_);
    } else {
      // Unanswered: every DC endpoint at once, as after a network change (one per retry would
      // spend a whole interval on a family this host no longer reaches).
      register_retry_ = std::min<std::chrono::milliseconds>(register_retry_ * 2, kRegisterRetry);
      for (const auto& dc : dcs_) send_register_locked(dc);
    }
    last_register_sent_ = now;
  }
  if (registered_) {
    if (keepalives_unanswered_ == 0 && now >= next_keepalive_) {
      send_keepalive_locked(now);
      next_keepalive_ = now + keepalive_interval_;
      // Relay bindings are refreshed with the keepalives, for peers we still have.
      const uint64_t unix_now = now_unix();
      for (auto it = relay_bindings_.begin(); it != relay_bindings_.end();) {
        if (it->second.expires_unix <= unix_now || !table_.find_node_id(it->second.peer_node_id)) {
          it = relay_bindings_.erase(it);
          continue;
        }
        send_bind_locked(it->second, now);
        ++it;
      }
    } else if (keepalives_unanswered_ > 0 && now - keepalive_sent_at_ >= kKeepaliveRetry) {
      stats_.dc_keepalives_missed.fetch_add(1, std::memory_order_relaxed);
      if (keepalives_unanswered_ >= kKeepalivesBeforeFailover) {
        start_failover_locked(now);
      } else {
        send_keepalive_locked(now);  // ask again after a second, not a whole interval later
      }
    }
  }
  // The engine or the application needed the DC (a detached Resolve) and it has said nothing
  // since: check it now rather than at the next keepalive, as for an unanswered Resolve, so a
  // node whose tunnels need a new path finds a dead DC and fails over within about 2.5 s.
  if (dc_needed_since_ != tunnel::TimePoint{} && now - dc_needed_since_ > kResolveRetry) {
    dc_needed_since_ = {};
    if (registered_ && !needs_register_ && keepalives_unanswered_ == 0) send_keepalive_locked(now);
  }
  std::erase_if(resolves_, [](const auto& kv) {
    return kv.second.detached && kv.second.attempts >= kResolveAttempts;
  });
  for (auto& [id, pending] : resolves_) {
    if (pending.reply || pending.attempts >= kResolveAttempts) continue;
    if (now - pending.sent_at > kResolveRetry) {
      // Our DC may be gone: find out now rather than at the next keepalive.
      if (pending.attempts >= kResolveAttemptsBeforeCheck && registered_ && !needs_register_ &&
          keepalives_unanswered_ == 0)
        send_keepalive_locked(now);
      stats_.resolves_sent.fetch_add(1, std::memory_order_relaxed);
      send_to_dc(control::MessageType::resolve, control::encode(pending.request));
      pending.sent_at = now;
      ++pending.attempts;
    }
  }
}

void ControlClient::send_keepalive_locked(tunnel::TimePoint now) {
  send_to_dc(control::MessageType::keepalive,
             control::encode(control::Keepalive{private_endpoints()}));
  stats_.dc_keepalives_sent.fetch_add(1, std::memory_order_relaxed);
  ++keepalives_unanswered_;
  keepalive_sent_at_ = now;
}

void ControlClient::start_failover_locked(tunnel::TimePoint now) {
  NTM_LOG_WARN("the DC at %s answered none of %d keepalives: %s", dc_.to_string().c_str(),
               keepalives_unanswered_,
               dcs_.size() > 1 ? "registering with the next DC" : "registering again");
  failing_over_ = true;
  needs_register_ = true;
  last_register_sent_ = {};
  keepalives_unanswered_ = 0;  // the next registration's keepalives count afresh
  next_keepalive_ = now + keepalive_interval_;
}

Endpoint ControlClient::next_dc_locked() const {
  auto it = std::find(dcs_.begin(), dcs_.end(), dc_);
  if (it == dcs_.end() || ++it == dcs_.end()) return dcs_.front();
  return *it;
}

tunnel::TimePoint ControlClient::next_timer() const {
  // tick() compares with `>`: the first instant it acts is one tick of the clock later.
  constexpr auto kAfter = std::chrono::nanoseconds(1);
  std::lock_guard lock(mutex_);
  tunnel::TimePoint next = tunnel::TimePoint::max();
  if (revoked_) return next;
  if (needs_register_) next = std::min(next, last_register_sent_ + register_retry_ + kAfter);
  if (registered_) {
    // An unanswered keepalive is repeated after kKeepaliveRetry, not at the next interval.
    next = std::min(next, keepalives_unanswered_ > 0 ? keepalive_sent_at_ + kKeepaliveRetry
                                                     : next_keepalive_);
  }
  for (const auto& [id, pending] : resolves_) {
    if (pending.reply || pending.attempts >= kResolveAttempts) continue;
    next = std::min(next, pending.sent_at + kResolveRetry + kAfter);
  }
  if (dc_needed_since_ != tunnel::TimePoint{})
    next = std::min(next, dc_needed_since_ + kResolveRetry + kAfter);
  return next;
}

void ControlClient::send_detached_locked(control::Resolve request) {
  request.request_id = next_request_id_++;
  stats_.resolves_sent.fetch_add(1, std::memory_order_relaxed);
  send_to_dc(control::MessageType::resolve, control::encode(request));
  if (dc_needed_since_ == tunnel::TimePoint{}) dc_needed_since_ = tunnel::Clock::now();
  // Kept only so a reply is recognised; never sent again from here (tick skips it).
  resolves_[request.request_id] =
      PendingResolve{request, tunnel::Clock::now(), kResolveAttempts, std::nullopt, true};
}

void ControlClient::request_direction(const std::string& fqdn, const Endpoint& failed_relay) {
  std::lock_guard lock(mutex_);
  if (revoked_) return;
  auto request = control::Resolve::by_name(0, fqdn);
  request.failed_relay = failed_relay;
  send_detached_locked(std::move(request));
}

void ControlClient::request_resolve(const Endpoint& virtual_address) {
  std::lock_guard lock(mutex_);
  if (revoked_) return;
  send_detached_locked(resolve_by_address(virtual_address));
}

control::Resolve ControlClient::resolve_by_address(const Endpoint& address) {
  if (address.is_v4()) {
    control::Ipv4Address a;
    std::memcpy(a.data(), address.address.data(), 4);
    return control::Resolve::by_ipv4(0, a);
  }
  return control::Resolve::by_ipv6(0, address.address);
}

void ControlClient::on_network_change() {
  std::lock_guard lock(mutex_);
  if (revoked_) return;
  needs_register_ = true;
  failing_over_ = false;
  // Every DC endpoint at once: the address family we had may be gone; the first to answer wins
  // (each answers with a challenge for our new address, which tick() and the challenge use).
  for (const auto& dc : dcs_) send_register_locked(dc);
  const auto now = tunnel::Clock::now();
  last_register_sent_ = now;
  register_retry_ = kRegisterFirstRetry;
  for (auto& [id, binding] : relay_bindings_) send_bind_locked(binding, now);
}

std::optional<ControlClient::Resolved> ControlClient::resolve_name(
    const std::string& fqdn, std::chrono::milliseconds timeout) {
  return resolve(control::Resolve::by_name(0, fqdn), timeout);
}

std::optional<ControlClient::Resolved> ControlClient::resolve_address(
    const Endpoint& address, std::chrono::milliseconds timeout) {
  return resolve(resolve_by_address(address), timeout);
}

std::optional<ControlClient::Resolved> ControlClient::resolve(control::Resolve request,
                                                             std::chrono::milliseconds timeout) {
  const auto deadline = tunnel::Clock::now() + timeout;
  std::unique_lock lock(mutex_);
  const uint32_t id = next_request_id_++;
  request.request_id = id;
  stats_.resolves_sent.fetch_add(1, std::memory_order_relaxed);
  send_to_dc(control::MessageType::resolve, control::encode(request));
  resolves_[id] = PendingResolve{request, tunnel::Clock::now(), 1, std::nullopt};
  transport_.wake();  // the receiver thread resends it until answered: it has a timer now
  std::optional<Resolved> result;
  changed_.wait_until(lock, deadline, [&] {
    if (revoked_) return true;
    const auto& reply = resolves_[id].reply;
    if (!reply) return false;
    if (reply->status != control::ResolveStatus::ok) return true;
    // The DC directs both ends before it answers; wait until the direction has added the peer.
    return static_cast<bool>(table_.find_node_id(reply->node_id));
  });
  const auto& reply = resolves_[id].reply;
  if (reply && reply->status == control::ResolveStatus::denied)
    NTM_LOG_WARN("the DC's access policy does not let this node reach %s",
                 request.by == control::ResolveBy::fqdn ? request.fqdn.c_str() : "that address");
  if (reply && reply->status == control::ResolveStatus::ok) {
    if (auto peer = table_.find_node_id(reply->node_id)) {
      // The answer must be the node the AS certified under that name (or address): a DC cannot
      // steer one node's name to another node. Addresses are the certificate's.
      const auto& certified = peer->identity;
      bool name_ok = true;
      if (request.by == control::ResolveBy::fqdn) {
        name_ok = same_name(certified.fqdn, request.fqdn);
      } else if (request.family == Endpoint::Family::v4) {
        name_ok = certified.vip4 &&
                  std::equal(certified.vip4->begin(), certified.vip4->end(), request.address.begin());
      } else {
        name_ok = certified.vip6 && *certified.vip6 == request.address;
      }
      if (name_ok) {
        result = Resolved{certified.node_id, certified.fqdn,
                          certified.vip4.value_or(control::Ipv4Address{}),
                          certified.vip6.value_or(control::Ipv6Address{})};
      } else {
        stats_.directions_refused.fetch_add(1, std::memory_order_relaxed);
        NTM_LOG_WARN("the DC answered a resolve of %s with %s, certified otherwise: ignored",
                     request.by == control::ResolveBy::fqdn ? request.fqdn.c_str() : "an address",
                     certified.fqdn.c_str());
      }
    }
  }
  resolves_.erase(id);
  return result;
}

ControlClient::Servers ControlClient::servers() const {
  std::lock_guard lock(mutex_);
  Servers s{config_.server, grant_.dc, registration_.relays};
  for (const auto& [id, binding] : relay_bindings_)
    if (std::find(s.relays.begin(), s.relays.end(), binding.server) == s.relays.end())
      s.relays.push_back(binding.server);
  return s;
}

}  // namespace ntm::node
