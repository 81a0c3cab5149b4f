// Rate-limited log lines. A flood (thousands of connections, a password-guessing run) must not
// flood the log: each kind of line gets at most `lines` per `window`; the first line written
// after a window in which lines were dropped says how many were.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "util/log.h"

namespace ntm::servers {

class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  LogLimiter(unsigned lines, std::chrono::milliseconds window) : lines_(lines), window_(window) {}

  // True when a line may be written now. `suppressed` is set to the number of lines dropped
  // since the last one written (to be reported once), 0 otherwise. Thread-safe.
  bool allow(uint64_t& suppressed, Clock::time_point now = Clock::now());

 private:
  unsigned lines_;
  std::chrono::milliseconds window_;
  std::mutex mu_;
  Clock::time_point window_start_{};
  unsigned written_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace ntm::servers

// Writes a log line through `limiter` (a LogLimiter): dropped while the limit is reached, and
// preceded by "(N similar lines suppressed)" after a burst.
#define NTM_LOG_LIMITED(limiter, level, ...)                                                 \
  do {                                                                                       \
    if (::ntm::log::enabled(level)) {                                                        \
      uint64_t ntm_suppressed_ = 0;                                                          \
      if ((limiter).allow(ntm_suppressed_)) {                                                \
        if (ntm_suppressed_ != 0)                                                            \
          ::ntm::log::write(level, "(%llu similar lines suppressed)",                        \
                            static_cast<unsigned long long>(ntm_suppressed_));               \
        ::ntm::log::write(level, __VA_ARGS__);                                               \
      }                                                                                      \
    }                                                                                        \
  } while (0)
