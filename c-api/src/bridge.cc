// The real-descriptor bridge: a socketpair end for the application, the other end pumped to and
// from a connected ntm stream socket by two threads (one per direction).
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "api_common.h"
#include "bridge.h"

namespace {

std::mutex g_bridges_mutex;

constexpr size_t kChunk = 64 * 1024;
constexpr int kPollMs = 200;  // how often a blocked virtual read checks the OS side is gone

struct Bridge {
  int ntm_fd;
  int os_fd;  // our end of the socketpair
  uint64_t token = 0;  // names the bridge to ntm_bridge_accept_listener()
  ino_t app_inode = 0;  // the application's end (guarded by g_bridges_mutex); 0 while unknown
  std::vector<char> preamble;  // written to os_fd before any data (a bridged listener's hello)
  std::atomic<int> finished{0};
  std::atomic<bool> to_ntm_running{true};

  // Both pumps share the bridge; the second to finish closes both ends.
  void done() {
    if (finished.fetch_add(1) == 1) {
      ntm_close(ntm_fd);
      ::close(os_fd);
    }
  }
};

bool write_all_os(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool write_all_ntm(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ntm_send(fd, data, size, 0);
    if (n < 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool os_side_closed(int fd) {
  pollfd p{fd, 0, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

// Virtual -> OS. A receive timeout lets it notice that the application closed its end.
void pump_from_ntm(std::shared_ptr<Bridge> b) {
  std::unique_ptr<char[]> buffer(new char[kChunk]);
  if (!b->preamble.empty() && !write_all_os(b->os_fd, b->preamble.data(), b->preamble.size())) {
    ::shutdown(b->os_fd, SHUT_RDWR);
    b->done();
    return;
  }
  for (;;) {
    ssize_t n = ntm_recv(b->ntm_fd, buffer.get(), kChunk, 0);
    if (n > 0) {
      if (!write_all_os(b->os_fd, buffer.get(), static_cast<size_t>(n))) break;
      continue;
    }
    if (n == 0) {
      ::shutdown(b->os_fd, SHUT_WR);  // the peer finished sending: pass the FIN on
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      // The application closed its end: stop reading. The other pump still drains what the
      // application wrote before closing and then sends the FIN.
      if (os_side_closed(b->os_fd)) break;
      continue;
    }
    ::shutdown(b->os_fd, SHUT_RDWR);  // connection reset or node stopped
    break;
  }
  b->done();
}

std::vector<std::shared_ptr<Bridge>>& bridges() {
  // Leaked: pump threads may still use it while the process exits.
  static auto* list = new std::vector<std::shared_ptr<Bridge>>;
  return *list;
}

// Application ends named (by ntm_bridge_accept_listener) before their bridge registered:
// token -> inode, guarded by g_bridges_mutex.
std::vector<std::pair<uint64_t, ino_t>>& pending_names() {
  static auto* list = new std::vector<std::pair<uint64_t, ino_t>>;
  return *list;
}

void unregister_bridge(Bridge* b) {
  std::lock_guard lock(g_bridges_mutex);
  std::erase_if(bridges(), [b](const auto& p) { return p.get() == b; });
}

// OS -> virtual.
void pump_to_ntm(std::shared_ptr<Bridge> b) {
  std::unique_ptr<char[]> buffer(new char[kChunk]);
  for (;;) {
    ssize_t n = ::recv(b->os_fd, buffer.get(), kChunk, 0);
    if (n > 0) {
      if (!write_all_ntm(b->ntm_fd, buffer.get(), static_cast<size_t>(n))) {
        ::shutdown(b->os_fd, SHUT_RDWR);
        break;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    ntm_shutdown(b->ntm_fd, SHUT_WR);  // EOF from the application: send FIN
    break;
  }
  b->to_ntm_running.store(false);
  unregister_bridge(b.get());
  b->done();
}

}  // namespace

namespace ntm::capi {

uint64_t new_bridge_token() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

bool start_pumps(int ntm_fd, int os_fd, int app_fd, uint64_t token, const void* preamble,
                 size_t preamble_size) {
  // Blocking virtual socket with a short receive timeout (see pump_from_ntm).
  ntm_fcntl(ntm_fd, F_SETFL, 0);
  timeval tv{0, kPollMs * 1000};
  ntm_setsockopt(ntm_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  // The pump already writes whatever the application wrote, as soon as it can: Nagle would
  // only add delay (the application cannot reach the virtual socket's options any more).
  int one = 1;
  ntm_setsockopt(ntm_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto bridge = std::make_shared<Bridge>();
  bridge->ntm_fd = ntm_fd;
  bridge->os_fd = os_fd;
  struct stat st;
  if (app_fd >= 0 && ::fstat(app_fd, &st) == 0) bridge->app_inode = st.st_ino;
  bridge->token = token;
  if (preamble_size > 0) {
    const auto* p = static_cast<const char*>(preamble);
    bridge->preamble.assign(p, p + preamble_size);
  }
  {
    std::lock_guard lock(g_bridges_mutex);
    auto& pending = pending_names();
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      if (it->first == token) {
        bridge->app_inode = it->second;
        pending.erase(it);
        break;
      }
    }
    bridges().push_back(bridge);
  }
  try {
    std::thread(pump_from_ntm, bridge).detach();
    std::thread(pump_to_ntm, bridge).detach();
  } catch (const std::system_error&) {
    unregister_bridge(bridge.get());
    ::close(os_fd);
    ntm_close(ntm_fd);
    errno = EAGAIN;
    return false;
  }
  return true;
}

void name_application_end(uint64_t token, int app_fd) {
  struct stat st;
  if (::fstat(app_fd, &st) != 0) return;
  std::lock_guard lock(g_bridges_mutex);
  for (const auto& b : bridges()) {
    if (b->token == token) {
      b->app_inode = st.st_ino;
      return;
    }
  }
  pending_names().emplace_back(token, st.st_ino);
}

int with_bridged_ntm_fd(int app_fd, const std::function<int(int)>& call) {
  struct stat st;
  if (::fstat(app_fd, &st) != 0) return -1;  // EBADF
  std::lock_guard lock(g_bridges_mutex);  // a registered bridge's ntm_fd stays open meanwhile
  for (const auto& b : bridges()) {
    if (b->app_inode == st.st_ino) return call(b->ntm_fd);
  }
  errno = S_ISSOCK(st.st_mode) ? ENOTCONN : ENOTSOCK;
  return -1;
}

int bridges_draining() {
  std::lock_guard lock(g_bridges_mutex);
  int count = 0;
  for (const auto& b : bridges()) {
    if (b->to_ntm_running.load() && os_side_closed(b->os_fd)) ++count;
  }
  return count;
}

}  // namespace ntm::capi

extern "C" NTM_EXTERN(int) ntm_bridge_socket(int ntm_fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (ntm_getsockopt(ntm_fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -1;
  if (type != SOCK_STREAM) {
    ntm_close(ntm_fd);
    errno = EOPNOTSUPP;
    return -1;
  }
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    int saved = errno;
    ntm_close(ntm_fd);
    errno = saved;
    return -1;
  }
  if (!ntm::capi::start_pumps(ntm_fd, pair[1], pair[0], ntm::capi::new_bridge_token(), nullptr,
                              0)) {
    ::close(pair[0]);
    return -1;
  }
  return pair[0];
}

extern "C" NTM_EXTERN(int) ntm_bridge_connect(const struct sockaddr *addr, socklen_t addrlen) {
  if (addr == nullptr) {
    errno = EFAULT;
    return -1;
  }
  int fd = ntm_socket(addr->sa_family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (ntm_connect(fd, addr, addrlen) != 0) {
    int saved = errno;
    ntm_close(fd);
    errno = saved;
    return -1;
  }
  return ntm_bridge_socket(fd);
}

extern "C" NTM_EXTERN(int) ntm_bridge_accept(int listen_fd, struct sockaddr *addr,
                                             socklen_t *addrlen) {
  int fd = ntm_accept(listen_fd, addr, addrlen);
  if (fd < 0) return -1;
  return ntm_bridge_socket(fd);
}
