// The datagram bridge: an OS descriptor that becomes readable when a datagram waits on an ntm
// datagram socket. A pump thread per socket receives from the virtual socket and writes each
// datagram, after a 20-byte source record, as one message to a SOCK_SEQPACKET socketpair whose
// other end the application reads (recv(2), select/epoll, Python selectors/asyncio, Ruby IO).
// Sending and everything else stay on the ntm descriptor.
//
// Only the pump closes the virtual socket once it runs: closing a descriptor number from
// another thread while the pump is about to use it could let a new socket take that number and
// the pump read the new socket's data. So ntm_close() of a bridged socket asks the pump to close
// it, wakes it (a datagram to itself) and waits for it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "api_common.h"
#include "bridge.h"
#include "node/socket_api.h"

namespace {

constexpr size_t kMaxDatagram = 65535;
constexpr int kPollMs = 200;  // how often an idle pump checks the application's end is still open
// The pair's queue towards the application: datagrams beyond it are dropped, as a full UDP
// receive buffer drops them (the kernel caps it at net.core.wmem_max).
constexpr int kPairBuffer = 4 * 1024 * 1024;
constexpr auto kCloseWait = std::chrono::seconds(2);

struct DatagramBridge {
  int ntm_fd;
  int pump_fd;  // the pump's end of the pair
  std::mutex mutex;
  std::condition_variable exited_cv;
  bool closing = false;  // ntm_close() asked the pump to close the virtual socket
  bool exited = false;   // the pump returned (the virtual socket is closed or not ours)
};

std::mutex g_mutex;  // guards the list

std::vector<std::shared_ptr<DatagramBridge>>& bridges() {
  static auto* list = new std::vector<std::shared_ptr<DatagramBridge>>;  // leaked: see bridge.cc
  return *list;
}

std::shared_ptr<DatagramBridge> find_locked(int ntm_fd) {
  for (const auto& b : bridges()) {
    if (b->ntm_fd == ntm_fd) return b;
  }
  return nullptr;
}

void unregister(const DatagramBridge* b) {
  std::lock_guard lock(g_mutex);
  std::erase_if(bridges(), [b](const auto& p) { return p.get() == b; });
}

bool application_end_gone(int pump_fd) {
  pollfd p{pump_fd, 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

bool closing(DatagramBridge& b) {
  std::lock_guard lock(b.mutex);
  return b.closing;
}

// The pump receives with blocking calls and a receive timeout, not with ntm_poll(): a poll that
// races with ntm_stop() closing the socket under another thread's call unbalances lwIP's use
// count of the socket (the close is then deferred to the last user).
void make_blocking(int ntm_fd) {
  int flags = ntm_fcntl(ntm_fd, F_GETFL, 0);
  if (flags >= 0 && (flags & O_NONBLOCK)) ntm_fcntl(ntm_fd, F_SETFL, flags & ~O_NONBLOCK);
}

void pump(std::shared_ptr<DatagramBridge> b) {
  std::unique_ptr<unsigned char[]> buffer(
      new unsigned char[NTM_BRIDGE_DGRAM_HEADER_SIZE + kMaxDatagram]);
  timeval tv{0, kPollMs * 1000};
  ntm_setsockopt(b->ntm_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  make_blocking(b->ntm_fd);
  for (;;) {
    if (closing(*b)) {
      // Our number to close: the application gave up its right to (ntm_close() is waiting).
      if (ntm::capi::runtime().remove_fd(b->ntm_fd)) ntm::sock::close(b->ntm_fd);
      break;
    }
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = ntm_recvfrom(b->ntm_fd, buffer.get() + NTM_BRIDGE_DGRAM_HEADER_SIZE, kMaxDatagram,
                             0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ETIMEDOUT && errno != EINTR) {
        break;  // EBADF: the node stopped (ntm_stop() closed the socket)
      }
      if (application_end_gone(b->pump_fd)) break;
      make_blocking(b->ntm_fd);  // someone made it non-blocking: the pump would spin
      continue;
    }
    if (closing(*b)) continue;  // the wake-up datagram (or one after ntm_close()): not passed on
    ntm::capi::encode_address_record(from, buffer.get());
    if (::send(b->pump_fd, buffer.get(), NTM_BRIDGE_DGRAM_HEADER_SIZE + static_cast<size_t>(n),
               MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
        errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
      break;  // EPIPE: the application closed its end (a full queue drops the datagram)
    }
  }
  // The application's reads now see end-of-file (closed, or the node stopped).
  ::shutdown(b->pump_fd, SHUT_RDWR);
  ::close(b->pump_fd);
  unregister(b.get());
  std::lock_guard lock(b->mutex);
  b->exited = true;
  b->exited_cv.notify_all();
}

// The address a datagram from the socket to itself goes to: its own, with this node's virtual
// address in place of a wildcard. false if there is none.
bool own_address(int ntm_fd, sockaddr_storage& self, socklen_t& len) {
  len = sizeof(self);
  self = {};
  if (ntm_getsockname(ntm_fd, reinterpret_cast<sockaddr*>(&self), &len) != 0) return false;
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  if (self.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&self);
    if (in->sin_addr.s_addr != htonl(INADDR_ANY)) return true;
    return ntm_get_node_info(&info) == NTM_OK && info.virtual_ipv4[0] != '\0' &&
           ::inet_pton(AF_INET, info.virtual_ipv4, &in->sin_addr) == 1;
  }
  if (self.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&self);
    if (!IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) return true;
    return ntm_get_node_info(&info) == NTM_OK && info.virtual_ipv6[0] != '\0' &&
           ::inet_pton(AF_INET6, info.virtual_ipv6, &in6->sin6_addr) == 1;
  }
  return false;
}

// Wakes a pump waiting in ntm_recvfrom(): an empty datagram from the socket to itself (connected
// first to itself, so a connected socket accepts it too - it is being closed anyway). Best
// effort: the pump's poll timeout is the fallback.
void wake(int ntm_fd) {
  sockaddr_storage self;
  socklen_t len;
  if (!own_address(ntm_fd, self, len)) return;
  ntm_connect(ntm_fd, reinterpret_cast<sockaddr*>(&self), len);
  ntm_sendto(ntm_fd, "", 0, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&self), len);
}

}  // namespace

