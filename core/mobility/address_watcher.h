// Watches the host's usable addresses and default routes (NetworkState) and reports when they
// change, so the node can move its tunnels: woken by netlink on Linux, a periodic check where
// netlink is missing. Other netlink traffic changes nothing and is not reported.
// The callback runs on the watcher's own thread; keep it short (the node just sets a flag).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "io/unique_fd.h"
#include "mobility/network_state.h"

namespace ntm::mobility {

class AddressWatcher {
 public:
  explicit AddressWatcher(std::function<void()> on_change,
                          std::chrono::milliseconds poll_interval = std::chrono::seconds(2));
  ~AddressWatcher();  // stops and joins the thread
  AddressWatcher(const AddressWatcher&) = delete;
  AddressWatcher& operator=(const AddressWatcher&) = delete;

  bool uses_netlink() const { return netlink_.get() >= 0; }

 private:
  void run_netlink();
  void run_polling();
  void check();  // reports a change of the network state (watcher thread)

  std::function<void()> on_change_;
  std::chrono::milliseconds poll_interval_;
  NetworkState last_;  // watcher thread only (after construction)
  io::UniqueFd netlink_;
  io::UniqueFd wake_;  // eventfd that ends the thread
  std::atomic<bool> running_{true};
  std::thread thread_;
};

}  // namespace ntm::mobility
