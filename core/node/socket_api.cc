// Maps ntm::sock calls to lwIP's socket API (this file must not include <sys/socket.h>).
#include "node/socket_api.h"

#include <cerrno>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "stack/core_lock.h"

extern "C" {
#include "lwip/api.h"
#include "lwip/priv/sockets_priv.h"
#include "lwip/sockets.h"
}

#include "stack/stack_limits.h"

namespace ntm::sock {

namespace {

// lwIP's sockaddr carries a length byte and 8-bit family, unlike Linux's.
socklen_t to_lwip(const Address& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof(out));
  if (a.family == 6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_len = sizeof(sockaddr_in6);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = lwip_htons(a.port);
    std::memcpy(&in6->sin6_addr, a.bytes, 16);
    return sizeof(sockaddr_in6);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&out);
  in->sin_len = sizeof(sockaddr_in);
  in->sin_family = AF_INET;
  in->sin_port = lwip_htons(a.port);
  std::memcpy(&in->sin_addr, a.bytes, 4);
  return sizeof(sockaddr_in);
}

void from_lwip(const sockaddr_storage& in, Address* out) {
  if (out == nullptr) return;
  *out = Address{};
  if (in.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&in);
    out->family = 6;
    std::memcpy(out->bytes, &in6->sin6_addr, 16);
    out->port = lwip_ntohs(in6->sin6_port);
  } else if (in.ss_family == AF_INET) {
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&in);
    out->family = 4;
    std::memcpy(out->bytes, &in4->sin_addr, 4);
    out->port = lwip_ntohs(in4->sin_port);
  }
}

int to_lwip_flags(int flags) {
  int out = 0;
  if (flags & kPeek) out |= MSG_PEEK;
  if (flags & kDontWait) out |= MSG_DONTWAIT;
  if (flags & kWaitAll) out |= MSG_WAITALL;
  if (flags & kMore) out |= MSG_MORE;
  return out;
}

struct LwipOption {
  int level;
  int name;
};

bool map_option(Option option, LwipOption& out) {
  switch (option) {
    case Option::reuse_address: out = {SOL_SOCKET, SO_REUSEADDR}; return true;
    case Option::keepalive: out = {SOL_SOCKET, SO_KEEPALIVE}; return true;
    case Option::receive_timeout: out = {SOL_SOCKET, SO_RCVTIMEO}; return true;
    case Option::send_timeout: out = {SOL_SOCKET, SO_SNDTIMEO}; return true;
    case Option::receive_buffer: out = {SOL_SOCKET, SO_RCVBUF}; return true;
    case Option::send_buffer: out = {SOL_SOCKET, SO_SNDBUF}; return true;
    case Option::broadcast: out = {SOL_SOCKET, SO_BROADCAST}; return true;
    case Option::error: out = {SOL_SOCKET, SO_ERROR}; return true;
    case Option::type: out = {SOL_SOCKET, SO_TYPE}; return true;
    case Option::tcp_nodelay: out = {IPPROTO_TCP, TCP_NODELAY}; return true;
    case Option::tcp_keepidle: out = {IPPROTO_TCP, TCP_KEEPIDLE}; return true;
    case Option::tcp_keepintvl: out = {IPPROTO_TCP, TCP_KEEPINTVL}; return true;
    case Option::tcp_keepcnt: out = {IPPROTO_TCP, TCP_KEEPCNT}; return true;
    case Option::ipv6_only: out = {IPPROTO_IPV6, IPV6_V6ONLY}; return true;
  }
  return false;
}

bool is_timeout(Option option) {
  return option == Option::receive_timeout || option == Option::send_timeout;
}

}  // namespace

// Every lwIP socket holds a slot of the socket table (max_sockets) from here until close().
int socket(int family, bool stream) {
  if (stack::memory_used() >= stack::limits().memory_limit) {
    stack::count_limit_drop("memory_limit", "a new socket");
    errno = ENOBUFS;
    return -1;
  }
  if (!stack::reserve_socket("a new socket")) {
    errno = EMFILE;
    return -1;
  }
  int fd = lwip_socket(family == 6 ? AF_INET6 : AF_INET, stream ? SOCK_STREAM : SOCK_DGRAM, 0);
  if (fd < 0) stack::release_socket();
  return fd;
}

int bind(int fd, const Address& address) {
  sockaddr_storage ss;
  socklen_t len = to_lwip(address, ss);
  return lwip_bind(fd, reinterpret_cast<sockaddr*>(&ss), len);
}

int listen(int fd, int backlog) { return lwip_listen(fd, backlog); }

