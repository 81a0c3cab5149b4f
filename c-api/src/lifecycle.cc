// Node lifecycle: ntm_start, ntm_stop, ntm_is_running; the runtime and its socket registry.
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include "api_common.h"
#include "bridge.h"
#include "poll_close.h"
#include "node/socket_api.h"
#include "options.h"
#include "util/log.h"

namespace ntm::capi {

Runtime& runtime() {
  // Leaked on purpose: its destruction at exit would join threads that may be stuck in a
  // callback of a runtime that is itself exiting (exit_guard.cc tears the node down instead).
  static Runtime* instance = new Runtime;
  return *instance;
}

void Runtime::add_fd(int fd) {
  std::lock_guard lock(fds_mutex);
  if (fd < 0) return;
  if (static_cast<size_t>(fd) >= fds.size()) {
    fds.resize(static_cast<size_t>(fd) + 1, false);
    ended.resize(fds.size(), false);
    connecting.resize(fds.size(), false);
  }
  fds[static_cast<size_t>(fd)] = true;
  ended[static_cast<size_t>(fd)] = false;
  connecting[static_cast<size_t>(fd)] = false;
}

void Runtime::set_connecting(int fd, bool on) {
  std::lock_guard lock(fds_mutex);
  if (fd >= 0 && static_cast<size_t>(fd) < connecting.size()) {
    connecting[static_cast<size_t>(fd)] = on;
  }
}

bool Runtime::is_connecting(int fd) {
  std::lock_guard lock(fds_mutex);
  return fd >= 0 && static_cast<size_t>(fd) < connecting.size() &&
         connecting[static_cast<size_t>(fd)];
}

void Runtime::mark_end_of_stream(int fd) {
  std::lock_guard lock(fds_mutex);
  if (fd >= 0 && static_cast<size_t>(fd) < ended.size()) ended[static_cast<size_t>(fd)] = true;
}

bool Runtime::end_of_stream(int fd) {
  std::lock_guard lock(fds_mutex);
  return fd >= 0 && static_cast<size_t>(fd) < ended.size() && ended[static_cast<size_t>(fd)] &&
         fds[static_cast<size_t>(fd)];
}

bool Runtime::remove_fd(int fd) {
  std::lock_guard lock(fds_mutex);
  if (fd < 0 || static_cast<size_t>(fd) >= fds.size() || !fds[static_cast<size_t>(fd)]) {
    return false;
  }
  fds[static_cast<size_t>(fd)] = false;
  return true;
}

bool Runtime::is_open(int fd) {
  std::lock_guard lock(fds_mutex);
  return fd >= 0 && static_cast<size_t>(fd) < fds.size() && fds[static_cast<size_t>(fd)];
}

void ensure_peer(int family, const uint8_t* address) {
  auto& rt = runtime();
  if (!rt.control_plane.load(std::memory_order_relaxed)) return;
  Endpoint e;
  e.family = family == 6 ? Endpoint::Family::v6 : Endpoint::Family::v4;
  std::memcpy(e.address.data(), address, family == 6 ? 16 : 4);
  std::lock_guard lock(rt.mutex);
  if (rt.node) rt.node->ensure_peer_for(e);
}

std::vector<int> Runtime::take_all_fds() {
  std::lock_guard lock(fds_mutex);
  std::vector<int> out;
  for (size_t i = 0; i < fds.size(); ++i) {
    if (fds[i]) out.push_back(static_cast<int>(i));
  }
  fds.assign(fds.size(), false);
  return out;
}

}  // namespace ntm::capi

using namespace ntm;

namespace {
// How long ntm_stop() waits for closed connections to finish sending.
constexpr auto kStopGrace = std::chrono::seconds(2);
}  // namespace

