#include "node/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "node/control_json.h"
#include "node/node.h"
#include "util/log.h"

namespace ntm::node {

namespace {

constexpr size_t kMaxRequest = 4096;
constexpr int kClientTimeoutMs = 2000;  // to send the request line
constexpr int kMaxPingTimeoutMs = 10000;

sockaddr_un socket_address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path)) {
    throw std::runtime_error("control socket path '" + path + "' is empty or longer than " +
                             std::to_string(sizeof(a.sun_path) - 1) + " bytes");
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// True if something accepts connections on `path` (a running node).
bool in_use(const sockaddr_un& a) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool used = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return used;
}

bool write_all(int fd, const std::string& text) {
  size_t at = 0;
  while (at < text.size()) {
    const ssize_t n = ::send(fd, text.data() + at, text.size() - at, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    at += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

ControlServer::ControlServer(std::string path, Node& node) : path_(std::move(path)), node_(node) {
  const sockaddr_un a = socket_address(path_);
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("control socket path '" + path_ + "' exists and is not a socket");
    }
    if (in_use(a)) {
      throw std::runtime_error("control socket '" + path_ + "' is in use by another node");
    }
    ::unlink(path_.c_str());  // stale: left by a node that did not stop cleanly
  }
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("control socket: ") + std::strerror(errno));
  // Owner-only from the start: no other user can connect between bind() and chmod().
  const mode_t old_mask = ::umask(0177);
  const int bound = ::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a));
  const int bind_errno = errno;
  ::umask(old_mask);
  if (bound != 0 || ::chmod(path_.c_str(), 0600) != 0 || ::listen(listen_fd_, 16) != 0) {
    const int saved = bound != 0 ? bind_errno : errno;
    ::close(listen_fd_);
    if (bound == 0) ::unlink(path_.c_str());
    throw std::runtime_error("cannot serve the control API on '" + path_ + "': " + std::strerror(saved));
  }
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(stop_fd_);
  ::unlink(path_.c_str());
}

void ControlServer::run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve(fd);
    ::close(fd);
  }
}

void ControlServer::serve(int fd) {
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 ||
      (peer.uid != ::geteuid() && peer.uid != 0)) {
    NTM_LOG_WARN("control API: refused a client of user %u", static_cast<unsigned>(peer.uid));
    return;
  }
  std::string request;
  char buf[512];
  while (request.find('\n') == std::string::npos && request.size() < kMaxRequest) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kClientTimeoutMs) <= 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  write_all(fd, handle(request.substr(0, request.find('\n'))) + "\n");
}

std::string ControlServer::handle(const std::string& text) {
  nlohmann::json reply;
  try {
    const auto request = nlohmann::json::parse(text);
    if (!request.is_object() || !request.contains("command") || !request["command"].is_string()) {
      throw std::invalid_argument("a request is a JSON object with a \"command\" string");
    }
    const std::string command = request["command"];
    const bool all = command == "status";
    if (all || command == "info") {
      reply["node"] = node_json(node_.info(), node_.control_plane(), node_.uptime_ms());
    }
    if (all || command == "tunnels") {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& t : node_.tunnels()) rows.push_back(tunnel_json(t));
      reply["tunnels"] = rows;
    }
    if (all || command == "stats") reply["stats"] = stats_json(node_.stats());
    if (all || command == "events") reply["events"] = events_json(node_.recent_events());
    if (command == "netcheck") {
      if (!node_.control_plane()) {
        throw std::invalid_argument(
            "netcheck needs a node in control-plane mode (it probes the node's AS, DC and RS)");
      }
      reply = netcheck_json(run_netcheck(node_.netcheck_targets()));
    }
    if (command == "ping") {
      if (!request.contains("peer") || !request["peer"].is_string()) {
        throw std::invalid_argument("ping needs \"peer\": a name or virtual address");
      }
      int timeout = request.value("timeout_ms", 3000);
      timeout = std::clamp(timeout, 1, kMaxPingTimeoutMs);
      reply = ping_json(node_.ping(request["peer"].get<std::string>(), std::chrono::milliseconds(timeout)));
    }
    if (reply.is_null()) {
      throw std::invalid_argument("unknown command '" + command +
                                  "' (info, tunnels, stats, events, status, ping, netcheck)");
    }
  } catch (const std::exception& e) {
    reply = {{"error", e.what()}};
  }
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ntm::node
