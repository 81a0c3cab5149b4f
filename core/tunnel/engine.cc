#include "tunnel/engine.h"

#include <algorithm>
#include <cstring>

#include "tunnel/constants.h"
#include "tunnel/inner_source.h"
#include "wire/capsule.h"
#include "wire/handshake.h"
#include "wire/ip_packet.h"

namespace ntm::tunnel {

namespace {

int64_t ns(TimePoint t) { return t.time_since_epoch().count(); }

// The initiator of a session rekeys it at kRekeyAfterTime. A responder whose session reaches
// this age rekeys it itself: the initiator sends nothing, or both ends opened the tunnel at once
// (hole punching) and each sends on the session the other started.
constexpr auto kResponderRekeyAfterTime = kRejectAfterTime - 30s;
static_assert(kResponderRekeyAfterTime > kRekeyAfterTime);

bool older_than(TimePoint now, TimePoint then, std::chrono::nanoseconds age) {
  return now - then > age;
}

bool older_than(TimePoint now, int64_t then_ns, std::chrono::nanoseconds age) {
  return ns(now) - then_ns > age.count();
}

void emit(EngineSink& sink, const std::vector<EngineEvent>& events) {
  for (const auto& e : events) sink.event(e);
}

}  // namespace

const char* to_string(PathKind kind) {
  switch (kind) {
    case PathKind::direct: return "direct";
    case PathKind::relay: return "relay";
    case PathKind::none: break;
  }
  return "none";
}

Engine::Engine(EngineConfig config, TunnelTable& table)
    : config_(std::move(config)),
      table_(table),
      limiter_(config_.handshake_limits) {
  set_mac1_key(config_.mac1_key ? *config_.mac1_key
                                : mac1_key_from_public(config_.static_key.public_key));
}

void Engine::set_mac1_key(const MacKey& key) {
  auto keyed = std::make_shared<const crypto::HmacSha256>(key);
  std::lock_guard lock(mac1_mutex_);
  mac1_ = {key, std::move(keyed)};
}

Engine::OwnMac1 Engine::own_mac1() const {
  std::lock_guard lock(mac1_mutex_);
  return mac1_;
}

uint64_t Engine::next_timestamp() {
  auto wall = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  uint64_t last = last_timestamp_.load();
  uint64_t next;
  do {
    next = std::max(wall, last + 1);
  } while (!last_timestamp_.compare_exchange_weak(last, next));
  return next;
}

bool Engine::has_peer_for(std::span<const uint8_t, 4> vip4) const {
  Ipv4 a;
  std::copy(vip4.begin(), vip4.end(), a.begin());
  return static_cast<bool>(table_.find_vip4(a));
}

bool Engine::has_peer_for(std::span<const uint8_t, 16> vip6) const {
  Ipv6 a;
  std::copy(vip6.begin(), vip6.end(), a.begin());
  return static_cast<bool>(table_.find_vip6(a));
}

TunnelTable::Ref Engine::peer_for_inner(std::span<const uint8_t> inner) const {
  auto addresses = wire::parse_inner_addresses(inner);
  if (!addresses) return {};
  const auto& dst = addresses.value().dst;
  if (addresses.value().version == 4) {
    Ipv4 a;
    std::copy_n(dst.begin(), 4, a.begin());
    return table_.find_vip4(a);
  }
  return table_.find_vip6(dst);
}

// --- sending ---

SendResult Engine::send_inner(std::span<uint8_t> datagram, size_t inner_length,
                              EngineSink& sink, TimePoint now) {
  auto inner = datagram.subspan(kDatagramHeadroom, inner_length);
  auto peer = peer_for_inner(inner);
  if (!peer) {
    stats_.dropped_no_tunnel.fetch_add(1, std::memory_order_relaxed);
    return SendResult::no_tunnel;
  }
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(peer->mutex);
    session = peer->current;
    if (session && older_than(now, session->created, kRejectAfterTime)) session.reset();
    if (!session || !peer->endpoint.valid()) {
      // Queuing is use too: without it a new peer (last use 0) counts as idle, and tick() would
      // drop its handshake and expire_idle() the entry before the first answer.
      peer->touch(now);
      if (peer->queued.size() >= kMaxQueuedPackets) peer->queued.erase(peer->queued.begin());
      peer->queued.emplace_back(inner.begin(), inner.end());
      if (!peer->pending && peer->endpoint.valid()) start_handshake_locked(peer, sink, now);
      return SendResult::queued;
    }
    if (!peer->pending &&
        older_than(now, session->created,
                   session->is_initiator ? kRekeyAfterTime : kResponderRekeyAfterTime)) {
      // Keep sending on the old session; the new one takes over when it is up. The handshake
      // reuses the sink's buffer, so save the packet first (rare: once per rekey).
      std::vector<uint8_t> copy(inner.begin(), inner.end());
      start_handshake_locked(peer, sink, now);
      datagram = sink.datagram_buffer(kDatagramHeadroom + inner_length + kDatagramTailroom);
      std::memcpy(datagram.data() + kDatagramHeadroom, copy.data(), copy.size());
    }
  }
  seal_and_send(*peer, *session, datagram, inner_length, sink, now);
  return SendResult::sent;
}

