#include "tunnel/engine.h"

#include <algorithm>
#include <cstring>

#include "tunnel/constants.h"
#include "tunnel/engine_internal.h"
#include "wire/handshake.h"

namespace ntm::tunnel {

using detail::emit;
using detail::restart_mtu_search;

void Engine::start_probe_locked(const TunnelTable::Ref& peer, EngineSink& sink, TimePoint now,
                                bool fresh) {
  const uint32_t path_id = table_.new_path_id();
  auto [state, init] = create_init(config_.static_key, peer->identity.static_public,
                                   mac1_key_of(*peer), path_id, next_timestamp(),
                                   config_.cipher);
  table_.add_path(path_id, peer, nullptr);
  peer->pending = PendingHandshake{std::move(state), path_id, now, now, 1, true};
  peer->pending->sent_mac2 = add_mac2_locked(*peer, init, now);
  peer->pending->sent_mac1 = init.mac;
  stats_.handshakes_initiated.fetch_add(1, std::memory_order_relaxed);
  punch_locked(*peer, init, fresh, sink, now);
}

void Engine::send_to_candidates_locked(const Peer& peer, std::span<const uint8_t> init,
                                       uint8_t hop_limit, bool ipv4_only, EngineSink& sink) {
  for (const auto& candidate : peer.candidates) {
    if (ipv4_only && !candidate.is_v4()) continue;
    auto buffer = sink.datagram_buffer(kRelayHeaderRoom + init.size());
    std::memcpy(buffer.data() + kRelayHeaderRoom, init.data(), init.size());
    if (hop_limit != 0) {
      sink.send_hop_limited(candidate, kRelayHeaderRoom, init.size(), hop_limit);
    } else {
      transmit_to(candidate, std::nullopt, buffer, init.size(), sink);
    }
    stats_.packets_sent.fetch_add(1, std::memory_order_relaxed);
    stats_.bytes_sent.fetch_add(init.size(), std::memory_order_relaxed);
  }
}

void Engine::punch_locked(Peer& peer, const wire::HandshakeInit& init, bool fresh,
                          EngineSink& sink, TimePoint now) {
  std::array<uint8_t, wire::kHandshakeInitSize> bytes{};
  wire::encode(init, bytes);
  if (!fresh || config_.punch_lead <= std::chrono::nanoseconds::zero()) {
    send_to_candidates_locked(peer, bytes, 0, false, sink);
    return;
  }
  const uint8_t open = punch_open_hop_limit_.load(std::memory_order_relaxed);
  if (open != 0) send_to_candidates_locked(peer, bytes, open, /*ipv4_only=*/true, sink);
  peer.pending->init_bytes = bytes;
  peer.pending->full_punch_at = now + config_.punch_lead;
}

void Engine::fall_back_to_relay_locked(const TunnelTable::Ref& peer, EngineSink& sink,
                                       TimePoint now, std::vector<EngineEvent>& events) {
  if (peer->path == PathKind::direct && peer->endpoint_confirmed) {
    stats_.relay_fallbacks.fetch_add(1, std::memory_order_relaxed);
  }
  peer->path = PathKind::relay;
  peer->endpoint = peer->relay->server;
  peer->next_direct_probe = now + kDirectProbeInterval;
  // Punching is over: its deadline is spent (a later punch sets its own).
  peer->direct_deadline = TimePoint{};
  if (peer->path_stale) peer->relayed_while_stale = true;
  restart_mtu_search(*peer, now);
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

void Engine::mark_stale_locked(Peer& peer, TimePoint now, TimePoint first_direction_request) {
  peer.path_stale = true;
  peer.stale_since = now;
  peer.relayed_while_stale = false;
  peer.next_direction_request = first_direction_request;
  peer.direction_requests = 0;
  // Without an answer by then, a tunnel with a relay uses it (tick: punching timed out); one
  // without a relay yet gets its deadline from the Direction that brings one.
  peer.direct_deadline = peer.relay && peer.path != PathKind::relay
                             ? now + config_.direct_timeout
                             : TimePoint{};
}

bool Engine::relay_watched(const Peer& peer) {
  return peer.path == PathKind::relay && peer.current && !peer.path_stale && !peer.pinned &&
         peer.relay_unanswered_since != TimePoint{};
}

void Engine::relay_went_silent_locked(const TunnelTable::Ref& peer, EngineSink& sink,
                                      TimePoint now) {
  peer->relay_unanswered_since = TimePoint{};
  peer->relay_suspect = true;
  // The handshake is the probe: answered through the relay, the path works (the peer only had
  // nothing to say) and the first answer ends the staleness; unanswered, the DC is asked.
  mark_stale_locked(*peer, now, now + kRelayProbeWait);
  if (peer->pending) {
    table_.remove_path(peer->pending->local_path_id);
    peer->pending.reset();
  }
  start_handshake_locked(peer, sink, now);
}

void Engine::request_direction_locked(Peer& peer, TimePoint now, std::vector<EngineEvent>& events) {
  ++peer.direction_requests;
  const auto backoff = std::min<std::chrono::nanoseconds>(
      kDirectionRetry * (1 << std::min(peer.direction_requests - 1, 8)), kDirectionRetryMax);
  peer.next_direction_request = now + backoff;
  std::string why = peer.direction_requests == 1
                        ? "no answer yet from " + peer.identity.fqdn + " on the current path"
                        : "still no answer from " + peer.identity.fqdn + " after " +
                              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 now - peer.stale_since)
                                                 .count()) +
                              " ms";
  const bool relay_failed = peer.relay_suspect && peer.path == PathKind::relay;
  if (relay_failed) why += " through the relay at " + peer.endpoint.to_string();
  events.push_back({EngineEventType::needs_direction, &peer, peer.endpoint, peer.path,
                    why + ": asking the DC for a path (request " +
                        std::to_string(peer.direction_requests) + ")",
                    relay_failed ? peer.endpoint : Endpoint{}});
}

