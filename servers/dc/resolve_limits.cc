#include "dc/resolve_limits.h"

#include <algorithm>

namespace ntm::servers {

bool ResolveLimits::Bucket::take(double rate, double burst, Clock::time_point now,
                                 bool dry_run) {
  if (at == Clock::time_point{}) {
    tokens = burst;
  } else {
    const double elapsed = std::chrono::duration<double>(now - at).count();
    tokens = std::min(burst, tokens + std::max(0.0, elapsed) * rate);
  }
  at = now;
  if (tokens < 1) return false;
  if (!dry_run) tokens -= 1;
  return true;
}

ResolveLimits::Verdict ResolveLimits::admit(uint64_t requester, uint64_t target, uint64_t ends,
                                            Clock::time_point now,
                                            std::optional<size_t> failed_relay) {
  if (auto it = pairs_.find(key(requester, target)); it != pairs_.end()) {
    const bool through_failed = failed_relay && it->second.relay == failed_relay;
    if (it->second.ends == ends && now - it->second.at < config_.pair_interval && !through_failed)
      return Verdict::coalesce;
  }
  // Both buckets must have a token before either is spent.
  Bucket& from = requesters_[requester];
  Bucket& to = targets_[target];
  if (!from.take(config_.requester_per_second, config_.requester_burst, now, true) ||
      !to.take(config_.target_per_second, config_.target_burst, now, true))
    return Verdict::limited;
  from.take(config_.requester_per_second, config_.requester_burst, now, false);
  to.take(config_.target_per_second, config_.target_burst, now, false);
  return Verdict::direct;
}

void ResolveLimits::directed(uint64_t a, uint64_t b, uint64_t ends, Clock::time_point now,
                             std::optional<size_t> relay) {
  pairs_[key(a, b)] = Pair{ends, now, relay};
}

void ResolveLimits::forget(uint64_t node) {
  requesters_.erase(node);
  targets_.erase(node);
  std::erase_if(pairs_, [&](const auto& kv) {
    return kv.first.first == node || kv.first.second == node;
  });
}

void ResolveLimits::sweep(Clock::time_point now) {
  std::erase_if(pairs_, [&](const auto& kv) { return now - kv.second.at >= config_.pair_interval; });
  auto full = [&](double rate, double burst) {
    return [&, rate, burst](const auto& kv) {
      const double elapsed = std::chrono::duration<double>(now - kv.second.at).count();
      return kv.second.tokens + elapsed * rate >= burst;
    };
  };
  std::erase_if(requesters_, full(config_.requester_per_second, config_.requester_burst));
  std::erase_if(targets_, full(config_.target_per_second, config_.target_burst));
}

}  // namespace ntm::servers