void Engine::seal_and_send(Peer& peer, Session& session, std::span<uint8_t> datagram,
                           size_t inner_length, EngineSink& sink, TimePoint now) {
  const size_t total = wire::kCapsuleHeaderSize + inner_length + wire::kTagSize;
  auto capsule = datagram.subspan(kRelayHeaderRoom);
  Endpoint to;
  std::optional<Peer::Relay> relay;
  {
    std::lock_guard lock(peer.mutex);
    to = peer.endpoint;
    if (peer.path == PathKind::relay) relay = peer.relay;
  }
  {
    std::lock_guard lock(session.send_mutex);
    const uint64_t counter = session.send_counter++;
    wire::CapsuleHeader header{0, session.remote_path_id, counter};
    wire::encode_capsule_header(header, capsule.first<wire::kCapsuleHeaderSize>());
    auto nonce = wire::capsule_nonce(counter);
    session.send_aead.seal(nonce, capsule.first(wire::kCapsuleHeaderSize),
                           capsule.subspan(wire::kCapsuleHeaderSize, inner_length),
                           capsule.subspan(wire::kCapsuleHeaderSize, inner_length + wire::kTagSize));
  }
  transmit_to(to, relay, datagram, total, sink);
  peer.touch(now);
  peer.last_sent_ns.store(ns(now), std::memory_order_relaxed);
  if (inner_length > 0) {
    peer.packets_sent.fetch_add(1, std::memory_order_relaxed);
    peer.bytes_sent.fetch_add(inner_length, std::memory_order_relaxed);
  }
  stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_sent.fetch_add(total, std::memory_order_relaxed);
}

void Engine::send_keepalive(Peer& peer, Session& session, EngineSink& sink, TimePoint now) {
  auto buffer = sink.datagram_buffer(kDatagramHeadroom + kDatagramTailroom);
  seal_and_send(peer, session, buffer, 0, sink, now);
}

void Engine::transmit_to(const Endpoint& to, const std::optional<Peer::Relay>& relay,
                         std::span<uint8_t> buffer, size_t length, EngineSink& sink) {
  if (relay) {
    // type 0x30 | flags | reserved u16 | relay_id u32, then the tunnel datagram unchanged.
    buffer[0] = wire::kRelayedType;
    buffer[1] = 0;
    buffer[2] = 0;
    buffer[3] = 0;
    for (int i = 0; i < 4; ++i) buffer[4 + i] = static_cast<uint8_t>(relay->relay_id >> (24 - 8 * i));
    sink.send(relay->server, 0, kRelayHeaderRoom + length);
  } else {
    sink.send(to, kRelayHeaderRoom, length);
  }
}

void Engine::transmit_locked(Peer& peer, std::span<uint8_t> buffer, size_t length,
                             EngineSink& sink) {
  std::optional<Peer::Relay> relay;
  if (peer.path == PathKind::relay) relay = peer.relay;
  transmit_to(peer.endpoint, relay, buffer, length, sink);
}