void Engine::on_network_change(EngineSink& sink, TimePoint now) {
  for (const auto& peer : table_.all()) {
    std::vector<EngineEvent> events;
    {
      std::lock_guard lock(peer->mutex);
      if (!peer->current && !peer->pending) continue;
      mark_stale_locked(*peer, now, now);
      // Ask the DC now, in parallel with the path update below: if the peer cannot be reached
      // from here (a new NAT it must punch towards, another address family), waiting for the
      // update to go unanswered first would only add to the gap.
      if (!peer->pinned) request_direction_locked(*peer, now, events);
      // A handshake is the path update: authenticated, answered, and it moves the peer's view
      // of our endpoint. It goes where the tunnel went (the peer, or the relay).
      if (peer->pending) {
        table_.remove_path(peer->pending->local_path_id);
        peer->pending.reset();
      }
      if (peer->endpoint.valid()) start_handshake_locked(peer, sink, now);
    }
    emit(sink, events);
  }
}

void Engine::on_registered(EngineSink& sink, TimePoint now) {
  for (const auto& peer : table_.all()) {
    std::vector<EngineEvent> events;
    {
      std::lock_guard lock(peer->mutex);
      if (!peer->path_stale || peer->pinned) continue;
      // The DC knows where we are now: a direction asked for before may have been lost or
      // computed from our old address.
      request_direction_locked(*peer, now, events);
    }
    emit(sink, events);
  }
}

void Engine::on_relay_bound(const Endpoint& server, EngineSink& sink, TimePoint now) {
  bool sent = false;
  for (const auto& peer : table_.all()) {
    std::lock_guard lock(peer->mutex);
    if (peer->path != PathKind::relay || !peer->relay || !(peer->relay->server == server)) continue;
    if (!peer->pending || peer->pending->probe) continue;  // probes go to the candidates
    // Not a new attempt: the last one never got past the RS.
    start_handshake_locked(peer, sink, now, /*count_attempt=*/false);
    sent = true;
  }
  if (sent) sink.timers_changed();
}

