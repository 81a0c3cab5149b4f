// What the library does when its process exits with a node still running (the application never
// called ntm_stop(): a JVM's System.exit, a Python interpreter ending, a signal handler calling
// exit()). Callbacks stop at once - the application's runtime may already be gone, and a thread
// that enters it may never come back - and the node is torn down on a helper thread that the exit
// waits for only briefly, so the process always ends.
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>

#include "api_common.h"
#include "node/socket_api.h"

namespace ntm::capi {

namespace {

// How long the exit waits for the node's teardown before leaving it to the kernel.
constexpr auto kExitTeardownBound = std::chrono::milliseconds(1500);

struct Teardown {
  std::mutex mutex;
  std::condition_variable done_cond;
  bool done = false;
};

void tear_down_node(const std::shared_ptr<Teardown>& t) {
  auto& rt = runtime();
  std::unique_ptr<node::Node> doomed;
  {
    std::lock_guard lock(rt.mutex);
    if (rt.node) {
      rt.running.store(false);
      for (int fd : rt.take_all_fds()) sock::close(fd);
      doomed = std::move(rt.node);
      rt.stopping = true;
    }
  }
  doomed.reset();  // joins only core threads, none of which runs application code
  std::lock_guard lock(t->mutex);
  t->done = true;
  t->done_cond.notify_all();
}

void on_process_exit() {
  mark_process_exiting();
  auto& rt = runtime();
  {
    // try_lock: a thread may hold the lock inside ntm_stop(), waiting on a stuck callback.
    std::unique_lock lock(rt.mutex, std::try_to_lock);
    if (lock.owns_lock() && rt.events) {
      rt.events->abandon();
      (void)rt.events.release();  // leaked: its thread may be stuck in the application
    }
  }
  auto teardown = std::make_shared<Teardown>();
  try {
    std::thread(tear_down_node, teardown).detach();
  } catch (...) {
    return;
  }
  std::unique_lock lock(teardown->mutex);
  teardown->done_cond.wait_for(lock, kExitTeardownBound, [&] { return teardown->done; });
}

}  // namespace

void install_exit_guard() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(on_process_exit); });
}

}  // namespace ntm::capi
