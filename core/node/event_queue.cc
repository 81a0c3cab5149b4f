#include "node/event_queue.h"

namespace ntm::node {

EventQueue::EventQueue(std::function<void(const NodeEvent&)> handler)
    : handler_(std::move(handler)), thread_([this] { run(); }) {}

EventQueue::~EventQueue() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  cond_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void EventQueue::post(NodeEvent event) {
  {
    std::lock_guard lock(mutex_);
    if (recent_.size() == kRecentEvents) recent_.pop_front();
    recent_.push_back({std::chrono::system_clock::now(), event});
    if (!handler_) return;
    queue_.push_back(std::move(event));
  }
  cond_.notify_one();
}

std::vector<RecentEvent> EventQueue::recent() const {
  std::lock_guard lock(mutex_);
  return {recent_.begin(), recent_.end()};
}

bool EventQueue::on_delivery_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

void EventQueue::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cond_.wait(lock, [this] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) return;  // closing, and everything delivered
    NodeEvent event = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    if (handler_) handler_(event);
    lock.lock();
  }
}

}  // namespace ntm::node
