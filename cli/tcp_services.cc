#include "tcp_services.h"

#include <netinet/in.h>
#include <ntm.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <cerrno>
#include <cstring>

#include "log.h"

namespace ntm::cli {

int connect_virtual(const HostPort& target, std::string* error) {
  const auto addresses = resolve_virtual(target, SOCK_STREAM, error);
  if (addresses.empty()) {
    errno = EHOSTUNREACH;
    return -1;
  }
  int last_errno = EHOSTUNREACH;
  for (const auto& a : addresses) {
    const int fd = ntm_socket(a.family(), SOCK_STREAM, 0);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (ntm_connect(fd, a.get(), a.length) == 0) {
      tune_virtual_stream(fd);
      return fd;
    }
    last_errno = errno;
    ntm_close(fd);
  }
  if (error) *error = "cannot connect to " + target.to_string() + ": " + std::strerror(last_errno);
  errno = last_errno;
  return -1;
}

int connect_real(const std::vector<SockAddr>& targets) {
  int last_errno = EHOSTUNREACH;
  for (const auto& a : targets) {
    const int fd = ::socket(a.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    if (::connect(fd, a.get(), a.length) == 0) return fd;
    last_errno = errno;
    ::close(fd);
  }
  errno = last_errno;
  return -1;
}

namespace {
ntm_node_info node_info() {
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  ntm_get_node_info(&info);
  return info;
}

// Closes a real connection with a reset, so the program sees "connection refused/reset" rather
// than a clean end of stream.
void reset_real(int fd) {
  linger off{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
  ::close(fd);
}
}  // namespace

bool node_has_ipv4() { return node_info().virtual_ipv4[0] != '\0'; }
bool node_has_ipv6() { return node_info().virtual_ipv6[0] != '\0'; }

TcpForward::TcpForward(const Rule& rule, ConnectionLimit& limit) {
  const std::string what = rule.text();
  auto handler = [target = rule.target, what, &limit](int fd, const SockAddr& from) {
    if (!limit.try_acquire()) {
      CLI_WARN("%s: connection from %s refused: max-connections reached", what.c_str(),
               from.to_string().c_str());
      reset_real(fd);
      return;
    }
    std::string error;
    const int ntm_fd = connect_virtual(target, &error);
    if (ntm_fd < 0) {
      CLI_WARN("%s: %s", what.c_str(), error.c_str());
      reset_real(fd);
      limit.release();
      return;
    }
    CLI_DEBUG("%s: connection from %s", what.c_str(), from.to_string().c_str());
    start_pump(fd, ntm_fd, limit);
  };
  for (const auto& at : resolve_real(rule.listen, SOCK_STREAM)) {
    listeners_.push_back(std::make_unique<RealListener>(at, handler, what));
  }
}

TcpExpose::TcpExpose(const Rule& rule, ConnectionLimit& limit)
    : rule_(rule), limit_(limit), targets_(resolve_real(rule.target, SOCK_STREAM)) {
  auto listen_on = [&](int family) {
    const int fd = ntm_socket(family, SOCK_STREAM, 0);
    if (fd < 0) throw ConfigError(rule_.text() + ": ntm_socket: " + std::strerror(errno));
    SockAddr any;
    if (family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&any.storage);
      a->sin_family = AF_INET;
      a->sin_port = htons(rule_.listen.port);
      any.length = sizeof(sockaddr_in);
    } else {
      auto* a = reinterpret_cast<sockaddr_in6*>(&any.storage);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(rule_.listen.port);
      any.length = sizeof(sockaddr_in6);
      const int one = 1;
      ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    const int one = 1;
    ntm_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ntm_bind(fd, any.get(), any.length) != 0 || ntm_listen(fd, 128) != 0) {
      const int saved = errno;
      ntm_close(fd);
      throw ConfigError(rule_.text() + ": cannot listen on virtual port " +
                        std::to_string(rule_.listen.port) + ": " + std::strerror(saved));
    }
    listen_fds_.push_back(fd);
  };
  try {
    if (node_has_ipv4()) listen_on(AF_INET);
    if (node_has_ipv6()) listen_on(AF_INET6);
  } catch (...) {
    for (int fd : listen_fds_) ntm_close(fd);
    throw;
  }
  for (int fd : listen_fds_) threads_.emplace_back([this, fd] { accept_loop(fd); });
}

TcpExpose::~TcpExpose() {
  for (int fd : listen_fds_) ntm_close(fd);  // wakes the blocked ntm_accept (EBADF)
  for (auto& t : threads_) t.join();
}

void TcpExpose::accept_loop(int listen_fd) {
  const std::string what = rule_.text();
  for (;;) {
    SockAddr from;
    from.length = sizeof(from.storage);
    const int fd = ntm_accept(listen_fd, from.get(), &from.length);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS) {
        CLI_WARN("%s: accept: %s", what.c_str(), std::strerror(errno));
        ::poll(nullptr, 0, 100);
        continue;
      }
      return;  // closed: the rule was removed or the node is stopping
    }
    if (!limit_.try_acquire()) {
      CLI_WARN("%s: connection from %s refused: max-connections reached", what.c_str(),
               from.to_string().c_str());
      ntm_close(fd);
      continue;
    }
    try {
      std::thread([fd, from, what, target = rule_.target.to_string(), targets = targets_,
                   &limit = limit_] {
        const int os_fd = connect_real(targets);
        if (os_fd < 0) {
          CLI_WARN("%s: cannot connect to %s: %s", what.c_str(), target.c_str(),
                   std::strerror(errno));
          ntm_close(fd);
          limit.release();
          return;
        }
        CLI_DEBUG("%s: connection from %s", what.c_str(), from.to_string().c_str());
        tune_virtual_stream(fd);
        start_pump(os_fd, fd, limit);
      }).detach();
    } catch (const std::system_error&) {
      ntm_close(fd);
      limit_.release();
    }
  }
}

}  // namespace ntm::cli
