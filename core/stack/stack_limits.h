// The virtual stack's limits (ntm_options version 3): the memory budget, the socket table,
// connections per peer and the socket buffer ceiling. lwIP is process-wide, and so are these;
// the running node sets them when it starts. Enforced in three places:
// - lwIP's heap is counted (every allocation lwIP makes goes through ntm_lwip_malloc), and
//   receive windows shrink as the budget fills (LWIP_HOOK_TCP_RCV_WND_LIMIT, patch 0006);
// - an incoming connection beyond a limit is refused with a RST (LWIP_HOOK_TCP_ACCEPT_ALLOWED,
//   patch 0007), a socket beyond max_sockets fails with EMFILE;
// - at the budget, inbound TCP segments that carry data are dropped before lwIP sees them.
// Every refusal is counted (stats dropped_limit) and logged at warn, at most once a second per
// limit, naming it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ntm::stack {

struct StackLimits {
  size_t memory_limit = size_t{256} << 20;
  unsigned max_sockets = 16384;
  unsigned max_connections_per_peer = 1024;
  size_t max_socket_buffer = size_t{16} << 20;
};

// Replaces the limits (takes the core lock).
void set_limits(const StackLimits& limits);
StackLimits limits();

// Bytes of lwIP's heap in use now: packets, socket buffers, connection state.
size_t memory_used();

// Where refusals are logged (the node installs one that writes a warning); nullptr: nowhere.
using LimitLogger = void (*)(const char* message);
void set_limit_logger(LimitLogger logger);

// Refusals by a limit since the process started.
uint64_t limit_drops();

// Counts one refusal by the limit named `limit` (e.g. "max_sockets") and logs it, rate-limited;
// `detail` says what was refused.
void count_limit_drop(const char* limit, const char* detail);

// The socket table: reserve a slot before lwIP makes a socket (false, counted and logged, when
// max_sockets are open), release it when the socket is closed.
bool reserve_socket(const char* what);
void release_socket();
unsigned sockets_open();

// Whether an inner packet may enter the virtual stack: false (counted) for a TCP segment that
// carries data while the memory budget is used up. Pure ACKs, SYNs, FINs and RSTs always pass:
// they free memory (ACKs release our send buffers) or cost none.
bool admit_inbound(std::span<const uint8_t> packet);

// The receive buffer of a socket that never set SO_RCVBUF: grows up to max_socket_buffer as far
// as the budget allows. lwIP's default SO_RCVBUF value (lwipopts.h RECV_BUFSIZE_DEFAULT) marks it.
inline constexpr int kAutoReceiveBuffer = 0x7fffffff;

}  // namespace ntm::stack