bool Engine::add_mac2_locked(const Peer& peer, wire::HandshakeInit& init, TimePoint now) const {
  if (!peer.cookie || now - peer.cookie_received >= kCookieUseTime) return false;
  std::array<uint8_t, wire::kHandshakeInitSize> encoded{};
  wire::encode(init, encoded);
  init.mac2 = init_mac2(*peer.cookie, encoded);
  return true;
}

void Engine::start_handshake_locked(const TunnelTable::Ref& peer, EngineSink& sink,
                                    TimePoint now, bool count_attempt) {
  const bool punching = peer->path != PathKind::relay && !peer->candidates.empty() &&
                        !peer->endpoint_confirmed;
  if (!peer->endpoint.valid() && !punching) return;
  const uint32_t path_id = table_.new_path_id();
  auto [state, init] = create_init(config_.static_key, peer->identity.static_public,
                                   mac1_key_of(peer->identity), path_id, next_timestamp(),
                                   config_.cipher);
  if (peer->pending) table_.remove_path(peer->pending->local_path_id);
  table_.add_path(path_id, peer, nullptr);  // a pending handshake: no session yet
  PendingHandshake pending{std::move(state), path_id, now, now, 1};
  pending.sent_mac2 = add_mac2_locked(*peer, init, now);
  pending.sent_mac1 = init.mac;
  if (peer->pending) {
    pending.first_sent_at = peer->pending->first_sent_at;
    pending.attempts = peer->pending->attempts + (count_attempt ? 1 : 0);
  }
  peer->pending = std::move(pending);
  stats_.handshakes_initiated.fetch_add(1, std::memory_order_relaxed);
  if (punching) {
    // Hole punching: the same init to every candidate at once; the first answer wins.
    for (const auto& candidate : peer->candidates) {
      auto buffer = sink.datagram_buffer(kRelayHeaderRoom + wire::kHandshakeInitSize);
      size_t size = wire::encode(init, buffer.subspan(kRelayHeaderRoom));
      transmit_to(candidate, std::nullopt, buffer, size, sink);
      stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
      stats_.bytes_sent.fetch_add(size, std::memory_order_relaxed);
    }
    return;
  }
  auto buffer = sink.datagram_buffer(kRelayHeaderRoom + wire::kHandshakeInitSize);
  size_t size = wire::encode(init, buffer.subspan(kRelayHeaderRoom));
  transmit_locked(*peer, buffer, size, sink);
  stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_sent.fetch_add(size, std::memory_order_relaxed);
}

void Engine::start_probe_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now) {
  const uint32_t path_id = table_.new_path_id();
  auto [state, init] = create_init(config_.static_key, peer->identity.static_public,
                                   mac1_key_of(peer->identity), path_id, next_timestamp(),
                                   config_.cipher);
  table_.add_path(path_id, peer, nullptr);
  peer->pending = PendingHandshake{std::move(state), path_id, now, now, 1, true};
  peer->pending->sent_mac2 = add_mac2_locked(*peer, init, now);
  peer->pending->sent_mac1 = init.mac;
  stats_.handshakes_initiated.fetch_add(1, std::memory_order_relaxed);
  for (const auto& candidate : peer->candidates) {
    auto buffer = sink.datagram_buffer(kRelayHeaderRoom + wire::kHandshakeInitSize);
    size_t size = wire::encode(init, buffer.subspan(kRelayHeaderRoom));
    transmit_to(candidate, std::nullopt, buffer, size, sink);
    stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
    stats_.bytes_sent.fetch_add(size, std::memory_order_relaxed);
  }
}

void Engine::fall_back_to_relay_locked(const TunnelTable::Ref& peer, EngineSink& sink,
                                       TimePoint now, std::vector<EngineEvent>& events) {
  if (peer->path == PathKind::direct && peer->endpoint_confirmed) {
    stats_.relay_fallbacks.fetch_add(1, std::memory_order_relaxed);
  }
  peer->path = PathKind::relay;
  peer->endpoint = peer->relay->server;
  peer->next_direct_probe = now + kDirectProbeInterval;
  events.push_back({EngineEventType::path_changed, peer.shared().get(), peer->endpoint,
                    PathKind::relay,
                    "no direct path to " + peer->identity.fqdn + ": using relay " +
                        peer->endpoint.to_string()});
  if (peer->pending) {
    table_.remove_path(peer->pending->local_path_id);
    peer->pending.reset();
  }
  start_handshake_locked(peer, sink, now);
}

