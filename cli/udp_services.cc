#include "udp_services.h"

#include <netinet/in.h>
#include <ntm.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

#include "log.h"

namespace ntm::cli {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSessionIdle = std::chrono::seconds(60);
constexpr size_t kMaxSessions = 1024;
constexpr int kWakeMs = 500;  // how often session threads look at their idle time and stop flag
constexpr size_t kMaxDatagram = 65535;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Session {
  int fd = -1;  // forward: ntm UDP socket to the peer; expose: real UDP socket to the service
  SockAddr client;
  std::atomic<int64_t> last_ms{now_ms()};
  std::atomic<bool> closing{false};
};

// Sessions by client address, with the bound and the idle rule both kinds share.
class SessionTable {
 public:
  std::shared_ptr<Session> find(const SockAddr& client) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(client.to_string());
    return it == map_.end() ? nullptr : it->second;
  }
  // Adds a session; when full, marks the least recently used one for closing.
  void add(const std::shared_ptr<Session>& s) {
    std::lock_guard lock(mutex_);
    if (map_.size() >= kMaxSessions) {
      auto oldest = map_.begin();
      for (auto it = map_.begin(); it != map_.end(); ++it)
        if (it->second->last_ms < oldest->second->last_ms) oldest = it;
      oldest->second->closing = true;
      map_.erase(oldest);
    }
    map_[s->client.to_string()] = s;
  }
  void remove(const Session& s) {
    std::lock_guard lock(mutex_);
    auto it = map_.find(s.client.to_string());
    if (it != map_.end() && it->second.get() == &s) map_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Session>> map_;
};

bool session_should_end(const Session& s, const std::atomic<bool>& stopping) {
  return stopping.load() || s.closing.load() ||
         now_ms() - s.last_ms.load() > std::chrono::milliseconds(kSessionIdle).count();
}

}  // namespace

// ---- forward: real clients -> a peer's virtual port -----------------------------------------

struct UdpForwardState {
  std::string what;
  HostPort target;
  int real_fd = -1;
  int stop_fd = -1;
  std::atomic<bool> stopping{false};
  SessionTable sessions;
  ~UdpForwardState() {
    if (real_fd >= 0) ::close(real_fd);
    if (stop_fd >= 0) ::close(stop_fd);
  }
};

