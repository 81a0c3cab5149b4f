// Path MTU discovery (path_mtu.h): rounds of padded probes, the peer's acknowledgements, and the
// tunnel's path_mtu that the node lowers its virtual interface to.
#include <algorithm>
#include <cstring>

#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "tunnel/engine_internal.h"
#include "tunnel/path_mtu.h"

namespace ntm::tunnel {

using detail::ns;
using detail::older_than;

bool Engine::mtu_round_due_locked(Peer& peer, TimePoint now) {
  if (config_.virtual_mtu == 0 || !peer.current || !peer.current->confirmed ||
      !peer.endpoint.valid()) {
    return false;
  }
  if (peer.mtu_round_ends != TimePoint{}) {
    if (now < peer.mtu_round_ends) return false;
    // The round is over: its largest acknowledged size is the path MTU.
    peer.mtu_round_ends = TimePoint{};
    if (peer.mtu_acked != 0) {
      peer.path_mtu.store(peer.mtu_acked, std::memory_order_relaxed);
      peer.mtu_rounds_unanswered = 0;
      peer.mtu_next_search = now + kMtuSearchInterval;
    } else if (++peer.mtu_rounds_unanswered >= kMtuMaxRounds) {
      peer.mtu_next_search = now + kMtuSearchInterval;  // the peer may not answer probes
    } else {
      peer.mtu_next_search = now;
    }
  }
  if (now < peer.mtu_next_search) return false;
  // A search after the first needs a tunnel in use: probes must not keep an idle one alive.
  if (peer.path_mtu.load(std::memory_order_relaxed) != 0 &&
      older_than(now, peer.last_use_ns.load(std::memory_order_relaxed), kMtuActiveWithin)) {
    peer.mtu_next_search = now + kMtuSearchInterval;
    return false;
  }
  peer.mtu_round = next_mtu_round_.fetch_add(1, std::memory_order_relaxed);
  peer.mtu_round_ends = now + kMtuRoundTime;
  peer.mtu_acked = 0;
  return true;
}

void Engine::send_mtu_probes(Peer& peer, Session& session, uint32_t round, EngineSink& sink,
                             TimePoint now) {
  const int64_t last_use = peer.last_use_ns.load(std::memory_order_relaxed);
  bool relayed = false;
  {
    std::lock_guard lock(peer.mutex);
    relayed = peer.path == PathKind::relay && peer.relay.has_value();
  }
  for (uint16_t size : mtu_probe_sizes(probe_ceiling(config_.virtual_mtu, relayed))) {
    auto buffer = sink.datagram_buffer(kDatagramHeadroom + size + kDatagramTailroom);
    encode_mtu_control({kControlMtuProbe, round, size},
                       std::span(buffer).subspan(kDatagramHeadroom, size));
    seal_and_send(peer, session, buffer, size, sink, now);
  }
  // Probes are not use: an idle tunnel must still go idle.
  peer.last_use_ns.store(last_use, std::memory_order_relaxed);
}

void Engine::on_tunnel_control(Peer& peer, std::span<const uint8_t> plaintext, EngineSink& sink,
                               TimePoint now) {
  auto message = decode_mtu_control(plaintext);
  if (!message) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (message->type == kControlMtuAck) {
    std::lock_guard lock(peer.mutex);
    if (message->round == peer.mtu_round && peer.mtu_round_ends != TimePoint{}) {
      peer.mtu_acked = std::max(peer.mtu_acked, message->size);
    }
    return;
  }
  // A probe: acknowledge its size on our current session.
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(peer.mutex);
    session = peer.current;
  }
  if (!session || !session->confirmed) return;
  const int64_t last_use = peer.last_use_ns.load(std::memory_order_relaxed);
  auto buffer = sink.datagram_buffer(kDatagramHeadroom + kMtuControlSize + kDatagramTailroom);
  encode_mtu_control({kControlMtuAck, message->round, message->size},
                     std::span(buffer).subspan(kDatagramHeadroom, kMtuControlSize));
  seal_and_send(peer, *session, buffer, kMtuControlSize, sink, now);
  peer.last_use_ns.store(last_use, std::memory_order_relaxed);
}

}  // namespace ntm::tunnel