int accept(int fd, Address* peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int client = lwip_accept(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (client < 0) return client;
  // The accept hook refuses connections while the table is full; one that got through anyway
  // (sockets made meanwhile) is reset rather than left without a slot.
  if (!stack::reserve_socket("an accepted connection")) {
    lwip_close(client);
    errno = EMFILE;
    return -1;
  }
  from_lwip(ss, peer);
  return client;
}

int connect(int fd, const Address& address) {
  sockaddr_storage ss;
  socklen_t len = to_lwip(address, ss);
  return lwip_connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
}

ssize_t send(int fd, const void* data, size_t size, int flags) {
  return lwip_send(fd, data, size, to_lwip_flags(flags));
}

ssize_t recv(int fd, void* data, size_t size, int flags) {
  return lwip_recv(fd, data, size, to_lwip_flags(flags));
}

ssize_t sendto(int fd, const void* data, size_t size, int flags, const Address* to) {
  if (to == nullptr) return lwip_sendto(fd, data, size, to_lwip_flags(flags), nullptr, 0);
  sockaddr_storage ss;
  socklen_t len = to_lwip(*to, ss);
  return lwip_sendto(fd, data, size, to_lwip_flags(flags), reinterpret_cast<sockaddr*>(&ss), len);
}

ssize_t recvfrom(int fd, void* data, size_t size, int flags, Address* from) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ssize_t n = lwip_recvfrom(fd, data, size, to_lwip_flags(flags), reinterpret_cast<sockaddr*>(&ss),
                            &len);
  if (n >= 0) from_lwip(ss, from);
  return n;
}

int shutdown(int fd, int how) { return lwip_shutdown(fd, how); }
int close(int fd) {
  int rc = lwip_close(fd);
  if (rc == 0) stack::release_socket();
  return rc;
}

void wake_pollers(int fd) {
  // The socket's own event callback (sockets.c's event_callback), as for a connection error:
  // it marks the socket in error and wakes its poll waiters.
  stack::CoreLock lock;
  lwip_sock* s = lwip_socket_dbg_get_socket(fd);
  if (s != nullptr && s->conn != nullptr && s->conn->callback != nullptr) {
    s->conn->callback(s->conn, NETCONN_EVT_ERROR, 0);
  }
}

int set_option(int fd, Option option, int value) {
  LwipOption o;
  if (!map_option(option, o)) {
    errno = ENOPROTOOPT;
    return -1;
  }
  if (is_timeout(option)) {
    timeval tv{value / 1000, static_cast<suseconds_t>((value % 1000) * 1000)};
    return lwip_setsockopt(fd, o.level, o.name, &tv, sizeof(tv));
  }
  if (option == Option::receive_buffer || option == Option::send_buffer) {
    // Honoured up to the node's ceiling, as Linux caps at rmem_max/wmem_max.
    if (value <= 0) {
      errno = EINVAL;
      return -1;
    }
    value = static_cast<int>(
        std::min<size_t>(static_cast<size_t>(value), stack::limits().max_socket_buffer));
  }
  return lwip_setsockopt(fd, o.level, o.name, &value, sizeof(value));
}

int get_option(int fd, Option option, int* value) {
  LwipOption o;
  if (!map_option(option, o)) {
    errno = ENOPROTOOPT;
    return -1;
  }
  if (is_timeout(option)) {
    timeval tv{};
    socklen_t len = sizeof(tv);
    int rc = lwip_getsockopt(fd, o.level, o.name, &tv, &len);
    if (rc == 0) *value = static_cast<int>(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    return rc;
  }
  socklen_t len = sizeof(*value);
  int rc = lwip_getsockopt(fd, o.level, o.name, value, &len);
  if (rc == 0 && option == Option::type) *value = (*value == SOCK_STREAM) ? 1 : 2;
  if (rc == 0 && option == Option::receive_buffer) {
    // Not set (or set beyond the ceiling): the most it may grow to.
    const size_t ceiling = stack::limits().max_socket_buffer;
    if (*value == stack::kAutoReceiveBuffer || static_cast<size_t>(*value) > ceiling) {
      *value = static_cast<int>(std::min<size_t>(ceiling, INT32_MAX));
    }
  }
  return rc;
}

int local_address(int fd, Address* address) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = lwip_getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc == 0) from_lwip(ss, address);
  return rc;
}

int peer_address(int fd, Address* address) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  int rc = lwip_getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (rc == 0) from_lwip(ss, address);
  return rc;
}

int poll(PollEntry* entries, size_t count, int timeout_ms) {
  std::vector<pollfd> fds(count);
  for (size_t i = 0; i < count; ++i) {
    fds[i].fd = entries[i].fd;
    fds[i].events = 0;
    if (entries[i].events & kPollIn) fds[i].events |= POLLIN;
    if (entries[i].events & kPollOut) fds[i].events |= POLLOUT;
    fds[i].revents = 0;
  }
  int rc = lwip_poll(fds.data(), static_cast<nfds_t>(count), timeout_ms);
  for (size_t i = 0; i < count; ++i) {
    short r = 0;
    if (fds[i].revents & POLLIN) r |= kPollIn;
    if (fds[i].revents & POLLOUT) r |= kPollOut;
    if (fds[i].revents & POLLERR) r |= kPollErr;
    if (fds[i].revents & POLLHUP) r |= kPollHup;
    if (fds[i].revents & POLLNVAL) r |= kPollNval;
    entries[i].revents = r;
  }
  return rc;
}

int get_nonblocking(int fd) {
  int flags = lwip_fcntl(fd, F_GETFL, 0);
  if (flags < 0) return -1;
  return (flags & O_NONBLOCK) ? 1 : 0;
}

int set_nonblocking(int fd, bool nonblocking) {
  return lwip_fcntl(fd, F_SETFL, nonblocking ? O_NONBLOCK : 0);
}

int readable_bytes(int fd, int* bytes) { return lwip_ioctl(fd, FIONREAD, bytes); }

}  // namespace ntm::sock
