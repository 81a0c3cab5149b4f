// The BSD-mirror socket calls: host constants and sockaddrs in, ntm::sock (lwIP) underneath,
// -1 and errno out.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "api_common.h"
#include "poll_close.h"
#include "bridge.h"
#include "node/socket_api.h"

using namespace ntm;

namespace {

int fail_errno(int error) {
  errno = error;
  return -1;
}

bool node_running() { return capi::runtime().running.load(std::memory_order_acquire); }

// A call that failed because another thread closed its socket (or ntm_stop() did) reports
// EBADF, as the header documents, whatever lwIP said about the connection.
template <class T>
T closed_aware(int fd, T result) {
  if (result < 0 && !capi::runtime().is_open(fd)) errno = EBADF;
  return result;
}

// BSD sockets keep returning 0 after the end of a stream; lwIP reports it once and then
// ENOTCONN. Remember the end per descriptor and repeat it.
ssize_t end_aware(int fd, ssize_t result, int flags) {
  // (A peek that sees the end consumes it in lwIP too, so peeks are remembered as well.)
  (void)flags;
  auto& rt = capi::runtime();
  if (result == 0) {
    rt.mark_end_of_stream(fd);
  } else if (result < 0 && errno == ENOTCONN && rt.end_of_stream(fd)) {
    return 0;
  }
  return result;
}

// Host sockaddr -> neutral address; false (errno set) if it is not a valid IPv4/IPv6 one.
bool to_address(const sockaddr* addr, socklen_t len, sock::Address& out) {
  if (addr == nullptr) {
    errno = EFAULT;
    return false;
  }
  out = sock::Address{};
  if (addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    out.family = 4;
    std::memcpy(out.bytes, &in->sin_addr, 4);
    out.port = ntohs(in->sin_port);
    return true;
  }
  if (addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    out.family = 6;
    std::memcpy(out.bytes, &in6->sin6_addr, 16);
    out.port = ntohs(in6->sin6_port);
    return true;
  }
  errno = (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) ? EINVAL : EAFNOSUPPORT;
  return false;
}

// Neutral address -> host sockaddr, truncated to *len like the kernel does.
void from_address(const sock::Address& a, sockaddr* addr, socklen_t* len) {
  if (addr == nullptr || len == nullptr) return;
  sockaddr_storage ss{};
  socklen_t size = 0;
  if (a.family == 6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a.port);
    std::memcpy(&in6->sin6_addr, a.bytes, 16);
    size = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(a.port);
    std::memcpy(&in->sin_addr, a.bytes, 4);
    size = sizeof(sockaddr_in);
  }
  std::memcpy(addr, &ss, std::min(*len, size));
  *len = size;
}

// Host MSG_* flags -> neutral; -1 for flags the virtual stack cannot honour.
int to_flags(int flags) {
  int out = 0;
  if (flags & MSG_PEEK) out |= sock::kPeek;
  if (flags & MSG_DONTWAIT) out |= sock::kDontWait;
  if (flags & MSG_WAITALL) out |= sock::kWaitAll;
  if (flags & MSG_MORE) out |= sock::kMore;
  const int known = MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL | MSG_MORE | MSG_NOSIGNAL;
  return (flags & ~known) ? -1 : out;
}

bool to_option(int level, int name, sock::Option& out) {
  if (level == SOL_SOCKET) {
    switch (name) {
      case SO_REUSEADDR: out = sock::Option::reuse_address; return true;
      case SO_KEEPALIVE: out = sock::Option::keepalive; return true;
      case SO_RCVTIMEO: out = sock::Option::receive_timeout; return true;
      case SO_SNDTIMEO: out = sock::Option::send_timeout; return true;
      case SO_RCVBUF: out = sock::Option::receive_buffer; return true;
      case SO_SNDBUF: out = sock::Option::send_buffer; return true;
      case SO_BROADCAST: out = sock::Option::broadcast; return true;
      case SO_ERROR: out = sock::Option::error; return true;
      case SO_TYPE: out = sock::Option::type; return true;
      default: return false;
    }
  }
  if (level == IPPROTO_TCP) {
    switch (name) {
      case TCP_NODELAY: out = sock::Option::tcp_nodelay; return true;
      case TCP_KEEPIDLE: out = sock::Option::tcp_keepidle; return true;
      case TCP_KEEPINTVL: out = sock::Option::tcp_keepintvl; return true;
      case TCP_KEEPCNT: out = sock::Option::tcp_keepcnt; return true;
      default: return false;
    }
  }
  if (level == IPPROTO_IPV6 && name == IPV6_V6ONLY) {
    out = sock::Option::ipv6_only;
    return true;
  }
  return false;
}

