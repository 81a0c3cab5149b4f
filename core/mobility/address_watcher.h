// Watches the host's addresses and routes and reports when they change, so the node can move
// its tunnels: netlink on Linux, a periodic getifaddrs() comparison where netlink is missing.
// The callback runs on the watcher's own thread; keep it short (the node just sets a flag).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "io/unique_fd.h"

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

  std::function<void()> on_change_;
  std::chrono::milliseconds poll_interval_;
  io::UniqueFd netlink_;
  io::UniqueFd wake_;  // eventfd that ends the thread
  std::atomic<bool> running_{true};
  std::thread thread_;
};

// A sorted text of the host's non-loopback addresses, for comparing snapshots.
std::string address_snapshot();

}  // namespace ntm::mobility
