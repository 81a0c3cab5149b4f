// How much public-key work handshake inits may cost a node. A token bucket for the whole node
// (kHandshakeRate per second, kHandshakeBurst at once) decides when it is under load; under load
// only inits with a valid mac2 are handled (cookie.h), at most kHandshakeRatePerSource per second
// from one source address (WireGuard's ratelimiter: by IP, not port, so one host cannot multiply
// its share with ports; relayed inits count by Relay Server and relay id). Thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "tunnel/peer.h"
#include "util/endpoint.h"

namespace ntm::tunnel {

struct HandshakeLimits {
  double rate = 0;  // per second, for the whole node
  double burst = 0;
  double rate_per_source = 0;
  double burst_per_source = 0;
  size_t sources_tracked = 0;
};

HandshakeLimits default_handshake_limits();

class HandshakeLimiter {
 public:
  explicit HandshakeLimiter(HandshakeLimits limits);

  // Takes one init's worth of the node's budget. false: the node is under load.
  bool take(TimePoint now);
  // Under load: may this source have an init handled now? (Takes from its own budget.)
  bool take_for_source(const Endpoint& source, std::optional<uint32_t> relay_id, TimePoint now);

 private:
  struct Bucket {
    double tokens = 0;
    TimePoint updated{};
  };
  struct SourceKey {
    std::array<uint8_t, 17> address{};  // family | address (no port)
    uint32_t relay_id = 0;
    bool relayed = false;
    friend bool operator==(const SourceKey&, const SourceKey&) = default;
  };
  struct SourceKeyHash {
    size_t operator()(const SourceKey& k) const noexcept;
  };

  static bool take_from(Bucket& b, double rate, double burst, TimePoint now);
  void forget_idle_locked(TimePoint now);

  const HandshakeLimits limits_;
  std::mutex mutex_;
  Bucket node_;
  std::unordered_map<SourceKey, Bucket, SourceKeyHash> sources_;
  TimePoint last_sweep_{};
};

}  // namespace ntm::tunnel
