#include "as/rate_limiter.h"

#include <cmath>

namespace ntm::servers {

size_t FailureRateLimiter::KeyHash::operator()(const AddressKey& k) const noexcept {
  size_t h = static_cast<size_t>(k.family);
  for (uint8_t b : k.address) h = h * 131 + b;
  return h;
}

void FailureRateLimiter::refill(Bucket& b, Clock::time_point now) const {
  const double elapsed = std::chrono::duration<double, std::milli>(now - b.last).count();
  b.tokens = std::min<double>(burst_, b.tokens + elapsed / static_cast<double>(refill_.count()));
  b.last = now;
}

bool FailureRateLimiter::allowed(const Endpoint& from, Clock::time_point now,
                                 std::chrono::seconds& retry_after) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key_of(from));
  if (it == buckets_.end()) return true;
  refill(it->second, now);
  if (it->second.tokens >= 1.0) return true;
  const double wait_ms = (1.0 - it->second.tokens) * static_cast<double>(refill_.count());
  retry_after = std::chrono::seconds(static_cast<long>(std::ceil(wait_ms / 1000.0)));
  return false;
}

void FailureRateLimiter::record_failure(const Endpoint& from, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (buckets_.size() >= max_entries_) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      refill(it->second, now);
      it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, inserted] = buckets_.try_emplace(key_of(from), Bucket{double(burst_), now});
  if (!inserted) refill(it->second, now);
  it->second.tokens = std::max(0.0, it->second.tokens - 1.0);
}

}  // namespace ntm::servers
