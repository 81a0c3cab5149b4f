#include "callback_thread.h"

#include <pthread.h>

#include <atomic>

namespace ntm::capi {

namespace {
std::atomic<bool> g_exiting{false};
}  // namespace

bool process_exiting() { return g_exiting.load(std::memory_order_acquire); }

void mark_process_exiting() { g_exiting.store(true, std::memory_order_release); }

CallbackThread::CallbackThread(const char* name) : name_(name), thread_([this] { run(); }) {}

CallbackThread::~CallbackThread() {
  if (abandoned_) return;  // never reached: abandoned objects are leaked
  close();
}

void CallbackThread::post(std::function<void()> call) {
  {
    std::lock_guard lock(mutex_);
    if (closing_ || abandoned_ || process_exiting()) return;
    queue_.push_back(std::move(call));
    ++posted_;
  }
  wake_.notify_one();
}

void CallbackThread::flush() {
  if (on_thread()) return;
  std::unique_lock lock(mutex_);
  const auto target = posted_;
  idle_.wait(lock, [&] { return done_ >= target || abandoned_ || !thread_.joinable(); });
}

void CallbackThread::close() {
  {
    std::lock_guard lock(mutex_);
    if (abandoned_) return;
    closing_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable() && !on_thread()) thread_.join();
}

void CallbackThread::abandon() {
  {
    std::lock_guard lock(mutex_);
    abandoned_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  idle_.notify_all();
  if (thread_.joinable()) thread_.detach();
}

bool CallbackThread::on_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

void CallbackThread::run() {
  pthread_setname_np(pthread_self(), name_);
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return closing_ || abandoned_ || !queue_.empty(); });
    if (abandoned_ || (queue_.empty() && closing_)) break;
    auto call = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (!process_exiting()) call();
    lock.lock();
    ++done_;
    idle_.notify_all();
  }
  done_ = posted_;
  idle_.notify_all();
}

}  // namespace ntm::capi