bool is_timeout(sock::Option o) {
  return o == sock::Option::receive_timeout || o == sock::Option::send_timeout;
}

}  // namespace

extern "C" NTM_EXTERN(int) ntm_socket(int domain, int type, int protocol) {
  if (!node_running()) return fail_errno(ENETDOWN);
  if (domain != AF_INET && domain != AF_INET6) return fail_errno(EAFNOSUPPORT);
  const bool nonblocking = (type & SOCK_NONBLOCK) != 0;
  const int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (base != SOCK_STREAM && base != SOCK_DGRAM) return fail_errno(EPROTOTYPE);
  const bool stream = base == SOCK_STREAM;
  if (protocol != 0 && protocol != (stream ? IPPROTO_TCP : IPPROTO_UDP)) {
    return fail_errno(EPROTONOSUPPORT);
  }
  int fd = sock::socket(domain == AF_INET6 ? 6 : 4, stream);
  if (fd < 0) return -1;
  if (nonblocking && sock::set_nonblocking(fd, true) != 0) {
    int saved = errno;
    sock::close(fd);
    return fail_errno(saved);
  }
  capi::runtime().add_fd(fd);
  return fd;
}

extern "C" NTM_EXTERN(int) ntm_bind(int fd, const struct sockaddr *addr, socklen_t addrlen) {
  sock::Address a;
  if (!to_address(addr, addrlen, a)) return -1;
  return sock::bind(fd, a);
}

extern "C" NTM_EXTERN(int) ntm_listen(int fd, int backlog) { return sock::listen(fd, backlog); }

extern "C" NTM_EXTERN(int) ntm_accept(int fd, struct sockaddr *addr, socklen_t *addrlen) {
  sock::Address peer;
  int client = sock::accept(fd, &peer);
  if (client < 0) return closed_aware(fd, -1);
  capi::runtime().add_fd(client);
  from_address(peer, addr, addrlen);
  return client;
}

namespace {

// The BSD errno for a failed connection attempt. lwIP reports the RST answering our SYN as a
// reset, and a SYN that was never answered (retries exhausted) as an abort; BSD sockets call
// them a refusal and a timeout. An abort while the node stops stays an abort.
int connect_errno(int error) {
  if (error == ECONNRESET) return ECONNREFUSED;
  if (error == ECONNABORTED && node_running()) return ETIMEDOUT;
  return error;
}

}  // namespace

extern "C" NTM_EXTERN(int) ntm_connect(int fd, const struct sockaddr *addr, socklen_t addrlen) {
  sock::Address a;
  if (!to_address(addr, addrlen, a)) return -1;
  capi::ensure_peer(a.family, a.bytes);
  auto &rt = capi::runtime();
  if (sock::connect(fd, a) == 0) {
    rt.set_connecting(fd, false);
    return 0;
  }
  const int error = errno;
  if (!rt.is_open(fd)) return fail_errno(EBADF);  // closed by another thread meanwhile
  if (error == EINPROGRESS) {
    rt.set_connecting(fd, true);  // the outcome comes through SO_ERROR: map it there too
  } else if (error != EALREADY) {
    rt.set_connecting(fd, false);
  }
  errno = connect_errno(error);
  return -1;
}

namespace {

// SO_ERROR of a socket whose non-blocking connect has not been reported yet: the connect's
// errno (mapped as ntm_connect maps it). 0 with the socket writable means it is connected.
int connect_outcome(int fd, int error) {
  auto &rt = capi::runtime();
  if (error != 0) {
    rt.set_connecting(fd, false);
    return connect_errno(error);
  }
  sock::PollEntry entry{fd, POLLOUT, 0};
  if (sock::poll(&entry, 1, 0) == 1 && (entry.revents & POLLOUT) != 0) rt.set_connecting(fd, false);
  return 0;
}

}  // namespace

extern "C" NTM_EXTERN(ssize_t) ntm_send(int fd, const void *buf, size_t len, int flags) {
  int f = to_flags(flags);
  if (f < 0) return fail_errno(EOPNOTSUPP);
  return closed_aware(fd, sock::send(fd, buf, len, f));
}

