// The virtual stack's limits (stack_limits.h) and the lwIP hooks that enforce them. Part of the
// lwIP port library (ntm_lwip): lwIP calls these functions directly.
#include "stack/stack_limits.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>

extern "C" {
#include "lwip/api.h"
#include "lwip/ip_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcpip.h"
#include "ntm_lwip_hooks.h"
}

#include "stack/core_lock.h"
#include "stack/lwip_port.h"

namespace ntm::stack {
namespace {

std::atomic<size_t> g_used{0};
std::atomic<uint64_t> g_drops{0};
std::atomic<unsigned> g_sockets{0};
std::atomic<LimitLogger> g_logger{nullptr};

// Written under the core lock (set_limits) and read by the hooks, which lwIP calls under it;
// the copies for other threads go through the mutex.
std::mutex g_limits_mutex;
StackLimits g_limits;

// Pbufs cost about 1.2x the payload they carry (header, allocator rounding); connections share
// what is left of the budget, so one connection may take a quarter of it.
constexpr size_t kShareOfFree = 4;

}  // namespace

void set_limits(const StackLimits& limits) {
  // Before lwIP's thread first starts there is no core lock, and no hook can run either.
  std::optional<CoreLock> lock;
  if (lock_tcpip_core != nullptr) lock.emplace();
  std::lock_guard guard(g_limits_mutex);
  g_limits = limits;
}

StackLimits limits() {
  std::lock_guard guard(g_limits_mutex);
  return g_limits;
}

void set_limit_logger(LimitLogger logger) { g_logger.store(logger); }

size_t memory_used() { return g_used.load(std::memory_order_relaxed); }
uint64_t limit_drops() { return g_drops.load(std::memory_order_relaxed); }
unsigned sockets_open() { return g_sockets.load(std::memory_order_relaxed); }

void count_limit_drop(const char* limit, const char* detail) {
  g_drops.fetch_add(1, std::memory_order_relaxed);
  // One line a second at most, whichever limit: a flood must not flood the log too.
  static std::atomic<int64_t> last_ms{-1000};
  static std::atomic<uint64_t> quiet{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = last_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 || !last_ms.compare_exchange_strong(last, now)) {
    quiet.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (auto log = g_logger.load()) {
    char line[256];
    const uint64_t more = quiet.exchange(0);
    if (more > 0) {
      std::snprintf(line, sizeof line, "limit %s reached: %s refused (%llu more refusals not shown)",
                    limit, detail, static_cast<unsigned long long>(more));
    } else {
      std::snprintf(line, sizeof line, "limit %s reached: %s refused", limit, detail);
    }
    log(line);
  }
}

bool reserve_socket(const char* what) {
  const unsigned max = limits().max_sockets;
  unsigned open = g_sockets.load(std::memory_order_relaxed);
  do {
    if (open >= max) {
      count_limit_drop("max_sockets", what);
      return false;
    }
  } while (!g_sockets.compare_exchange_weak(open, open + 1));
  return true;
}

void release_socket() { g_sockets.fetch_sub(1, std::memory_order_relaxed); }

bool admit_inbound(std::span<const uint8_t> packet) {
  const size_t limit = g_limits.memory_limit;
  if (memory_used() < limit || packet.empty()) return true;
  size_t header = 0, total = packet.size(), protocol = 0;
  if ((packet[0] >> 4) == 4 && packet.size() >= 20) {
    header = size_t(packet[0] & 0x0f) * 4;
    protocol = packet[9];
  } else if ((packet[0] >> 4) == 6 && packet.size() >= 40) {
    header = 40;  // extension headers: judged by the next header only (TCP comes first here)
    protocol = packet[6];
  }
  if (protocol != 6 || packet.size() < header + 20) return true;
  const size_t tcp_header = size_t(packet[header + 12] >> 4) * 4;
  if (total <= header + tcp_header) return true;  // no payload: ACK, SYN, FIN, RST
  count_limit_drop("memory_limit", "an inbound TCP segment");
  return false;
}

}  // namespace ntm::stack

using ntm::stack::g_limits;
using ntm::stack::g_used;

extern "C" {

// lwIP's heap (lwipopts.h: mem_clib_malloc and friends), counted in bytes the allocator gave.
void* ntm_lwip_malloc(size_t size) {
  void* p = std::malloc(size);
  if (p != nullptr) g_used.fetch_add(malloc_usable_size(p), std::memory_order_relaxed);
  return p;
}

void* ntm_lwip_calloc(size_t count, size_t size) {
  void* p = std::calloc(count, size);
  if (p != nullptr) g_used.fetch_add(malloc_usable_size(p), std::memory_order_relaxed);
  return p;
}

void ntm_lwip_free(void* p) {
  if (p == nullptr) return;
  g_used.fetch_sub(malloc_usable_size(p), std::memory_order_relaxed);
  std::free(p);
}

u32_t ntm_lwip_rcv_wnd_limit(const struct tcp_pcb* pcb) {
  size_t buffer = g_limits.max_socket_buffer;
  // Connections of the socket API carry their netconn; one not accepted yet its listener's.
  if (const auto* conn = static_cast<const struct netconn*>(pcb->callback_arg)) {
    const int set = conn->recv_bufsize;
    if (set > 0 && set != ntm::stack::kAutoReceiveBuffer) {
      buffer = std::min(buffer, static_cast<size_t>(set));
    }
  }
  const size_t unread = size_t(TCP_WND_MAX(pcb)) - pcb->rcv_wnd;  // delivered, not yet read
  const size_t room = buffer > unread ? buffer - unread : 0;
  const size_t used = ntm::stack::memory_used();
  const size_t free = used < g_limits.memory_limit ? g_limits.memory_limit - used : 0;
  return static_cast<u32_t>(std::min({room, free / ntm::stack::kShareOfFree, size_t(TCP_WND)}));
}

u32_t ntm_lwip_snd_buf_limit(const struct tcp_pcb* pcb) {
  (void)pcb;
  const size_t used = ntm::stack::memory_used();
  const size_t free = used < g_limits.memory_limit ? g_limits.memory_limit - used : 0;
  return static_cast<u32_t>(std::min({g_limits.max_socket_buffer,
                                      free / ntm::stack::kShareOfFree, size_t{0xffffffffu}}));
}

int ntm_lwip_accept_allowed(const struct tcp_pcb_listen* listener, const struct ip_addr* remote) {
  // Connections the application has not accepted yet will each take a socket too.
  if (ntm::stack::sockets_open() + listener->accepts_pending >= g_limits.max_sockets) {
    ntm::stack::count_limit_drop("max_sockets", "an incoming connection");
    return 0;
  }
  if (ntm::stack::memory_used() >= g_limits.memory_limit) {
    ntm::stack::count_limit_drop("memory_limit", "an incoming connection");
    return 0;
  }
  unsigned from_peer = 0;
  for (const struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
    if (ip_addr_cmp(&pcb->remote_ip, remote)) ++from_peer;
  }
  if (from_peer >= g_limits.max_connections_per_peer) {
    ntm::stack::count_limit_drop("max_connections_per_peer", "an incoming connection");
    return 0;
  }
  return 1;
}

}  // extern "C"
