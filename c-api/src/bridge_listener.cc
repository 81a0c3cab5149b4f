// Bridged listeners: a Unix-domain listening socket stands in for a listening ntm socket, so
// runtimes can wait on it with their own event loops. A library thread accepts virtual
// connections and connects each to the Unix listener, first sending a hello record with the
// peer's virtual address; ntm_bridge_accept_listener() reads it back.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <thread>

#include "api_common.h"
#include "bridge.h"
#include "crypto/random.h"

namespace {

constexpr int kAcceptPollMs = 200;  // how often the accept thread checks the listener is alive

// The hello record plus the bridge's token (internal: read only by
// ntm_bridge_accept_listener(), which ties the accepted descriptor to its bridge for
// ntm_bridge_setsockopt()).
constexpr size_t kTokenSize = 8;

struct Hello {
  uint8_t bytes[NTM_BRIDGE_HELLO_SIZE + kTokenSize];
};

// The record, then the token (host order).
Hello encode_hello(const sockaddr_storage& peer) {
  Hello h{};
  ntm::capi::encode_address_record(peer, h.bytes);
  return h;
}

void decode_hello(const Hello& h, sockaddr* addr, socklen_t* addrlen) {
  if (addr == nullptr || addrlen == nullptr) return;
  sockaddr_storage ss{};
  socklen_t size = ntm::capi::decode_address_record(h.bytes, ss);
  std::memcpy(addr, &ss, std::min(*addrlen, size));
  *addrlen = size;
}

struct Listener {
  int ntm_fd;
  int os_fd;     // the application's descriptor (we never close it)
  ino_t inode;   // identifies the socket behind os_fd, to notice when the application closes it
  sockaddr_un address;
  socklen_t address_length;
};

bool listener_alive(const Listener& l) {
  struct stat st;
  return ::fstat(l.os_fd, &st) == 0 && st.st_ino == l.inode;
}

// Connects a new Unix stream to the listener. -1 if the listener is gone.
int hand_over(const Listener& l) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&l.address), l.address_length) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The hello with the bridge's token.
Hello make_hello(const sockaddr_storage& peer, uint64_t token) {
  Hello h = encode_hello(peer);
  std::memcpy(h.bytes + NTM_BRIDGE_HELLO_SIZE, &token, kTokenSize);
  return h;
}

void accept_loop(Listener l) {
  timeval tv{0, kAcceptPollMs * 1000};
  ntm_setsockopt(l.ntm_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (listener_alive(l)) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int conn = ntm_accept(l.ntm_fd, reinterpret_cast<sockaddr*>(&peer), &len);
    if (conn < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ETIMEDOUT || errno == EINTR ||
          errno == ECONNABORTED) {
        continue;
      }
      break;  // EBADF: the node stopped
    }
    int os_fd = hand_over(l);
    if (os_fd < 0) {
      ntm_close(conn);
      if (!listener_alive(l)) break;
      continue;
    }
    // The bridge is registered before its pump sends the hello (its first bytes), so once the
    // application has accepted, ntm_bridge_setsockopt() finds it.
    const uint64_t token = ntm::capi::new_bridge_token();
    const Hello hello = make_hello(peer, token);
    ntm::capi::start_pumps(conn, os_fd, -1, token, hello.bytes, sizeof(hello.bytes));
  }
  ntm_close(l.ntm_fd);
  // The node stopped while the application still listens: wake its accept() (it then fails)
  // instead of leaving it blocked forever. Only if the descriptor is still that listener.
  if (listener_alive(l)) ::shutdown(l.os_fd, SHUT_RDWR);
}

std::atomic<unsigned> g_listener_count{0};

}  // namespace

extern "C" NTM_EXTERN(int) ntm_bridge_listen(int ntm_listen_fd) {
  Listener l{};
  l.ntm_fd = ntm_listen_fd;
  l.address.sun_family = AF_UNIX;
  // An abstract address (leading NUL): nothing in the file system, gone with the socket.
  char name[96];
  int n = std::snprintf(name, sizeof(name), "ntm-bridge-%d-%u-%08x", static_cast<int>(::getpid()),
                        g_listener_count.fetch_add(1), ntm::crypto::random_u32());
  l.address.sun_path[0] = '\0';
  std::memcpy(l.address.sun_path + 1, name, static_cast<size_t>(n));
  l.address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&l.address), l.address_length) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    int saved = errno;
    if (fd >= 0) ::close(fd);
    ntm_close(ntm_listen_fd);
    errno = saved;
    return -1;
  }
  struct stat st;
  ::fstat(fd, &st);
  l.os_fd = fd;
  l.inode = st.st_ino;
  try {
    std::thread(accept_loop, l).detach();
  } catch (const std::system_error&) {
    ::close(fd);
    ntm_close(ntm_listen_fd);
    errno = EAGAIN;
    return -1;
  }
  return fd;
}

extern "C" NTM_EXTERN(int) ntm_bridge_accept_listener(int os_listen_fd, struct sockaddr *addr,
                                                      socklen_t *addrlen) {
  int fd = ::accept4(os_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return -1;
  // The hello is written right after connect, before any data: wait for it briefly.
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  Hello h{};
  ssize_t got = ::recv(fd, h.bytes, sizeof(h.bytes), MSG_WAITALL);
  timeval none{0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
  if (got != static_cast<ssize_t>(sizeof(h.bytes)) || (h.bytes[0] != 4 && h.bytes[0] != 6)) {
    ::close(fd);
    errno = ECONNABORTED;
    return -1;
  }
  decode_hello(h, addr, addrlen);
  uint64_t token = 0;
  std::memcpy(&token, h.bytes + NTM_BRIDGE_HELLO_SIZE, kTokenSize);
  ntm::capi::name_application_end(token, fd);
  return fd;
}