extern "C" NTM_EXTERN(ssize_t) ntm_recv(int fd, void *buf, size_t len, int flags) {
  int f = to_flags(flags);
  if (f < 0) return fail_errno(EOPNOTSUPP);
  if (!(f & sock::kWaitAll) || (f & (sock::kPeek | sock::kDontWait))) {
    return end_aware(fd, closed_aware(fd, sock::recv(fd, buf, len, f)), f);
  }
  // MSG_WAITALL: keep reading until the buffer is full, the stream ends or an error occurs.
  size_t got = 0;
  auto* bytes = static_cast<char *>(buf);
  while (got < len) {
    ssize_t n = sock::recv(fd, bytes + got, len - got, f & ~sock::kWaitAll);
    if (n < 0) return got > 0 ? static_cast<ssize_t>(got) : closed_aware(fd, n);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

extern "C" NTM_EXTERN(ssize_t) ntm_sendto(int fd, const void *buf, size_t len, int flags,
                                          const struct sockaddr *addr, socklen_t addrlen) {
  int f = to_flags(flags);
  if (f < 0) return fail_errno(EOPNOTSUPP);
  if (addr == nullptr) return sock::sendto(fd, buf, len, f, nullptr);
  sock::Address a;
  if (!to_address(addr, addrlen, a)) return -1;
  capi::ensure_peer(a.family, a.bytes);
  return sock::sendto(fd, buf, len, f, &a);
}

extern "C" NTM_EXTERN(ssize_t) ntm_recvfrom(int fd, void *buf, size_t len, int flags,
                                            struct sockaddr *addr, socklen_t *addrlen) {
  int f = to_flags(flags);
  if (f < 0) return fail_errno(EOPNOTSUPP);
  sock::Address from;
  ssize_t n = sock::recvfrom(fd, buf, len, f & ~sock::kWaitAll, &from);
  if (n >= 0) from_address(from, addr, addrlen);
  return closed_aware(fd, n);
}

extern "C" NTM_EXTERN(int) ntm_shutdown(int fd, int how) {
  if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR) return fail_errno(EINVAL);
  return sock::shutdown(fd, how == SHUT_RD ? 0 : how == SHUT_WR ? 1 : 2);
}

extern "C" NTM_EXTERN(int) ntm_close(int fd) {
  // A datagram socket with a bridge: the bridge ends first (bridge_datagram.cc).
  if (int bridged = capi::close_bridged_datagram(fd); bridged <= 0) return bridged;
  // Only the caller that takes the descriptor out of the registry closes it, so a close racing
  // with ntm_stop() never closes a descriptor twice.
  if (!capi::runtime().remove_fd(fd)) return fail_errno(EBADF);
  return capi::close_unless_polled(fd);
}

extern "C" NTM_EXTERN(int) ntm_setsockopt(int fd, int level, int optname, const void *optval,
                                          socklen_t optlen) {
  sock::Option option;
  if (!to_option(level, optname, option)) return fail_errno(ENOPROTOOPT);
  if (optval == nullptr) return fail_errno(EFAULT);
  int value = 0;
  if (is_timeout(option)) {
    if (optlen < static_cast<socklen_t>(sizeof(timeval))) return fail_errno(EINVAL);
    const auto* tv = static_cast<const timeval *>(optval);
    if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000) return fail_errno(EDOM);
    long long ms = static_cast<long long>(tv->tv_sec) * 1000 + tv->tv_usec / 1000;
    if (ms == 0 && tv->tv_usec > 0) ms = 1;
    value = ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
  } else {
    if (optlen < static_cast<socklen_t>(sizeof(int))) return fail_errno(EINVAL);
    std::memcpy(&value, optval, sizeof(int));
  }
  return sock::set_option(fd, option, value);
}

extern "C" NTM_EXTERN(int) ntm_getsockopt(int fd, int level, int optname, void *optval,
                                          socklen_t *optlen) {
  sock::Option option;
  if (!to_option(level, optname, option)) return fail_errno(ENOPROTOOPT);
  if (optval == nullptr || optlen == nullptr) return fail_errno(EFAULT);
  int value = 0;
  if (sock::get_option(fd, option, &value) != 0) return -1;
  if (option == sock::Option::error && capi::runtime().is_connecting(fd)) {
    value = connect_outcome(fd, value);
  }
  if (is_timeout(option)) {
    if (*optlen < static_cast<socklen_t>(sizeof(timeval))) return fail_errno(EINVAL);
    timeval tv{value / 1000, static_cast<suseconds_t>((value % 1000) * 1000)};
    std::memcpy(optval, &tv, sizeof(tv));
    *optlen = sizeof(tv);
    return 0;
  }
  if (*optlen < static_cast<socklen_t>(sizeof(int))) return fail_errno(EINVAL);
  if (option == sock::Option::type) value = value == 1 ? SOCK_STREAM : SOCK_DGRAM;
  // lwIP reports flag options as their bit (SO_KEEPALIVE reads 8); the kernel says 1.
  if (option == sock::Option::keepalive || option == sock::Option::reuse_address ||
      option == sock::Option::broadcast || option == sock::Option::tcp_nodelay ||
      option == sock::Option::ipv6_only) {
    value = value != 0 ? 1 : 0;
  }
  std::memcpy(optval, &value, sizeof(int));
  *optlen = sizeof(int);
  return 0;
}

