#include "tunnel/engine.h"

#include <algorithm>
#include <cstring>

#include "tunnel/access.h"
#include "tunnel/constants.h"
#include "tunnel/engine_internal.h"
#include "tunnel/inner_source.h"
#include "tunnel/path_mtu.h"
#include "wire/capsule.h"

namespace ntm::tunnel {

using detail::emit;
using detail::ns;
using detail::older_than;

SendResult Engine::send_inner(std::span<uint8_t> datagram, size_t inner_length,
                              EngineSink& sink, TimePoint now) {
  auto inner = datagram.subspan(kDatagramHeadroom, inner_length);
  auto peer = peer_for_inner(inner);
  if (!peer) {
    stats_.dropped_no_tunnel.fetch_add(1, std::memory_order_relaxed);
    return SendResult::no_tunnel;
  }
  std::shared_ptr<Session> session;
  bool queued = false;
  bool armed = false;  // a handshake started or the path went stale: the node's timers moved
  {
    std::lock_guard lock(peer->mutex);
    if (peer->access.restricted &&
        !access_allows_outbound(peer->access, peer->udp_flows, inner, now)) {
      stats_.dropped_policy.fetch_add(1, std::memory_order_relaxed);
      return SendResult::dropped;
    }
    session = peer->current;
    if (session && older_than(now, session->created, kRejectAfterTime)) session.reset();
    if (!session || !peer->endpoint.valid()) {
      // Queuing is use too: without it a new peer (last use 0) counts as idle, and tick() would
      // drop its handshake and expire_idle() the entry before the first answer.
      peer->touch(now);
      if (!session && !peer->pending && !peer->pinned && peer->endpoint_confirmed &&
          !peer->path_stale) {
        // A tunnel that went idle starts again: the peer may have moved meanwhile (or its NAT
        // forgotten us), so unless it answers soon the DC is asked where it is.
        mark_stale_locked(*peer, now, now + kResumeDirectionDelay);
        armed = true;
      }
      if (peer->queued.size() >= kMaxQueuedPackets) peer->queued.erase(peer->queued.begin());
      peer->queued.emplace_back(inner.begin(), inner.end());
      if (!peer->pending && peer->endpoint.valid()) {
        start_handshake_locked(peer, sink, now);
        armed = true;
      }
      queued = true;
    } else if (!peer->pending &&
        older_than(now, session->created,
                   session->is_initiator ? kRekeyAfterTime : kResponderRekeyAfterTime)) {
      // Keep sending on the old session; the new one takes over when it is up. The handshake
      // reuses the sink's buffer, so save the packet first (rare: once per rekey).
      std::vector<uint8_t> copy(inner.begin(), inner.end());
      start_handshake_locked(peer, sink, now);
      armed = true;
      datagram = sink.datagram_buffer(kDatagramHeadroom + inner_length + kDatagramTailroom);
      std::memcpy(datagram.data() + kDatagramHeadroom, copy.data(), copy.size());
    }
  }
  if (armed) sink.timers_changed();
  if (queued) return SendResult::queued;
  seal_and_send(*peer, *session, datagram, inner_length, sink, now);
  return SendResult::sent;
}

void Engine::seal_and_send(Peer& peer, Session& session, std::span<uint8_t> datagram,
                           size_t inner_length, EngineSink& sink, TimePoint now) {
  seal_and_send(peer, session, datagram, inner_length, sink, now, /*use=*/true);
}

void Engine::seal_and_send(Peer& peer, Session& session, std::span<uint8_t> datagram,
                           size_t inner_length, EngineSink& sink, TimePoint now, bool use) {
  const size_t total = wire::kCapsuleHeaderSize + inner_length + wire::kTagSize;
  auto capsule = datagram.subspan(kRelayHeaderRoom);
  Endpoint to;
  std::optional<Peer::Relay> relay;
  bool wake = false;
  {
    std::lock_guard lock(peer.mutex);
    to = peer.endpoint;
    if (peer.path == PathKind::relay) {
      relay = peer.relay;
      // Data through the relay arms its watch (kRelaySilence; the peer's answer disarms it).
      // The timer thread looks again within kRelaySilence of any send while the relay carries
      // traffic (next_timer), so only the first send after a quiet spell wakes it.
      if (use && inner_length > 0 && peer.relay_unanswered_since == TimePoint{}) {
        peer.relay_unanswered_since = now;
        wake = now - TimePoint(std::chrono::nanoseconds(peer.last_sent_ns.load())) > kRelaySilence;
      }
    }
  }
  UnsealedCapsule unsealed{session.weak_from_this().lock(), 0, kRelayHeaderRoom, inner_length};
  {
    std::lock_guard lock(session.send_mutex);
    unsealed.counter = session.send_counter++;
    wire::CapsuleHeader header{0, session.remote_path_id, unsealed.counter};
    wire::encode_capsule_header(header, capsule.first<wire::kCapsuleHeaderSize>());
  }
  // The AEAD may run elsewhere (the node's TX worker); if the sink does not take it, here.
  const auto [dest, offset, length] = wrap_for_path(to, relay, datagram, total);
  if (!unsealed.session || !sink.send_unsealed(dest, offset, length, unsealed)) {
    std::lock_guard lock(session.send_mutex);
    auto nonce = wire::capsule_nonce(unsealed.counter);
    session.send_aead.seal(nonce, capsule.first(wire::kCapsuleHeaderSize),
                           capsule.subspan(wire::kCapsuleHeaderSize, inner_length),
                           capsule.subspan(wire::kCapsuleHeaderSize, inner_length + wire::kTagSize));
    sink.send(dest, offset, length);
  }
  if (use) peer.touch(now);
  peer.last_sent_ns.store(ns(now), std::memory_order_relaxed);
  if (wake) sink.timers_changed();
  if (inner_length > 0) {
    peer.packets_sent.fetch_add(1, std::memory_order_relaxed);
    peer.bytes_sent.fetch_add(inner_length, std::memory_order_relaxed);
  }
  stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_sent.fetch_add(total, std::memory_order_relaxed);
}

void Engine::send_keepalive(Peer& peer, Session& session, EngineSink& sink, TimePoint now) {
  auto buffer = sink.datagram_buffer(kDatagramHeadroom + kDatagramTailroom);
  seal_and_send(peer, session, buffer, 0, sink, now, /*use=*/false);
}

void seal_capsule(const UnsealedCapsule& c, std::span<uint8_t> buffer) {
  auto capsule = buffer.subspan(c.capsule_offset);
  Session& session = *c.session;
  std::lock_guard lock(session.send_mutex);
  session.send_aead.seal(wire::capsule_nonce(c.counter), capsule.first(wire::kCapsuleHeaderSize),
                         capsule.subspan(wire::kCapsuleHeaderSize, c.inner_length),
                         capsule.subspan(wire::kCapsuleHeaderSize, c.inner_length + wire::kTagSize));
}

Engine::Wrapped Engine::wrap_for_path(const Endpoint& to, const std::optional<Peer::Relay>& relay,
                                      std::span<uint8_t> buffer, size_t length) {
  if (relay) {
    // type 0x30 | flags | reserved u16 | relay_id u32, then the tunnel datagram unchanged.
    buffer[0] = wire::kRelayedType;
    buffer[1] = 0;
    buffer[2] = 0;
    buffer[3] = 0;
    for (int i = 0; i < 4; ++i) buffer[4 + i] = static_cast<uint8_t>(relay->relay_id >> (24 - 8 * i));
    return {relay->server, 0, kRelayHeaderRoom + length};
  }
  return {to, kRelayHeaderRoom, length};
}

void Engine::transmit_to(const Endpoint& to, const std::optional<Peer::Relay>& relay,
                         std::span<uint8_t> buffer, size_t length, EngineSink& sink) {
  const auto [dest, offset, total] = wrap_for_path(to, relay, buffer, length);
  sink.send(dest, offset, total);
}

void Engine::transmit_locked(Peer& peer, std::span<uint8_t> buffer, size_t length,
                             EngineSink& sink) {
  std::optional<Peer::Relay> relay;
  if (peer.path == PathKind::relay) relay = peer.relay;
  transmit_to(peer.endpoint, relay, buffer, length, sink);
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
  const auto plaintext = datagram.subspan(wire::kCapsuleHeaderSize, *inner_length);
  // A probe or an ack of path MTU discovery: the engine's own, never the stack's.
  const bool control = is_tunnel_control(plaintext);
  bool deliverable = *inner_length > 0 && !control;
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
    // The access policy (access.h): the peer may open only the ports the DC allowed it.
    if (deliverable && peer.access.restricted &&
        !access_allows_inbound(peer.access, peer.udp_flows, plaintext, now)) {
      stats_.dropped_policy.fetch_add(1, std::memory_order_relaxed);
      deliverable = false;
    }
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
  // An empty packet (a keepalive) is not use: tunnels that only exchange keepalives go idle.
  if (deliverable || newly_confirmed) peer.touch(now);
  if (deliverable) {
    // Only data asks for a passive keepalive; a keepalive must not, or two peers would answer
    // each other's keepalives forever and the tunnel would never go idle.
    peer.last_received_ns.store(ns(now), std::memory_order_relaxed);
    peer.packets_received.fetch_add(1, std::memory_order_relaxed);
    peer.bytes_received.fetch_add(*inner_length, std::memory_order_relaxed);
  }
  emit(sink, events);
  if (newly_confirmed) flush_queue(hit->peer, sink, now);
  if (control) on_tunnel_control(peer, plaintext, sink, now);
  if (deliverable) sink.deliver(plaintext);
}

}  // namespace ntm::tunnel