void Engine::on_network_change(EngineSink& sink, TimePoint now) {
  for (const auto& peer : table_.all()) {
    std::lock_guard lock(peer->mutex);
    if (!peer->current && !peer->pending) continue;
    peer->path_stale = true;
    peer->redirect_requested = false;
    peer->stale_since = now;
    // A handshake is the path update: authenticated, answered, and it moves the peer's view of
    // our endpoint. It goes where the tunnel went (the peer, or the relay).
    if (peer->pending) {
      table_.remove_path(peer->pending->local_path_id);
      peer->pending.reset();
    }
    if (peer->endpoint.valid()) start_handshake_locked(peer, sink, now);
  }
}

void Engine::direct(const TunnelTable::Ref& peer, std::vector<Endpoint> candidates,
                    std::optional<Peer::Relay> relay, EngineSink& sink, TimePoint now) {
  std::vector<EngineEvent> events;
  {
    std::lock_guard lock(peer->mutex);
    peer->touch(now);
    peer->candidates = std::move(candidates);
    peer->relay = std::move(relay);
    if (peer->current && !peer->path_stale) {
      keep_or_probe_locked(peer, sink, now, events);
    } else {
      if (peer->path_stale) {
        // Punch again from scratch: the old endpoint is dead, the session keys are still good.
        peer->endpoint_confirmed = false;
        if (peer->path == PathKind::relay && !peer->candidates.empty()) {
          peer->path = PathKind::direct;
        }
        if (peer->pending) {
          table_.remove_path(peer->pending->local_path_id);
          peer->pending.reset();
        }
      }
      if (peer->candidates.empty() && peer->relay) {
        fall_back_to_relay_locked(peer, sink, now, events);  // no common family: relay at once
      } else {
        peer->direct_deadline = now + config_.direct_timeout;
        if (!peer->pending) start_handshake_locked(peer, sink, now);
      }
    }
  }
  emit(sink, events);
}

void Engine::keep_or_probe_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now,
                                  std::vector<EngineEvent>& events) {
  // A working tunnel stays as it is. If the peer moved (its candidates no longer include where
  // we send), probe the new candidates: an answer moves the path, and until then the old one
  // is used. If only a relay is offered and the direct path has gone quiet, take the relay.
  const bool moved = peer->path == PathKind::direct && !peer->candidates.empty() &&
                     std::find(peer->candidates.begin(), peer->candidates.end(),
                               peer->endpoint) == peer->candidates.end();
  if (moved && !peer->pending) {
    start_probe_locked(peer, sink, now);
  } else if (peer->candidates.empty() && peer->relay && peer->path == PathKind::direct &&
             now - peer->last_direct_receive > kDirectProbeInterval) {
    fall_back_to_relay_locked(peer, sink, now, events);
  }
}

void Engine::connect(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now) {
  std::lock_guard lock(peer->mutex);
  peer->touch(now);
  if (!peer->current && !peer->pending) start_handshake_locked(peer, sink, now);
}

void Engine::flush_queue(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now) {
  std::vector<std::vector<uint8_t>> queued;
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(peer->mutex);
    session = peer->current;
    if (!session || !session->confirmed) return;
    queued.swap(peer->queued);
  }
  for (const auto& packet : queued) {
    auto buffer = sink.datagram_buffer(kDatagramHeadroom + packet.size() + kDatagramTailroom);
    std::memcpy(buffer.data() + kDatagramHeadroom, packet.data(), packet.size());
    seal_and_send(*peer, *session, buffer, packet.size(), sink, now);
  }
  // The responder may send only after it has heard from us on the new session: say hello.
  if (queued.empty() && session->is_initiator) send_keepalive(*peer, *session, sink, now);
}

// --- receiving ---