extern "C" NTM_EXTERN(int) ntm_getsockname(int fd, struct sockaddr *addr, socklen_t *addrlen) {
  if (addr == nullptr || addrlen == nullptr) return fail_errno(EFAULT);
  sock::Address a;
  if (sock::local_address(fd, &a) != 0) return -1;
  from_address(a, addr, addrlen);
  return 0;
}

extern "C" NTM_EXTERN(int) ntm_getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen) {
  if (addr == nullptr || addrlen == nullptr) return fail_errno(EFAULT);
  sock::Address a;
  if (sock::peer_address(fd, &a) != 0) return -1;
  from_address(a, addr, addrlen);
  return 0;
}

extern "C" NTM_EXTERN(int) ntm_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms) {
  if (fds == nullptr && nfds > 0) return fail_errno(EFAULT);
  std::vector<int> numbers;
  std::vector<size_t> index;  // numbers[i] is fds[index[i]]; negative fds are skipped, as poll(2)
  numbers.reserve(nfds);
  for (nfds_t i = 0; i < nfds; ++i) {
    fds[i].revents = 0;
    if (fds[i].fd < 0) continue;
    numbers.push_back(fds[i].fd);
    index.push_back(i);
  }
  // Closed descriptors are POLLNVAL without asking lwIP, and a close during the wait is left to
  // us (poll_close.cc): lwIP never polls a socket being closed.
  std::vector<bool> open, closed_meanwhile;
  capi::begin_poll(numbers.data(), numbers.size(), open);
  std::vector<sock::PollEntry> entries;
  std::vector<size_t> slot;  // entries[j] is numbers[slot[j]]
  int invalid = 0;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (!open[i]) {
      fds[index[i]].revents = POLLNVAL;
      ++invalid;
      continue;
    }
    short events = 0;
    const short asked = fds[index[i]].events;
    if (asked & (POLLIN | POLLRDNORM)) events |= sock::kPollIn;
    if (asked & (POLLOUT | POLLWRNORM)) events |= sock::kPollOut;
    entries.push_back({numbers[i], events, 0});
    slot.push_back(i);
  }
  int rc = 0;
  if (!entries.empty()) {
    // An invalid entry is ready already: only look at the others, without waiting.
    rc = sock::poll(entries.data(), entries.size(), invalid > 0 ? 0 : timeout_ms);
  }
  const int err = errno;
  capi::end_poll(numbers.data(), numbers.size(), open, closed_meanwhile);
  if (rc < 0) return fail_errno(err);
  int ready = invalid;
  for (size_t j = 0; j < entries.size(); ++j) {
    short r = 0, e = entries[j].revents;
    if (closed_meanwhile[slot[j]]) {
      r = POLLNVAL;  // closed by the application while we waited (as poll(2) reports it)
    } else {
      if (e & sock::kPollIn) r |= POLLIN;
      if (e & sock::kPollOut) r |= POLLOUT;
      if (e & sock::kPollErr) r |= POLLERR;
      if (e & sock::kPollHup) r |= POLLHUP;
      if (e & sock::kPollNval) r |= POLLNVAL;
    }
    fds[index[slot[j]]].revents = r;
    if (r != 0) ++ready;
  }
  return ready;
}

extern "C" NTM_EXTERN(int) ntm_fcntl(int fd, int cmd, int value) {
  if (cmd == F_GETFL) {
    int nonblocking = sock::get_nonblocking(fd);
    if (nonblocking < 0) return -1;
    return O_RDWR | (nonblocking ? O_NONBLOCK : 0);
  }
  if (cmd == F_SETFL) return sock::set_nonblocking(fd, (value & O_NONBLOCK) != 0);
  return fail_errno(EINVAL);
}
