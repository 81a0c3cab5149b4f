#include "tunnel/engine.h"

#include <algorithm>
#include <cstring>

#include "tunnel/constants.h"
#include "tunnel/engine_internal.h"

namespace ntm::tunnel {

using detail::emit;
using detail::older_than;

void Engine::tick(EngineSink& sink, TimePoint now) {
  for (const auto& peer : table_.all()) {
    std::vector<EngineEvent> events;
    std::shared_ptr<Session> keepalive_on;
    std::shared_ptr<Session> probe_on;
    uint32_t probe_round = 0;
    {
      std::lock_guard lock(peer->mutex);
      if (mtu_round_due_locked(*peer, now)) {
        probe_on = peer->current;
        probe_round = peer->mtu_round;
      }
      if (relay_watched(*peer) && now - peer->relay_unanswered_since >= kRelaySilence) {
        relay_went_silent_locked(peer, sink, now);
      }
      if (peer->path_stale && !peer->pinned && now >= peer->next_direction_request &&
          !older_than(now, peer->stale_since, kDirectionGiveUp)) {
        request_direction_locked(*peer, now, events);
      }
      if (peer->pending && peer->pending->full_punch_at != TimePoint{} &&
          now >= peer->pending->full_punch_at) {
        // The opening punch has had its lead: now the init that reaches the peer.
        peer->pending->full_punch_at = TimePoint{};
        send_to_candidates_locked(*peer, peer->pending->init_bytes, 0, false, sink);
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
        start_probe_locked(peer, sink, now, /*fresh=*/true);
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
      } else if (peer->current && peer->current->confirmed) {
        const int64_t sent = peer->last_sent_ns.load();
        const int64_t received = peer->last_received_ns.load();
        // Passive: data came and we answered nothing. Persistent: we sent nothing for the
        // keepalive interval (NAT mappings).
        const bool passive = received > sent && older_than(now, received, kPassiveKeepalive);
        const bool persistent = config_.keepalive_interval.count() > 0 &&
                                older_than(now, sent, config_.keepalive_interval);
        if (passive || persistent) keepalive_on = peer->current;
      }
    }
    if (keepalive_on) send_keepalive(*peer, *keepalive_on, sink, now);
    if (probe_on) send_mtu_probes(*peer, *probe_on, probe_round, sink, now);
    emit(sink, events);
  }
  table_.expire_idle(now, config_.idle_timeout);
}


namespace {

// The first instant at which older_than(now, then, age) holds.
TimePoint due(TimePoint then, std::chrono::nanoseconds age) {
  return then + age + std::chrono::nanoseconds(1);
}

TimePoint due(int64_t then_ns, std::chrono::nanoseconds age) {
  return due(TimePoint(std::chrono::nanoseconds(then_ns)), age);
}

}  // namespace

// Mirrors tick() condition by condition: every branch tick() can take has its instant here, and
// nothing that tick() would leave unchanged is reported as due (the node would spin on it).
TimePoint Engine::next_timer(TimePoint now) const {
  TimePoint next = TimePoint::max();
  auto at = [&next](TimePoint t) { next = std::min(next, t); };
  for (const auto& peer : table_.all()) {
    std::lock_guard lock(peer->mutex);
    // Path MTU rounds (mtu_round_due_locked): the end of a round, or the next search - which
    // either starts a round or, for a tunnel not in use, moves itself on.
    if (config_.virtual_mtu != 0 && peer->current && peer->current->confirmed &&
        peer->endpoint.valid()) {
      at(peer->mtu_round_ends != TimePoint{} ? peer->mtu_round_ends : peer->mtu_next_search);
    }
    if (relay_watched(*peer)) {
      at(peer->relay_unanswered_since + kRelaySilence);
    } else if (peer->path == PathKind::relay && peer->current && !peer->path_stale &&
               !peer->pinned) {
      // Sends from other threads arm the watch without waking us (seal_and_send wakes us only
      // for the first send after a quiet kRelaySilence): while the relay carries traffic, look
      // again within kRelaySilence of the last send.
      const auto sent = TimePoint(std::chrono::nanoseconds(peer->last_sent_ns.load()));
      if (now - sent <= kRelaySilence) at(due(sent, kRelaySilence));
    }
    if (peer->path_stale && !peer->pinned && !older_than(now, peer->stale_since, kDirectionGiveUp)) {
      at(peer->next_direction_request);
    }
    if (peer->pending && peer->pending->full_punch_at != TimePoint{}) {
      at(peer->pending->full_punch_at);
    }
    const bool may_fall_back = (!peer->current || peer->path_stale) &&
                               peer->path != PathKind::relay && peer->relay &&
                               peer->direct_deadline != TimePoint{};
    if (peer->pending && peer->pending->probe) {
      at(due(peer->pending->sent_at, kHandshakeRetryInterval));
    } else {
      if (may_fall_back) at(peer->direct_deadline);
      if (peer->pending) at(due(peer->pending->sent_at, kHandshakeRetryInterval));
    }
    if (peer->path == PathKind::relay && peer->current && !peer->pending &&
        !peer->candidates.empty()) {
      at(peer->next_direct_probe);
    }
    for (const auto* session : {&peer->current, &peer->previous, &peer->next}) {
      if (*session) at(due((*session)->created, kRejectAfterTime));
    }
    if (peer->current || peer->previous || peer->next || peer->pending) {
      at(due(peer->last_use_ns.load(), config_.idle_timeout));
    }
    if (peer->current && peer->current->confirmed) {
      const int64_t sent = peer->last_sent_ns.load();
      const int64_t received = peer->last_received_ns.load();
      if (received > sent) at(due(received, kPassiveKeepalive));
      if (config_.keepalive_interval.count() > 0) at(due(sent, config_.keepalive_interval));
    }
  }
  // Entries idle expiry would remove (unpinned, unheld); the Refs above are gone by now.
  at(table_.next_expiry(config_.idle_timeout));
  return next;
}

}  // namespace ntm::tunnel
