// Shared plumbing of the C ABI: the per-thread last error, the exception barrier, and the
// process's running node with the registry of its open sockets.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "callback_thread.h"
#include "node/node.h"
#include "ntm.h"

namespace ntm::capi {

// Records `message` as the calling thread's last error and returns `code`.
int fail(int code, std::string message);
void clear_error();
const char* last_error();

// Runs `body` (returning an NTM_* code) so that no exception crosses the C boundary.
template <class Body>
int guarded(Body&& body) noexcept {
  try {
    clear_error();
    return body();
  } catch (const std::bad_alloc&) {
    return fail(NTM_ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(NTM_ERROR, e.what());
  } catch (...) {
    return fail(NTM_ERROR, "unexpected internal error");
  }
}

// The process-wide runtime: at most one node.
struct Runtime {
  std::mutex mutex;  // serialises start/stop and guards `node`
  std::unique_ptr<node::Node> node;
  std::atomic<bool> running{false};
  std::atomic<bool> control_plane{false};  // the running node asks the DC for unknown peers

  std::mutex fds_mutex;  // guards `fds`
  std::vector<bool> fds;  // open ntm sockets, by descriptor
  std::vector<bool> ended;  // streams whose end was already reported, by descriptor
  std::vector<bool> connecting;  // non-blocking connects whose outcome SO_ERROR has not told
  bool stopping = false;    // guarded by `mutex`: ntm_stop() is tearing the node down
  // The running node's event handler runs here, never on a core thread (guarded by `mutex`).
  std::unique_ptr<CallbackThread> events;

  void add_fd(int fd);
  // Removes fd from the registry; false if it was not open (so exactly one closer wins).
  bool remove_fd(int fd);
  std::vector<int> take_all_fds();
  bool is_open(int fd);
  void mark_end_of_stream(int fd);
  bool end_of_stream(int fd);
  void set_connecting(int fd, bool connecting);
  bool is_connecting(int fd);
};

// The process's runtime. Never destroyed: the process exit is handled by exit_guard.cc.
Runtime& runtime();

// Registers (once) the handler that shuts the library down when the process exits: callbacks
// stop at once, the node is torn down without waiting on any callback, bounded in time.
void install_exit_guard();
void mark_process_exiting();

// Control-plane mode: before connecting or sending to a virtual address no peer owns yet, ask
// the DC (blocks up to a few seconds). Returns quickly in static-peer mode.
void ensure_peer(int family, const uint8_t* address);

// Bridges whose application side is closed but whose last bytes are still being pumped into
// the virtual stack (bridge.cc).
int bridges_draining();

}  // namespace ntm::capi