void Engine::receive(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
                     TimePoint now, std::optional<uint32_t> relay_id) {
  stats_.packets_received.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_received.fetch_add(datagram.size(), std::memory_order_relaxed);
  if (datagram.empty()) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  switch (static_cast<wire::MessageType>(datagram[0])) {
    case wire::MessageType::data: on_data(datagram, from, sink, now, relay_id); return;
    case wire::MessageType::handshake_init: on_init(datagram, from, sink, now, relay_id); return;
    case wire::MessageType::handshake_response:
      on_response(datagram, from, sink, now, relay_id);
      return;
    case wire::MessageType::cookie_reply: on_cookie_reply(datagram, sink, now); return;
  }
  stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
}

void Engine::update_endpoint_locked(Peer& peer, const Endpoint& from,
                                    std::optional<uint32_t> relay_id, TimePoint now,
                                    std::vector<EngineEvent>& events, bool explicit_path) {
  if (peer.path_stale) {
    // The peer answered on our new path (or told us its new one): mobility is done for it.
    peer.path_stale = false;
    peer.redirect_requested = false;
    peer.direct_deadline = TimePoint{};
  }
  if (relay_id) {
    if (!peer.relay || peer.relay->relay_id != *relay_id || peer.relay->server != from) {
      peer.relay = Peer::Relay{from, *relay_id};
    }
    if (peer.path == PathKind::relay && peer.endpoint == from) return;
    // A relayed straggler must not pull a working direct path back onto the relay; a fresh
    // handshake through the relay is the peer's explicit choice and is followed.
    if (!explicit_path && peer.path == PathKind::direct && peer.endpoint_confirmed &&
        now - peer.last_direct_receive < kDirectProbeInterval) {
      return;
    }
    if (peer.path == PathKind::direct) stats_.relay_fallbacks.fetch_add(1, std::memory_order_relaxed);
    peer.path = PathKind::relay;
    peer.endpoint = from;
    peer.next_direct_probe = now + kDirectProbeInterval;
    events.push_back({EngineEventType::path_changed, &peer, from, PathKind::relay,
                      "peer " + peer.identity.fqdn + " now through relay " + from.to_string()});
    return;
  }
  peer.last_direct_receive = now;
  const bool was_confirmed = peer.endpoint_confirmed;
  peer.endpoint_confirmed = true;
  if (peer.endpoint == from && peer.path == PathKind::direct) return;
  const bool changed = (peer.endpoint.valid() && peer.endpoint != from && was_confirmed) ||
                       peer.path == PathKind::relay;
  if (peer.path == PathKind::relay) stats_.direct_upgrades.fetch_add(1, std::memory_order_relaxed);
  peer.endpoint = from;
  peer.path = PathKind::direct;
  if (changed) {
    events.push_back({EngineEventType::path_changed, &peer, from, peer.path,
                      "peer " + peer.identity.fqdn + " now directly at " + from.to_string()});
  }
}

void Engine::drop_session_locked(Peer&, std::shared_ptr<Session>& slot) {
  if (!slot) return;
  table_.remove_path(slot->local_path_id);
  slot.reset();
}

void Engine::install_session_locked(const TunnelTable::Ref& peer,
                                    std::shared_ptr<Session> session) {
  if (peer->previous && peer->previous != session) drop_session_locked(*peer, peer->previous);
  peer->previous = std::move(peer->current);
  peer->current = std::move(session);
  // A handshake completed: hole punching is over, and losing this session later (idle, expiry)
  // must not count as punching that timed out.
  peer->direct_deadline = TimePoint{};
}

