#include "common/log_limiter.h"

namespace ntm::servers {

bool LogLimiter::allow(uint64_t& suppressed, Clock::time_point now) {
  std::lock_guard lock(mu_);
  suppressed = 0;
  if (now - window_start_ >= window_) {
    window_start_ = now;
    written_ = 0;
  }
  if (written_ >= lines_) {
    ++dropped_;
    return false;
  }
  ++written_;
  suppressed = dropped_;
  dropped_ = 0;
  return true;
}

}  // namespace ntm::servers
