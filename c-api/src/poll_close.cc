// ntm_poll() against ntm_close()/ntm_stop(): lwIP 2.1.3 cannot poll a socket that another thread
// closes under it. A close while a poll holds the socket defers its release to the poll's end,
// and a poll that reaches that socket afterwards - a later ntm_poll() on the stale number, or one
// that had just started - trips lwIP's accounting ("sock->fd_used != 0" when it scans a socket
// released that way; a use count taken from another holder when it lets go of one it never
// got). So lwIP never sees the two meet:
// - ntm_poll() passes lwIP only the descriptors the registry has open (the others are POLLNVAL
//   at once, as poll(2) reports them) and counts itself as a poller of each while it waits;
// - closing a socket that has pollers does not call lwIP's close: it wakes them (an error
//   event), each reports POLLNVAL for it, and the last one to leave closes it.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "api_common.h"
#include "node/socket_api.h"
#include "poll_close.h"

namespace ntm::capi {

namespace {

struct Polled {
  int pollers = 0;
  bool close_pending = false;  // closed by the application: the last poller closes it in lwIP
};

std::mutex g_mutex;
std::condition_variable g_closed;  // a deferred close is done
std::unordered_map<int, Polled>& polled() {
  static auto* map = new std::unordered_map<int, Polled>;  // leaked: see bridge.cc
  return *map;
}

bool any_close_pending() {
  for (const auto& [fd, p] : polled()) {
    if (p.close_pending) return true;
  }
  return false;
}

}  // namespace

void begin_poll(const int* fds, size_t count, std::vector<bool>& open) {
  std::lock_guard lock(g_mutex);
  open.assign(count, false);
  for (size_t i = 0; i < count; ++i) {
    if (!runtime().is_open(fds[i])) continue;  // closed: POLLNVAL without asking lwIP
    open[i] = true;
    ++polled()[fds[i]].pollers;
  }
}

void end_poll(const int* fds, size_t count, const std::vector<bool>& open,
              std::vector<bool>& closed_meanwhile) {
  std::vector<int> to_close;
  {
    std::lock_guard lock(g_mutex);
    closed_meanwhile.assign(count, false);
    for (size_t i = 0; i < count; ++i) {
      if (!open[i]) continue;
      auto it = polled().find(fds[i]);
      if (it == polled().end()) continue;  // not reachable: we counted ourselves in
      closed_meanwhile[i] = it->second.close_pending;
      if (--it->second.pollers > 0) continue;
      if (it->second.close_pending) to_close.push_back(fds[i]);
      polled().erase(it);
    }
  }
  for (int fd : to_close) sock::close(fd);
  if (!to_close.empty()) {
    std::lock_guard lock(g_mutex);  // for the waiter's predicate (close_pending cleared above)
    g_closed.notify_all();
  }
}

int close_unless_polled(int fd) {
  {
    std::lock_guard lock(g_mutex);
    auto it = polled().find(fd);
    if (it != polled().end()) {
      it->second.close_pending = true;
      sock::wake_pollers(fd);  // the last of them closes it (end_poll)
      return 0;
    }
  }
  return sock::close(fd);
}

void wait_for_deferred_closes(std::chrono::milliseconds bound) {
  std::unique_lock lock(g_mutex);
  g_closed.wait_for(lock, bound, [] { return !any_close_pending(); });
}

}  // namespace ntm::capi
