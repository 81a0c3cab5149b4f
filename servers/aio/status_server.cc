#include "aio/status_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "aio/server_app.h"
#include "aio/status_report.h"
#include "util/log.h"

namespace ntm::servers {

namespace {

constexpr int kClientTimeoutMs = 2000;
constexpr size_t kMaxRequest = 8192;

sockaddr_un unix_address(const std::filesystem::path& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string p = path.string();
  if (p.size() >= sizeof(a.sun_path)) {
    throw std::runtime_error("status socket path '" + p + "' is too long (use a shorter --state)");
  }
  std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
  return a;
}

void send_all(int fd, const std::string& text) {
  size_t at = 0;
  while (at < text.size()) {
    const ssize_t n = ::send(fd, text.data() + at, text.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    at += static_cast<size_t>(n);
  }
}

// Reads until `end` is seen, the peer stops sending, or the bound/timeout is reached.
std::string read_request(int fd, const char* end) {
  std::string request;
  char buf[1024];
  while (request.find(end) == std::string::npos && request.size() < kMaxRequest) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kClientTimeoutMs) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  return request;
}

}  // namespace

std::filesystem::path status_socket_path(const std::filesystem::path& state, const std::string& program) {
  return state / (program + ".sock");
}

StatusServer::StatusServer(ServerApp& app, std::string program, std::filesystem::path socket_path,
                           std::optional<Endpoint> metrics)
    : app_(app), program_(std::move(program)), socket_path_(std::move(socket_path)) {
  const sockaddr_un a = unix_address(socket_path_);
  ::unlink(socket_path_.c_str());  // a stale socket of a server that did not stop cleanly
  unix_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(unix_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a));
  ::umask(old_mask);
  if (unix_fd_ < 0 || bound != 0 || ::listen(unix_fd_, 8) != 0) {
    const int saved = errno;
    if (unix_fd_ >= 0) ::close(unix_fd_);
    throw std::runtime_error("cannot serve the status on '" + socket_path_.string() +
                             "': " + std::strerror(saved));
  }
  if (metrics) {
    sockaddr_storage ss{};
    const socklen_t len = metrics->to_sockaddr(ss);
    metrics_fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(metrics_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (metrics_fd_ < 0 || ::bind(metrics_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(metrics_fd_, 16) != 0) {
      const int saved = errno;
      if (metrics_fd_ >= 0) ::close(metrics_fd_);
      ::close(unix_fd_);
      ::unlink(socket_path_.c_str());
      throw std::runtime_error("cannot serve metrics on " + metrics->to_string() + ": " +
                               std::strerror(saved));
    }
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

StatusServer::~StatusServer() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(unix_fd_);
  if (metrics_fd_ >= 0) ::close(metrics_fd_);
  ::close(stop_fd_);
  ::unlink(socket_path_.c_str());
}

std::optional<Endpoint> StatusServer::metrics_endpoint() const {
  if (metrics_fd_ < 0) return std::nullopt;
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  ::getsockname(metrics_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

void StatusServer::run() {
  for (;;) {
    pollfd fds[3] = {{stop_fd_, POLLIN, 0}, {unix_fd_, POLLIN, 0}, {metrics_fd_, POLLIN, 0}};
    if (::poll(fds, metrics_fd_ >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) return;
    for (int i = 1; i < 3; ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      const int fd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      try {
        if (i == 1) serve_status(fd);
        else serve_metrics(fd);
      } catch (const std::exception& e) {
        NTM_LOG_WARN("%s: status request failed: %s", program_.c_str(), e.what());
      }
      ::close(fd);
    }
  }
}

void StatusServer::serve_status(int fd) {
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      (peer.uid != ::geteuid() && peer.uid != 0)) {
    return;  // only the server's own user (and root) may read it
  }
  send_all(fd, status_json(app_, program_, started_).dump(2) + "\n");
}

void StatusServer::serve_metrics(int fd) {
  const std::string request = read_request(fd, "\r\n\r\n");
  const bool get_metrics = request.rfind("GET /metrics ", 0) == 0 || request.rfind("GET / ", 0) == 0;
  std::string body, status;
  if (get_metrics) {
    status = "200 OK";
    body = prometheus_text(status_json(app_, program_, started_));
  } else {
    status = "404 Not Found";
    body = "GET /metrics\n";
  }
  send_all(fd, "HTTP/1.1 " + status +
                   "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
}

std::string fetch_status(const std::filesystem::path& socket_path) {
  const sockaddr_un a = unix_address(socket_path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    const int saved = errno;
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no server is running with this state directory (cannot connect to " +
                             socket_path.string() + ": " + std::strerror(saved) + ")");
  }
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) {
      ::close(fd);
      throw std::runtime_error("the server did not answer within 10 s");
    }
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace ntm::servers