extern "C" NTM_EXTERN(int) ntm_start(const ntm_options *options) {
  return capi::guarded([&]() -> int {
    auto& rt = capi::runtime();
    std::lock_guard lock(rt.mutex);
    if (rt.node || rt.stopping) {
      return capi::fail(NTM_ESTATE, "ntm_start: a node is already running");
    }
    node::NodeConfig config;
    try {
      config = capi::to_node_config(options);
    } catch (const capi::OptionError& e) {
      return capi::fail(NTM_EINVAL, e.what());
    }
    log::set_level(static_cast<log::Level>(options->log_level));
    capi::install_exit_guard();
    if (config.on_event) {
      // The application's handler runs on a thread of the C API, so that the core's event thread
      // never waits inside foreign code (and can always be joined).
      rt.events = std::make_unique<capi::CallbackThread>("ntm-events");
      capi::CallbackThread* thread = rt.events.get();
      auto direct = std::make_shared<const std::function<void(const node::NodeEvent&)>>(
          std::move(config.on_event));
      config.on_event = [thread, direct](const node::NodeEvent& e) {
        thread->post([direct, e] { (*direct)(e); });
      };
    }
    try {
      rt.node = node::Node::start(std::move(config));
    } catch (const node::StartError& e) {
      if (rt.events) rt.events->close();
      rt.events.reset();
      int code = NTM_EINVAL;
      switch (e.kind()) {
        case node::StartError::Kind::io: code = NTM_EIO; break;
        case node::StartError::Kind::unsupported: code = NTM_EUNSUPPORTED; break;
        case node::StartError::Kind::auth: code = NTM_EAUTH; break;
        case node::StartError::Kind::unreachable: code = NTM_EUNREACHABLE; break;
        case node::StartError::Kind::invalid: break;
      }
      return capi::fail(code, e.what());
    }
    rt.control_plane.store(options->version >= 2 && options->server != nullptr);
    rt.running.store(true);
    return NTM_OK;
  });
}

extern "C" NTM_EXTERN(int) ntm_stop(void) {
  return capi::guarded([&]() -> int {
    auto& rt = capi::runtime();
    std::unique_lock lock(rt.mutex);
    if (!rt.node) return capi::fail(NTM_ESTATE, "ntm_stop: no node is running");
    if (rt.node->on_event_thread() || (rt.events && rt.events->on_thread())) {
      return capi::fail(NTM_ESTATE, "ntm_stop: not allowed from the event callback");
    }
    // Let connections the application has closed deliver what they still hold: a bridge
    // draining its descriptor, then lwIP sending the last data and FIN (bounded).
    const auto deadline = std::chrono::steady_clock::now() + kStopGrace;
    while (std::chrono::steady_clock::now() < deadline &&
           (capi::bridges_draining() > 0 || rt.node->has_closing_connections())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    rt.running.store(false);
    // Closing wakes every thread blocked on these sockets (lwIP full-duplex close).
    for (int fd : rt.take_all_fds()) capi::close_unless_polled(fd);
    capi::wait_for_deferred_closes(kStopGrace);  // closes left to threads in ntm_poll()
    capi::end_datagram_bridges();  // their descriptors read end-of-file
    // The node is destroyed outside the lock: its event thread may still be delivering an
    // event whose handler calls ntm_get_stats() & co, which take the lock (and then see no node).
    std::unique_ptr<node::Node> doomed = std::move(rt.node);
    rt.stopping = true;
    lock.unlock();
    doomed.reset();
    lock.lock();
    // The node's last event (STOPPING) is queued: deliver it and everything before it.
    if (rt.events) rt.events->close();
    rt.events.reset();
    rt.stopping = false;
    return NTM_OK;
  });
}

extern "C" NTM_EXTERN(int) ntm_notify_network_change(void) {
  return capi::guarded([&]() -> int {
    auto& rt = capi::runtime();
    std::lock_guard lock(rt.mutex);
    if (!rt.node) return capi::fail(NTM_ESTATE, "ntm_notify_network_change: no node is running");
    rt.node->notify_network_change();
    return NTM_OK;
  });
}

extern "C" NTM_EXTERN(int) ntm_is_running(void) {
  return capi::runtime().running.load() ? 1 : 0;
}
