// Socket helpers: see sockets.h.
#include "sockets.h"

#include "node_args.h"
#include "report.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ntm_test {

socklen_t any_address(int family, unsigned short port, sockaddr_storage *out) {
  std::memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    auto *a = reinterpret_cast<sockaddr_in *>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    return sizeof *a;
  }
  auto *a = reinterpret_cast<sockaddr_in6 *>(out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  a->sin6_addr = in6addr_any;
  return sizeof *a;
}

void set_port(sockaddr_storage &addr, unsigned short port) {
  if (addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in &>(addr).sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6 &>(addr).sin6_port = htons(port);
  }
}

std::string address_text(const sockaddr_storage &addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in &>(addr).sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 &>(addr).sin6_addr, text,
              sizeof text);
  }
  return text;
}

int bound_socket(int family, int type, unsigned short port, bool reuse_address) {
  int fd = ntm_socket(family, type, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  int one = 1;
  if (reuse_address) ntm_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage addr;
  socklen_t len = any_address(family, port, &addr);
  if (ntm_bind(fd, reinterpret_cast<sockaddr *>(&addr), len) != 0) die_errno("ntm_bind", errno);
  return fd;
}

int listen_socket(int family, unsigned short port, int backlog, bool reuse_address) {
  int fd = bound_socket(family, SOCK_STREAM, port, reuse_address);
  if (ntm_listen(fd, backlog) != 0) die_errno("ntm_listen", errno);
  return fd;
}

socklen_t resolve_name(const std::string &host, const char *port, int family,
                       sockaddr_storage *out, int *gai) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  *gai = ntm_getaddrinfo(host.c_str(), port, &hints, &res);
  if (*gai != 0 || res == nullptr) return 0;
  socklen_t len = res->ai_addrlen;
  std::memcpy(out, res->ai_addr, len);
  ntm_freeaddrinfo(res);
  return len;
}

socklen_t resolve_target(const std::string &target, int family, sockaddr_storage *out,
                         std::string *host) {
  char name[256];
  const char *port = nullptr;
  if (node_args_split_host_port(target.c_str(), name, sizeof name, &port) != 0) {
    emit("ERROR what=usage msg=bad --connect '%s'", target.c_str());
    std::_Exit(2);
  }
  if (host != nullptr) *host = name;
  int gai = 0;
  socklen_t len = resolve_name(name, port, family, out, &gai);
  if (len == 0) {
    emit("ERROR what=ntm_getaddrinfo rc=%d msg=%s", gai, gai_strerror(gai));
    std::_Exit(1);
  }
  return len;
}

ssize_t Conn::read(void *buf, size_t len) const {
  return os ? ::read(fd, buf, len) : ntm_recv(fd, buf, len, 0);
}

ssize_t Conn::write(const void *buf, size_t len) const {
  return os ? ::write(fd, buf, len) : ntm_send(fd, buf, len, MSG_NOSIGNAL);
}

int Conn::shutdown_write() const {
  return os ? ::shutdown(fd, SHUT_WR) : ntm_shutdown(fd, SHUT_WR);
}

int Conn::close() const { return os ? ::close(fd) : ntm_close(fd); }

void Conn::write_all(const void *data, size_t len, const char *what) const {
  const auto *p = static_cast<const unsigned char *>(data);
  while (len > 0) {
    ssize_t n = write(p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno(what, errno);
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

bool Conn::read_exact(void *data, size_t len, int *err) const {
  auto *p = static_cast<unsigned char *>(data);
  while (len > 0) {
    ssize_t n = read(p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    if (n == 0) {
      *err = 0;
      return false;
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace ntm_test
