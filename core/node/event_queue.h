// Delivers node events to the application's handler on one dedicated thread, in order, so a
// slow handler never blocks the data plane.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "node/node_config.h"

namespace ntm::node {

class EventQueue {
 public:
  explicit EventQueue(std::function<void(const NodeEvent&)> handler);
  ~EventQueue();  // delivers what is queued, then joins the thread
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  void post(NodeEvent event);
  // True on the delivery thread (a handler must not stop the node from there).
  bool on_delivery_thread() const;

 private:
  void run();

  std::function<void(const NodeEvent&)> handler_;
  std::mutex mutex_;
  std::condition_variable cond_;
  std::deque<NodeEvent> queue_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace ntm::node
