#include "as/login_workers.h"

#include <cmath>

#include "util/log.h"

namespace ntm::servers {

LoginWorkers::LoginWorkers(unsigned threads, size_t max_queued)
    : threads_(threads == 0 ? 1 : threads), max_queued_(max_queued) {
  for (unsigned i = 0; i < threads_; ++i) pool_.emplace_back([this] { run(); });
}

LoginWorkers::~LoginWorkers() { stop(); }

std::chrono::milliseconds LoginWorkers::estimated_wait() const {
  std::lock_guard lock(mu_);
  // Jobs ahead of a new one, plus itself, shared by the workers.
  const double rounds = std::ceil(static_cast<double>(queue_.size() + running_ + 1) / threads_);
  return std::chrono::milliseconds(static_cast<long>(rounds * average_ms_));
}

bool LoginWorkers::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void LoginWorkers::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && pool_.empty()) return;
    stopping_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (auto& t : pool_) t.join();
  pool_.clear();
}

void LoginWorkers::run() {
  while (true) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    const auto t0 = std::chrono::steady_clock::now();
    try {
      job();
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("AS: a login job failed: %s", e.what());
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard lock(mu_);
    --running_;
    average_ms_ = 0.8 * average_ms_ + 0.2 * ms;
  }
}

}  // namespace ntm::servers