void Engine::on_data(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
                     TimePoint now, std::optional<uint32_t> relay_id) {
  auto header = wire::decode_capsule_header(datagram);
  if (!header) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto hit = table_.find_path(header.value().receiver_path_id);
  if (!hit || !hit->session || older_than(now, hit->session->created, kRejectAfterTime)) {
    stats_.dropped_unknown_path.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Session& session = *hit->session;
  const uint64_t counter = header.value().counter;
  std::optional<size_t> inner_length;
  {
    std::lock_guard lock(session.recv_mutex);
    if (!session.replay.check(counter)) {
      stats_.dropped_replay.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto nonce = wire::capsule_nonce(counter);
    auto body = datagram.subspan(wire::kCapsuleHeaderSize);
    inner_length = session.recv_aead.open(nonce, datagram.first(wire::kCapsuleHeaderSize), body,
                                          body);
    if (!inner_length) {
      stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    session.replay.update(counter);
  }
  // Authenticated from here on.
  Peer& peer = *hit->peer;
  // The peer proved it holds the session key, so the path and session bookkeeping below stand;
  // but it may only speak for its own virtual addresses (WireGuard's AllowedIPs rule).
  bool deliverable = *inner_length > 0;
  if (deliverable) {
    switch (classify_inner_source(peer.identity,
                                  datagram.subspan(wire::kCapsuleHeaderSize, *inner_length))) {
      case InnerSource::peer: break;
      case InnerSource::spoofed:
        stats_.dropped_spoofed.fetch_add(1, std::memory_order_relaxed);
        deliverable = false;
        break;
      case InnerSource::malformed:
        stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
        deliverable = false;
        break;
    }
  }
  std::vector<EngineEvent> events;
  bool newly_confirmed = false;
  PathKind path = PathKind::none;
  {
    std::lock_guard lock(peer.mutex);
    if (!session.confirmed.load()) {
      session.confirmed.store(true);
      if (peer.next == hit->session) {
        install_session_locked(hit->peer, std::move(peer.next));
        peer.next.reset();
        newly_confirmed = true;
      }
    }
    update_endpoint_locked(peer, from, relay_id, now, events);
    path = peer.path;
  }
  if (newly_confirmed) {
    stats_.handshakes_completed.fetch_add(1, std::memory_order_relaxed);
    events.insert(events.begin(), {EngineEventType::tunnel_up, &peer, from, path,
                                   "tunnel to " + peer.identity.fqdn + " is up (responder)"});
  }
  peer.touch(now);
  if (deliverable) {
    // Only data asks for a passive keepalive; a keepalive must not, or two peers would answer
    // each other's keepalives forever and the tunnel would never go idle.
    peer.last_received_ns.store(ns(now), std::memory_order_relaxed);
    peer.packets_received.fetch_add(1, std::memory_order_relaxed);
    peer.bytes_received.fetch_add(*inner_length, std::memory_order_relaxed);
  }
  emit(sink, events);
  if (newly_confirmed) flush_queue(hit->peer, sink, now);
  if (deliverable) sink.deliver(datagram.subspan(wire::kCapsuleHeaderSize, *inner_length));
}

void Engine::on_init(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
                     TimePoint now, std::optional<uint32_t> relay_id) {
  auto init = wire::decode_handshake_init(datagram);
  if (!init) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!verify_init_mac(datagram, *own_mac1().keyed)) {
    stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!admit_init(init.value(), datagram, from, relay_id, sink, now)) return;
  auto received = consume_init(config_.static_key, init.value());
  if (!received) {
    stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto peer = table_.find_static_key(received->initiator_static);
  if (!peer) {
    stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::vector<EngineEvent> events;
  {
    std::lock_guard lock(peer->mutex);
    if (received->timestamp_ns <= peer->last_init_timestamp) {
      stats_.dropped_replay.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    peer->last_init_timestamp = received->timestamp_ns;
    const uint32_t path_id = table_.new_path_id();
    HandshakeKeys keys;
    auto response = create_response(*received, path_id, mac1_key_of(peer->identity), keys);
    auto session = std::make_shared<Session>(path_id, received->initiator_path_id,
                                             received->aead, keys, false, now);
    table_.add_path(path_id, peer, session);
    drop_session_locked(*peer, peer->next);
    peer->next = session;
    // A direct init for a tunnel that works through the relay is the peer's probe: answer it
    // directly, but move the path only when authenticated data arrives that way (the answer may
    // not get through: the direct path can work in one direction only).
    if (relay_id || peer->path != PathKind::relay || !peer->current) {
      update_endpoint_locked(*peer, from, relay_id, now, events, /*explicit_path=*/true);
    }
    auto buffer = sink.datagram_buffer(kRelayHeaderRoom + wire::kHandshakeResponseSize);
    size_t size = wire::encode(response, buffer.subspan(kRelayHeaderRoom));
    // The answer goes back the way the init came (the relay or straight to its source).
    std::optional<Peer::Relay> back;
    if (relay_id) back = Peer::Relay{from, *relay_id};
    transmit_to(from, back, buffer, size, sink);
    stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
    stats_.bytes_sent.fetch_add(size, std::memory_order_relaxed);
  }
  peer->touch(now);
  emit(sink, events);
}

void Engine::on_response(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
                         TimePoint now, std::optional<uint32_t> relay_id) {
  auto response = wire::decode_handshake_response(datagram);
  if (!response) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!verify_response_mac(datagram, *own_mac1().keyed)) {
    stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint32_t path_id = response.value().receiver_path_id;
  auto hit = table_.find_path(path_id);
  if (!hit || hit->session) {
    stats_.dropped_unknown_path.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const TunnelTable::Ref& peer = hit->peer;
  std::vector<EngineEvent> events;
  {
    std::lock_guard lock(peer->mutex);
    if (!peer->pending || peer->pending->local_path_id != path_id) {
      stats_.dropped_unknown_path.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto keys = consume_response(peer->pending->state, config_.static_key, response.value());
    if (!keys) {
      stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    peer->add_rtt_sample(now - peer->pending->sent_at);
    auto session = std::make_shared<Session>(path_id, response.value().sender_path_id,
                                             config_.cipher, *keys, true, now);
    table_.remove_path(path_id);
    table_.add_path(path_id, peer, session);
    peer->pending.reset();
    install_session_locked(peer, std::move(session));
    update_endpoint_locked(*peer, from, relay_id, now, events);
    events.insert(events.begin(), {EngineEventType::tunnel_up, peer.shared().get(), from,
                                   peer->path, "tunnel to " + peer->identity.fqdn + " is up"});
  }
  stats_.handshakes_completed.fetch_add(1, std::memory_order_relaxed);
  peer->touch(now);
  peer->last_received_ns.store(ns(now), std::memory_order_relaxed);
  emit(sink, events);
  flush_queue(peer, sink, now);
}

bool Engine::admit_init(const wire::HandshakeInit& init, std::span<const uint8_t> datagram,
                        const Endpoint& from, std::optional<uint32_t> relay_id, EngineSink& sink,
                        TimePoint now) {
  if (limiter_.take(now)) return true;
  // Under load: public-key work only for an init that proves its source address (mac2), and a
  // bounded rate per source.
  if (!cookies_.check_mac2(datagram, from, relay_id, now)) {
    const wire::CookieReply reply = cookies_.make_reply(init, own_mac1().key, from, relay_id, now);
    auto buffer = sink.datagram_buffer(kRelayHeaderRoom + wire::kCookieReplySize);
    const size_t size = wire::encode(reply, buffer.subspan(kRelayHeaderRoom));
    std::optional<Peer::Relay> back;
    if (relay_id) back = Peer::Relay{from, *relay_id};
    transmit_to(from, back, buffer, size, sink);
    stats_.cookie_replies_sent.fetch_add(1, std::memory_order_relaxed);
    stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
    stats_.bytes_sent.fetch_add(size, std::memory_order_relaxed);
    return false;
  }
  if (!limiter_.take_for_source(from, relay_id, now)) {
    stats_.handshakes_throttled.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void Engine::on_cookie_reply(std::span<uint8_t> datagram, EngineSink& sink, TimePoint now) {
  auto reply = wire::decode_cookie_reply(datagram);
  if (!reply) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto hit = table_.find_path(reply.value().receiver_path_id);
  if (!hit || hit->session) {
    stats_.dropped_unknown_path.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const TunnelTable::Ref& peer = hit->peer;
  std::lock_guard lock(peer->mutex);
  if (!peer->pending || peer->pending->local_path_id != reply.value().receiver_path_id) {
    stats_.dropped_unknown_path.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto cookie = open_cookie_reply(reply.value(), mac1_key_of(peer->identity),
                                  peer->pending->sent_mac1);
  if (!cookie) {
    stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  peer->cookie = *cookie;
  peer->cookie_received = now;
  // The peer is under load and dropped our init: send it again at once with mac2, unless that
  // one already had a mac2 (then the peer's secret changed; the regular retry uses the new
  // cookie) - so a responder can make us resend at most once per init of ours.
  if (!peer->pending->sent_mac2 && !peer->pending->probe) {
    start_handshake_locked(peer, sink, now, /*count_attempt=*/false);
  }
}

// --- timers ---

void Engine::tick(EngineSink& sink, TimePoint now) {
  for (const auto& peer : table_.all()) {
    std::vector<EngineEvent> events;
    std::shared_ptr<Session> keepalive_on;
    {
      std::lock_guard lock(peer->mutex);
      if (peer->path_stale && !peer->redirect_requested &&
          older_than(now, peer->stale_since, kRoamTimeout)) {
        peer->redirect_requested = true;
        events.push_back({EngineEventType::needs_direction, peer.shared().get(), peer->endpoint,
                          peer->path,
                          "no answer from " + peer->identity.fqdn + " on the new path"});
      }
      const bool punching_timed_out =
          (!peer->current || peer->path_stale) && peer->path != PathKind::relay && peer->relay &&
          peer->direct_deadline != TimePoint{} && now >= peer->direct_deadline;
      if (peer->pending && peer->pending->probe) {
        // An unanswered probe of the direct candidates: the relay keeps working, try later.
        if (older_than(now, peer->pending->sent_at, kHandshakeRetryInterval)) {
          table_.remove_path(peer->pending->local_path_id);
          peer->pending.reset();
        }
      } else if (punching_timed_out) {
        fall_back_to_relay_locked(peer, sink, now, events);
      } else if (peer->pending &&
                 older_than(now, peer->pending->sent_at, kHandshakeRetryInterval)) {
        if (peer->pending->attempts >= kHandshakeMaxAttempts) {
          table_.remove_path(peer->pending->local_path_id);
          peer->pending.reset();
          stats_.handshakes_failed.fetch_add(1, std::memory_order_relaxed);
          // A failed rekey leaves the current session working: only report a lost tunnel.
          if (!peer->current) {
            peer->queued.clear();
            events.push_back({EngineEventType::tunnel_down, peer.shared().get(), peer->endpoint,
                              peer->path,
                              "handshake with " + peer->identity.fqdn + " timed out"});
          }
        } else {
          start_handshake_locked(peer, sink, now);
        }
      }
      if (peer->path == PathKind::relay && peer->current && !peer->pending &&
          !peer->candidates.empty() && now >= peer->next_direct_probe) {
        start_probe_locked(peer, sink, now);
        peer->next_direct_probe = now + kDirectProbeInterval;
      }
      if (peer->current && older_than(now, peer->current->created, kRejectAfterTime)) {
        drop_session_locked(*peer, peer->current);
        events.push_back({EngineEventType::tunnel_down, peer.shared().get(), peer->endpoint,
                          peer->path, "session with " + peer->identity.fqdn + " expired"});
      }
      if (peer->previous && older_than(now, peer->previous->created, kRejectAfterTime)) {
        drop_session_locked(*peer, peer->previous);
      }
      if (peer->next && older_than(now, peer->next->created, kRejectAfterTime)) {
        drop_session_locked(*peer, peer->next);
      }
      const bool idle = older_than(now, peer->last_use_ns.load(), config_.idle_timeout);
      if (idle && (peer->current || peer->previous || peer->next || peer->pending)) {
        drop_session_locked(*peer, peer->current);
        drop_session_locked(*peer, peer->previous);
        drop_session_locked(*peer, peer->next);
        if (peer->pending) table_.remove_path(peer->pending->local_path_id);
        peer->pending.reset();
        peer->queued.clear();
        events.push_back({EngineEventType::tunnel_down, peer.shared().get(), peer->endpoint,
                          peer->path, "tunnel to " + peer->identity.fqdn + " idle"});
      } else if (peer->current && peer->current->confirmed &&
                 peer->last_received_ns.load() > peer->last_sent_ns.load() &&
                 older_than(now, peer->last_received_ns.load(), kPassiveKeepalive)) {
        keepalive_on = peer->current;
      }
    }
    if (keepalive_on) send_keepalive(*peer, *keepalive_on, sink, now);
    emit(sink, events);
  }
  table_.expire_idle(now, config_.idle_timeout);
}

}  // namespace ntm::tunnel