namespace {

void forward_replies(std::shared_ptr<UdpForwardState> st, std::shared_ptr<Session> s) {
  std::unique_ptr<char[]> buffer(new char[kMaxDatagram]);
  timeval tv{0, kWakeMs * 1000};
  ntm_setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (!session_should_end(*s, st->stopping)) {
    const ssize_t n = ntm_recv(s->fd, buffer.get(), kMaxDatagram, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      break;
    }
    s->last_ms = now_ms();
    ::sendto(st->real_fd, buffer.get(), static_cast<size_t>(n), 0, s->client.get(), s->client.length);
  }
  st->sessions.remove(*s);
  ntm_close(s->fd);
}

std::shared_ptr<Session> open_forward_session(const std::shared_ptr<UdpForwardState>& st,
                                              const SockAddr& client) {
  std::string error;
  const auto addresses = resolve_virtual(st->target, SOCK_DGRAM, &error);
  for (const auto& a : addresses) {
    const int fd = ntm_socket(a.family(), SOCK_DGRAM, 0);
    if (fd < 0) continue;
    if (ntm_connect(fd, a.get(), a.length) != 0) {
      error = "cannot reach " + a.to_string() + ": " + std::strerror(errno);
      ntm_close(fd);
      continue;
    }
    auto s = std::make_shared<Session>();
    s->fd = fd;
    s->client = client;
    try {
      std::thread(forward_replies, st, s).detach();
    } catch (const std::system_error&) {
      ntm_close(fd);
      return nullptr;
    }
    st->sessions.add(s);
    return s;
  }
  CLI_WARN("%s: %s", st->what.c_str(), error.c_str());
  return nullptr;
}

void forward_loop(std::shared_ptr<UdpForwardState> st) {
  std::unique_ptr<char[]> buffer(new char[kMaxDatagram]);
  for (;;) {
    pollfd fds[2] = {{st->real_fd, POLLIN, 0}, {st->stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    SockAddr client;
    client.length = sizeof(client.storage);
    const ssize_t n = ::recvfrom(st->real_fd, buffer.get(), kMaxDatagram, 0, client.get(),
                                 &client.length);
    if (n < 0) continue;
    auto s = st->sessions.find(client);
    if (!s) s = open_forward_session(st, client);
    if (!s) continue;
    s->last_ms = now_ms();
    ntm_send(s->fd, buffer.get(), static_cast<size_t>(n), MSG_DONTWAIT);
  }
}

}  // namespace

UdpForward::UdpForward(const Rule& rule) {
  for (const auto& at : resolve_real(rule.listen, SOCK_DGRAM)) {
    auto st = std::make_shared<UdpForwardState>();
    st->what = rule.text();
    st->target = rule.target;
    st->real_fd = bind_real(at, SOCK_DGRAM);
    st->stop_fd = ::eventfd(0, EFD_CLOEXEC);
    states_.push_back(st);
  }
  for (auto& st : states_) threads_.emplace_back(forward_loop, st);
}

UdpForward::~UdpForward() {
  for (auto& st : states_) {
    st->stopping = true;
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(st->stop_fd, &one, sizeof(one));
  }
  for (auto& t : threads_) t.join();
}

// ---- expose: peers -> a real local service ---------------------------------------------------

struct UdpExposeState {
  std::string what;
  std::vector<SockAddr> targets;
  int ntm_fd = -1;
  std::atomic<bool> stopping{false};
  SessionTable sessions;
  ~UdpExposeState() {
    if (ntm_fd >= 0) ntm_close(ntm_fd);
  }
};

namespace {

void expose_replies(std::shared_ptr<UdpExposeState> st, std::shared_ptr<Session> s) {
  std::unique_ptr<char[]> buffer(new char[kMaxDatagram]);
  while (!session_should_end(*s, st->stopping)) {
    pollfd p{s->fd, POLLIN, 0};
    if (::poll(&p, 1, kWakeMs) <= 0) continue;
    const ssize_t n = ::recv(s->fd, buffer.get(), kMaxDatagram, 0);
    if (n < 0) continue;  // e.g. ECONNREFUSED while the service is down
    s->last_ms = now_ms();
    ntm_sendto(st->ntm_fd, buffer.get(), static_cast<size_t>(n), MSG_DONTWAIT, s->client.get(),
               s->client.length);
  }
  st->sessions.remove(*s);
  ::close(s->fd);
}

std::shared_ptr<Session> open_expose_session(const std::shared_ptr<UdpExposeState>& st,
                                             const SockAddr& client) {
  for (const auto& a : st->targets) {
    const int fd = ::socket(a.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (::connect(fd, a.get(), a.length) != 0) {
      ::close(fd);
      continue;
    }
    auto s = std::make_shared<Session>();
    s->fd = fd;
    s->client = client;
    try {
      std::thread(expose_replies, st, s).detach();
    } catch (const std::system_error&) {
      ::close(fd);
      return nullptr;
    }
    st->sessions.add(s);
    return s;
  }
  CLI_WARN("%s: cannot reach the local service", st->what.c_str());
  return nullptr;
}

void expose_loop(std::shared_ptr<UdpExposeState> st) {
  std::unique_ptr<char[]> buffer(new char[kMaxDatagram]);
  timeval tv{0, kWakeMs * 1000};
  ntm_setsockopt(st->ntm_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (!st->stopping.load()) {
    SockAddr client;
    client.length = sizeof(client.storage);
    const ssize_t n = ntm_recvfrom(st->ntm_fd, buffer.get(), kMaxDatagram, 0, client.get(),
                                   &client.length);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return;  // node stopping
    }
    auto s = st->sessions.find(client);
    if (!s) s = open_expose_session(st, client);
    if (!s) continue;
    s->last_ms = now_ms();
    ::send(s->fd, buffer.get(), static_cast<size_t>(n), MSG_DONTWAIT);
  }
}

}  // namespace

UdpExpose::UdpExpose(const Rule& rule) {
  const auto targets = resolve_real(rule.target, SOCK_DGRAM);
  auto open = [&](int family) {
    auto st = std::make_shared<UdpExposeState>();
    st->what = rule.text();
    st->targets = targets;
    st->ntm_fd = ntm_socket(family, SOCK_DGRAM, 0);
    if (st->ntm_fd < 0) throw ConfigError(st->what + ": ntm_socket: " + std::strerror(errno));
    SockAddr any;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&any.storage);
      a->sin_family = AF_INET;
      a->sin_port = htons(rule.listen.port);
      any.length = sizeof(sockaddr_in);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&any.storage);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(rule.listen.port);
      any.length = sizeof(sockaddr_in6);
      const int one = 1;
      ntm_setsockopt(st->ntm_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (ntm_bind(st->ntm_fd, any.get(), any.length) != 0) {
      throw ConfigError(st->what + ": cannot bind virtual port " + std::to_string(rule.listen.port) +
                        ": " + std::strerror(errno));
    }
    states_.push_back(st);
  };
  if (node_has_ipv4()) open(AF_INET);
  if (node_has_ipv6()) open(AF_INET6);
  for (auto& st : states_) threads_.emplace_back(expose_loop, st);
}

UdpExpose::~UdpExpose() {
  for (auto& st : states_) st->stopping = true;
  for (auto& t : threads_) t.join();
}

}  // namespace ntm::cli
