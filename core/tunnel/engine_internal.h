// Helpers shared by the engine's source files (engine.cc: dispatch and lookups; engine_data.cc:
// sealing, sending and opening data; engine_handshake.cc: sessions; engine_paths.cc: endpoints,
// punching, relay fallback and roaming; engine_timers.cc: tick). Not part of the engine's API.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "tunnel/engine.h"
#include "tunnel/peer.h"

namespace ntm::tunnel::detail {

inline int64_t ns(TimePoint t) { return t.time_since_epoch().count(); }

inline bool older_than(TimePoint now, TimePoint then, std::chrono::nanoseconds age) {
  return now - then > age;
}

inline bool older_than(TimePoint now, int64_t then_ns, std::chrono::nanoseconds age) {
  return ns(now) - then_ns > age.count();
}

// The peer's path changed: measure its MTU again (path_mtu.h), from the next tick on.
inline void restart_mtu_search(Peer& peer, TimePoint now) {
  peer.mtu_next_search = now;
  peer.mtu_rounds_unanswered = 0;
}

// Events are collected under a peer's lock and emitted after it is released.
inline void emit(EngineSink& sink, const std::vector<EngineEvent>& events) {
  for (const auto& e : events) sink.event(e);
}

}  // namespace ntm::tunnel::detail
