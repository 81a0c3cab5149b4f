// HTTP proxy on a real local address: CONNECT host:port tunnels, and plain requests in absolute
// form ("GET http://bob.example/ HTTP/1.1"), which are passed on in origin form.
#include <ntm.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "log.h"
#include "proxies.h"

namespace ntm::cli {

namespace {

constexpr size_t kMaxHeader = 16 * 1024;
constexpr int kHeaderTimeoutS = 10;

void respond(int fd, const char* status, const std::string& body) {
  const std::string r = std::string("HTTP/1.1 ") + status +
                        "\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: " +
                        std::to_string(body.size() + 1) + "\r\n\r\n" + body + "\n";
  write_all_os(fd, {r.data(), r.size()});
  ::close(fd);
}

bool iequals_prefix(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  return true;
}

// Splits "http://host[:port]/path" into host/port and the origin-form target.
bool split_absolute(std::string_view url, HostPort& where, std::string& path) {
  constexpr std::string_view scheme = "http://";
  if (!iequals_prefix(url, scheme)) return false;
  url.remove_prefix(scheme.size());
  const size_t slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  try {
    if (authority.find(':') == std::string_view::npos ||
        (authority.front() == '[' && authority.back() == ']')) {
      std::string host(authority);
      if (host.front() == '[') host = host.substr(1, host.size() - 2);
      where = HostPort{host, 80};
    } else {
      where = parse_host_port(authority, "URL");
    }
  } catch (const ConfigError&) {
    return false;
  }
  return !where.host.empty();
}

void serve_client(int fd, const SockAddr& from, ConnectionLimit& limit) {
  timeval tv{kHeaderTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string head;
  size_t end = std::string::npos;
  char buf[4096];
  while ((end = head.find("\r\n\r\n")) == std::string::npos) {
    if (head.size() > kMaxHeader) return respond(fd, "431 Request Header Fields Too Large", "header too large");
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  const std::string rest = head.substr(end + 4);  // bytes after the header (the body's start)
  head.resize(end + 2);
  const size_t eol = head.find("\r\n");
  const std::string request_line = head.substr(0, eol);
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) return respond(fd, "400 Bad Request", "malformed request line");
  const std::string method = request_line.substr(0, sp1);
  const std::string target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string version = request_line.substr(sp2 + 1);
  HostPort where;
  std::string forward_head;
  const bool tunnel = method == "CONNECT";
  if (tunnel) {
    try {
      where = parse_host_port(target, "CONNECT");
    } catch (const ConfigError& e) {
      return respond(fd, "400 Bad Request", e.what());
    }
  } else {
    std::string path;
    if (!split_absolute(target, where, path))
      return respond(fd, "400 Bad Request", "this proxy takes CONNECT or http:// URLs in absolute form");
    // Origin form, minus the headers meant for the proxy itself.
    forward_head = method + " " + path + " " + version + "\r\n";
    size_t at = eol + 2;
    while (at < head.size()) {
      const size_t next = head.find("\r\n", at);
      const std::string_view line(head.data() + at, next - at);
      if (!iequals_prefix(line, "proxy-connection:") && !iequals_prefix(line, "proxy-authorization:"))
        forward_head.append(line).append("\r\n");
      at = next + 2;
    }
    forward_head += "\r\n";
  }
  if (!limit.try_acquire()) return respond(fd, "503 Service Unavailable", "max-connections reached");
  std::string error;
  const int ntm_fd = connect_virtual(where, &error);
  if (ntm_fd < 0) {
    const int err = errno;
    limit.release();
    CLI_INFO("http-proxy: %s", error.c_str());
    return respond(fd, err == ETIMEDOUT ? "504 Gateway Timeout" : "502 Bad Gateway", error);
  }
  timeval none{0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
  bool ok = true;
  if (tunnel) {
    const std::string r = "HTTP/1.1 200 Connection established\r\n\r\n";
    ok = write_all_os(fd, {r.data(), r.size()});
  } else {
    ok = write_all_ntm(ntm_fd, {forward_head.data(), forward_head.size()});
  }
  if (ok && !rest.empty()) ok = write_all_ntm(ntm_fd, {rest.data(), rest.size()});
  if (!ok) {
    ::close(fd);
    ntm_close(ntm_fd);
    limit.release();
    return;
  }
  CLI_DEBUG("http-proxy: %s %s from %s", method.c_str(), where.to_string().c_str(),
            from.to_string().c_str());
  start_pump(fd, ntm_fd, limit);
}

}  // namespace

HttpProxy::HttpProxy(const HostPort& at, ConnectionLimit& limit) {
  for (const auto& a : resolve_real(at, SOCK_STREAM)) {
    listeners_.push_back(std::make_unique<RealListener>(
        a, [&limit](int fd, const SockAddr& from) { serve_client(fd, from, limit); },
        "http-proxy " + a.to_string()));
    CLI_INFO("HTTP proxy on %s", listeners_.back()->local().to_string().c_str());
  }
}

}  // namespace ntm::cli
