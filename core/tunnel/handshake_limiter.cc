#include "tunnel/handshake_limiter.h"

#include <algorithm>
#include <chrono>

#include "tunnel/constants.h"

namespace ntm::tunnel {

HandshakeLimits default_handshake_limits() {
  return {kHandshakeRate, kHandshakeBurst, kHandshakeRatePerSource, kHandshakeBurstPerSource,
          kHandshakeSourcesTracked};
}

HandshakeLimiter::HandshakeLimiter(HandshakeLimits limits) : limits_(limits) {
  node_.tokens = limits_.burst;
}

size_t HandshakeLimiter::SourceKeyHash::operator()(const SourceKey& k) const noexcept {
  size_t h = k.relay_id * 0x9e3779b97f4a7c15ull + (k.relayed ? 1 : 0);
  for (uint8_t b : k.address) h = h * 131 + b;
  return h;
}

bool HandshakeLimiter::take_from(Bucket& b, double rate, double burst, TimePoint now) {
  if (b.updated != TimePoint{} && now > b.updated) {
    const double seconds = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst, b.tokens + seconds * rate);
  }
  if (now > b.updated) b.updated = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

bool HandshakeLimiter::take(TimePoint now) {
  std::lock_guard lock(mutex_);
  if (node_.updated == TimePoint{}) node_.updated = now;
  return take_from(node_, limits_.rate, limits_.burst, now);
}

void HandshakeLimiter::forget_idle_locked(TimePoint now) {
  // A source whose bucket has refilled completely is indistinguishable from a new one.
  const auto full_after = std::chrono::duration<double>(limits_.burst_per_source /
                                                        std::max(limits_.rate_per_source, 1e-9));
  for (auto it = sources_.begin(); it != sources_.end();) {
    if (std::chrono::duration<double>(now - it->second.updated) >= full_after) {
      it = sources_.erase(it);
    } else {
      ++it;
    }
  }
  last_sweep_ = now;
}

bool HandshakeLimiter::take_for_source(const Endpoint& source, std::optional<uint32_t> relay_id,
                                       TimePoint now) {
  SourceKey key;
  key.address[0] = static_cast<uint8_t>(source.family);
  std::copy(source.address.begin(), source.address.end(), key.address.begin() + 1);
  if (relay_id) {
    key.relayed = true;
    key.relay_id = *relay_id;
  }
  std::lock_guard lock(mutex_);
  if (now - last_sweep_ >= std::chrono::seconds(1)) forget_idle_locked(now);
  auto it = sources_.find(key);
  if (it == sources_.end()) {
    if (sources_.size() >= limits_.sources_tracked) return false;
    it = sources_.emplace(key, Bucket{limits_.burst_per_source, now}).first;
  }
  return take_from(it->second, limits_.rate_per_source, limits_.burst_per_source, now);
}

}  // namespace ntm::tunnel
