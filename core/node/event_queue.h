// Delivers node events to the application's handler on one dedicated thread, in order, so a
// slow handler never blocks the data plane. Also keeps the most recent events (with their wall
// clock time) for the local control API, with or without a handler.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "node/node_config.h"

namespace ntm::node {

// An event as the control API reports it.
struct RecentEvent {
  std::chrono::system_clock::time_point time;
  NodeEvent event;
};

class EventQueue {
 public:
  static constexpr size_t kRecentEvents = 64;

  explicit EventQueue(std::function<void(const NodeEvent&)> handler);
  ~EventQueue();  // delivers what is queued, then joins the thread
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  void post(NodeEvent event);
  // True on the delivery thread (a handler must not stop the node from there).
  bool on_delivery_thread() const;
  // The last kRecentEvents events, oldest first.
  std::vector<RecentEvent> recent() const;

 private:
  void run();

  std::function<void(const NodeEvent&)> handler_;
  mutable std::mutex mutex_;
  std::condition_variable cond_;
  std::deque<NodeEvent> queue_;
  std::deque<RecentEvent> recent_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace ntm::node
