#include "node/progress_note.h"

#include <chrono>

#include "util/log.h"

namespace ntm::node {

namespace {
constexpr auto kFirstNote = std::chrono::seconds(1);
constexpr auto kRepeat = std::chrono::seconds(5);
}  // namespace

ProgressNote::ProgressNote(std::string waiting_for) {
  if (!log::enabled(log::Level::info)) return;  // nothing to say: no thread
  thread_ = std::thread([this, what = std::move(waiting_for)] {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    auto next = start + kFirstNote;
    while (!cond_.wait_until(lock, next, [this] { return done_; })) {
      const auto waited =
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
      NTM_LOG_INFO("still waiting for %s (%lld s)", what.c_str(), static_cast<long long>(waited.count()));
      next += kRepeat;
    }
  });
}

ProgressNote::~ProgressNote() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cond_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace ntm::node
