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

namespace {
constexpr auto kForgetFailuresAfter = std::chrono::hours(24);
}  // namespace

bool AccountBackoff::allowed(std::string_view account, Clock::time_point now,
                             std::chrono::milliseconds& retry_after) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(std::string(account));
  if (it == entries_.end() || now >= it->second.locked_until) return true;
  retry_after = std::chrono::ceil<std::chrono::milliseconds>(it->second.locked_until - now);
  return false;
}

void AccountBackoff::record_failure(std::string_view account, Clock::time_point now) {
  std::lock_guard lock(mu_);
  if (entries_.size() >= max_entries_) {
    for (auto it = entries_.begin(); it != entries_.end();)
      it = now >= it->second.locked_until ? entries_.erase(it) : std::next(it);
    if (entries_.size() >= max_entries_) return;  // all locked: keep those
  }
  Entry& e = entries_[std::string(account)];
  if (e.failures > 0 && now - e.last_failure > kForgetFailuresAfter) e.failures = 0;
  ++e.failures;
  e.last_failure = now;
  if (e.failures < free_) return;
  // base, 2 base, 4 base... for the failures past the free ones.
  const unsigned doublings = std::min(e.failures - free_, 30u);
  auto lock_for = base_ * (int64_t{1} << doublings);
  if (lock_for > max_ || lock_for < base_) lock_for = max_;
  e.locked_until = now + lock_for;
}

void AccountBackoff::record_success(std::string_view account) {
  std::lock_guard lock(mu_);
  entries_.erase(std::string(account));
}

}  // namespace ntm::servers
