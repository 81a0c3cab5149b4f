#include "tunnel/engine.h"

#include <algorithm>
#include <cstring>

#include "tunnel/constants.h"
#include "tunnel/engine_internal.h"
#include "wire/handshake.h"

namespace ntm::tunnel {

using detail::emit;
using detail::ns;

bool Engine::add_mac2_locked(const Peer& peer, wire::HandshakeInit& init, TimePoint now) const {
  if (!peer.cookie || now - peer.cookie_received >= kCookieUseTime) return false;
  std::array<uint8_t, wire::kHandshakeInitSize> encoded{};
  wire::encode(init, encoded);
  init.mac2 = init_mac2(*peer.cookie, encoded);
  return true;
}

void Engine::start_handshake_locked(const TunnelTable::Ref& peer, EngineSink& sink,
                                    TimePoint now, bool count_attempt,
                                    bool open_nat_first) {
  const bool punching = peer->path != PathKind::relay && !peer->candidates.empty() &&
                        !peer->endpoint_confirmed;
  if (!peer->endpoint.valid() && !punching) return;
  const uint32_t path_id = table_.new_path_id();
  auto [state, init] = create_init(config_.static_key, peer->identity.static_public,
                                   mac1_key_of(*peer), path_id, next_timestamp(),
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
    // Hole punching: the same init to every candidate; the first answer wins. A tunnel without
    // a session starts with the opening punch (constants.h, kPunchLead); retries go at once.
    const bool fresh = open_nat_first || (!peer->current && peer->pending->attempts == 1);
    punch_locked(*peer, init, fresh, sink, now);
    return;
  }
  auto buffer = sink.datagram_buffer(kRelayHeaderRoom + wire::kHandshakeInitSize);
  size_t size = wire::encode(init, buffer.subspan(kRelayHeaderRoom));
  transmit_locked(*peer, buffer, size, sink);
  stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_sent.fetch_add(size, std::memory_order_relaxed);
}

void Engine::connect(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now) {
  {
    std::lock_guard lock(peer->mutex);
    peer->touch(now);
    if (peer->current || peer->pending) return;
    start_handshake_locked(peer, sink, now);
  }
  sink.timers_changed();
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

void Engine::on_init(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
                     TimePoint now, std::optional<uint32_t> relay_id) {
  auto init = wire::decode_handshake_init(datagram);
  if (!init) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!mac1_ok(datagram, /*init=*/true, now)) return;
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
    auto response = create_response(*received, path_id, mac1_key_of(*peer), keys);
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
  if (!mac1_ok(datagram, /*init=*/false, now)) return;
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
  auto cookie = open_cookie_reply(reply.value(), mac1_key_of(*peer),
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

}  // namespace ntm::tunnel