void Engine::direct(const TunnelTable::Ref& peer, std::vector<Endpoint> candidates,
                    std::optional<Peer::Relay> relay, EngineSink& sink, TimePoint now) {
  std::vector<EngineEvent> events;
  {
    std::lock_guard lock(peer->mutex);
    peer->touch(now);
    const bool same_candidates = peer->candidates == candidates;
    peer->candidates = std::move(candidates);
    // A relayed tunnel given another relay (its RS died, and one end asked the DC for a path
    // avoiding it): both ends move to it now, whether or not this end noticed the silence.
    const bool relay_moved = peer->path == PathKind::relay && relay && peer->relay &&
                             (peer->relay->server != relay->server ||
                              peer->relay->relay_id != relay->relay_id);
    peer->relay = std::move(relay);
    if (relay_moved && peer->current && !peer->path_stale) {
      // (A stale end takes the new relay below.) Direct candidates offered too are probed at
      // the next kDirectProbeInterval.
      peer->relay_unanswered_since = TimePoint{};
      fall_back_to_relay_locked(peer, sink, now, events);
    } else if (peer->current && !peer->path_stale) {
      keep_or_probe_locked(peer, sink, now, events);
    } else if (peer->path_stale && peer->relayed_while_stale && peer->relay) {
      // Punching already gave up in this episode: stay on the relay (a new one if this
      // Direction names another) rather than punch again and wait another direct timeout.
      if (peer->relay->server != peer->endpoint) {
        fall_back_to_relay_locked(peer, sink, now, events);
      } else if (!peer->pending) {
        start_handshake_locked(peer, sink, now);
      }
    } else {
      // The peer is not where our path update went (it moved too, or we were relayed): our
      // NAT has no mapping towards it, and it may punch towards us at this very moment.
      bool open_nat_first = false;
      if (peer->path_stale) {
        open_nat_first = std::find(peer->candidates.begin(), peer->candidates.end(),
                                   peer->endpoint) == peer->candidates.end();
        // The same candidates again (both ends ask the DC several times while stale): the
        // handshake already punching towards them goes on, and an answer to it still counts.
        const bool punching_them = same_candidates && !peer->endpoint_confirmed &&
                                   peer->pending && !peer->pending->probe &&
                                   peer->path == PathKind::direct;
        if (!punching_them) {
          // Punch again from scratch: the old endpoint is dead, the session keys still good.
          peer->endpoint_confirmed = false;
          if (peer->path == PathKind::relay && !peer->candidates.empty() && !relay_moved) {
            peer->path = PathKind::direct;
          }
          if (peer->pending) {
            table_.remove_path(peer->pending->local_path_id);
            peer->pending.reset();
          }
        }
      }
      // No common family: the relay at once. Nor does a relayed tunnel whose RS died punch
      // first when the DC gives it another relay (the ends were relayed because punching
      // failed between them): a direct_timeout of punching would add to the RS's outage. Its
      // direct candidates are probed at the next kDirectProbeInterval, as on any relayed tunnel.
      if ((peer->candidates.empty() || relay_moved) && peer->relay) {
        fall_back_to_relay_locked(peer, sink, now, events);
      } else {
        // One deadline per attempt to punch: Directions repeated meanwhile do not postpone
        // the relay (they used to, by up to 2 s after a move).
        if (peer->direct_deadline == TimePoint{}) {
          peer->direct_deadline = now + config_.direct_timeout;
        }
        if (!peer->pending) {
          start_handshake_locked(peer, sink, now, /*count_attempt=*/true, open_nat_first);
        }
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
  // A relayed tunnel offered direct candidates tries them now rather than at its next periodic
  // probe: the peer (which asked) is punching towards us at this moment.
  const bool upgrade = peer->path == PathKind::relay && !peer->candidates.empty();
  if (moved && peer->pending && !peer->pending->probe) {
    // A handshake still going to the old endpoint (a retry, a rekey) would never be answered:
    // the probe replaces it (its answer installs a session just the same).
    table_.remove_path(peer->pending->local_path_id);
    peer->pending.reset();
  }
  if ((moved || upgrade) && !peer->pending) {
    // A moved peer's own path update has opened its NAT already: punch at once.
    start_probe_locked(peer, sink, now, /*fresh=*/!moved);
    if (upgrade) peer->next_direct_probe = now + kDirectProbeInterval;
  } else if (peer->candidates.empty() && peer->relay && peer->path == PathKind::direct &&
             now - peer->last_direct_receive > kDirectProbeInterval) {
    fall_back_to_relay_locked(peer, sink, now, events);
  }
}

void Engine::update_endpoint_locked(Peer& peer, const Endpoint& from,
                                    std::optional<uint32_t> relay_id, TimePoint now,
                                    std::vector<EngineEvent>& events, bool explicit_path) {
  // The peer answered: whatever went out through the relay was not lost.
  peer.relay_unanswered_since = TimePoint{};
  peer.relay_suspect = false;
  if (peer.path_stale) {
    // The peer answered on our new path (or told us its new one): mobility is done for it.
    peer.path_stale = false;
    peer.relayed_while_stale = false;
    peer.direction_requests = 0;
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
    restart_mtu_search(peer, now);
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
  restart_mtu_search(peer, now);
  if (changed) {
    events.push_back({EngineEventType::path_changed, &peer, from, peer.path,
                      "peer " + peer.identity.fqdn + " now directly at " + from.to_string()});
  }
}

}  // namespace ntm::tunnel