namespace ntm::capi {

int close_bridged_datagram(int ntm_fd) {
  std::shared_ptr<DatagramBridge> b;
  {
    std::lock_guard lock(g_mutex);
    b = find_locked(ntm_fd);
    if (!b) return 1;  // not bridged: the caller closes it
    std::lock_guard bridge_lock(b->mutex);
    if (b->closing) {  // a second close while the pump closes it: as for a closed socket
      errno = EBADF;
      return -1;
    }
    b->closing = true;
  }
  wake(ntm_fd);
  std::unique_lock lock(b->mutex);
  // The pump closes it within its poll interval even if the wake-up datagram was lost.
  b->exited_cv.wait_for(lock, kCloseWait, [&] { return b->exited; });
  return 0;
}

}  // namespace ntm::capi

extern "C" NTM_EXTERN(int) ntm_bridge_datagram(int ntm_fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (ntm_getsockopt(ntm_fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -1;
  if (type != SOCK_DGRAM) {
    errno = EOPNOTSUPP;
    return -1;
  }
  std::lock_guard lock(g_mutex);  // one bridge per socket
  if (find_locked(ntm_fd)) {
    errno = EALREADY;
    return -1;
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  int size = kPairBuffer;
  ::setsockopt(pair[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  auto bridge = std::make_shared<DatagramBridge>();
  bridge->ntm_fd = ntm_fd;
  bridge->pump_fd = pair[1];
  try {
    bridges().push_back(bridge);
    std::thread(pump, bridge).detach();
  } catch (const std::exception&) {
    std::erase(bridges(), bridge);
    ::close(pair[0]);
    ::close(pair[1]);
    errno = EAGAIN;
    return -1;
  }
  return pair[0];
}

extern "C" NTM_EXTERN(ssize_t) ntm_bridge_recvfrom(int os_fd, void *buf, size_t len, int flags,
                                                   struct sockaddr *from, socklen_t *fromlen) {
  unsigned char record[NTM_BRIDGE_DGRAM_HEADER_SIZE];
  iovec parts[2] = {{record, sizeof(record)}, {buf, len}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  ssize_t n = ::recvmsg(os_fd, &message, flags);
  if (n < 0) return -1;
  if (n < static_cast<ssize_t>(sizeof(record))) {
    // End of file (the socket was closed or the node stopped), or not a bridged descriptor.
    errno = n == 0 ? EBADF : EPROTO;
    return -1;
  }
  if (from != nullptr && fromlen != nullptr) {
    sockaddr_storage source{};
    socklen_t size = ntm::capi::decode_address_record(record, source);
    std::memcpy(from, &source, std::min(*fromlen, size));
    *fromlen = size;
  }
  return n - static_cast<ssize_t>(sizeof(record));
}
