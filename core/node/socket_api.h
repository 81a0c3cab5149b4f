// The virtual stack's socket calls behind neutral types. lwIP's sockets header cannot share a
// translation unit with the system's <sys/socket.h> (its structs and constants differ), so the
// C ABI converts host values to these, and socket_api.cc maps them to lwIP. errno is set by
// lwIP (system values) on failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace ntm::sock {

struct Address {
  int family = 0;  // 4, 6, or 0 for unspecified
  uint8_t bytes[16] = {};
  uint16_t port = 0;  // host byte order
};

enum class Option {
  reuse_address,
  keepalive,
  receive_timeout,  // milliseconds
  send_timeout,     // milliseconds
  receive_buffer,   // TCP: a fixed size up to max_socket_buffer instead of the automatic one
  send_buffer,      // TCP: likewise
  broadcast,
  error,
  type,  // 1 stream, 2 datagram
  tcp_nodelay,
  tcp_keepidle,
  tcp_keepintvl,
  tcp_keepcnt,
  ipv6_only,
};

// Message flags.
inline constexpr int kPeek = 1, kDontWait = 2, kWaitAll = 4, kMore = 8;
// Poll events.
inline constexpr short kPollIn = 1, kPollOut = 2, kPollErr = 4, kPollHup = 8, kPollNval = 16;

struct PollEntry {
  int fd;
  short events;
  short revents;
};

int socket(int family, bool stream);
int bind(int fd, const Address& address);
int listen(int fd, int backlog);
int accept(int fd, Address* peer);
int connect(int fd, const Address& address);
ssize_t send(int fd, const void* data, size_t size, int flags);
ssize_t recv(int fd, void* data, size_t size, int flags);
ssize_t sendto(int fd, const void* data, size_t size, int flags, const Address* to);
ssize_t recvfrom(int fd, void* data, size_t size, int flags, Address* from);
int shutdown(int fd, int how);  // 0 read, 1 write, 2 both
int close(int fd);
// Wakes every thread waiting in poll() on fd, which then reports POLLERR for it, without closing
// it (the C ABI closes a polled socket only once its pollers left: see c-api/src/poll_close.cc).
void wake_pollers(int fd);
int set_option(int fd, Option option, int value);
int get_option(int fd, Option option, int* value);
int local_address(int fd, Address* address);
int peer_address(int fd, Address* address);
int poll(PollEntry* entries, size_t count, int timeout_ms);
int get_nonblocking(int fd);  // 1, 0, or -1 with errno
int set_nonblocking(int fd, bool nonblocking);
// Bytes waiting to be read (FIONREAD).
int readable_bytes(int fd, int* bytes);

}  // namespace ntm::sock
