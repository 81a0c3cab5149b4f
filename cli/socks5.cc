// SOCKS5 (RFC 1928) on a real local address: CONNECT and UDP ASSOCIATE into the virtual network.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ntm.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include "log.h"
#include "proxies.h"

namespace ntm::cli {

namespace {

constexpr uint8_t kVersion = 5;
constexpr uint8_t kNoAuth = 0x00, kNoAcceptable = 0xff;
constexpr uint8_t kCmdConnect = 1, kCmdUdpAssociate = 3;
constexpr uint8_t kAtypIpv4 = 1, kAtypDomain = 3, kAtypIpv6 = 4;
// Reply codes.
constexpr uint8_t kOk = 0, kFailure = 1, kNetUnreachable = 3, kHostUnreachable = 4,
                  kRefused = 5, kTtlExpired = 6, kCmdUnsupported = 7, kAtypUnsupported = 8;

constexpr int kHandshakeTimeoutS = 10;
constexpr size_t kMaxDatagram = 65535;

uint8_t reply_code(int err) {
  switch (err) {
    case ECONNREFUSED: return kRefused;
    case ETIMEDOUT: return kTtlExpired;
    case ENETUNREACH:
    case ENETDOWN: return kNetUnreachable;
    case EHOSTUNREACH: return kHostUnreachable;
    default: return kFailure;
  }
}

// Encodes ATYP + address + port of `a` (IPv4 or IPv6) after `out`.
void append_address(std::vector<uint8_t>& out, const SockAddr& a) {
  if (a.family() == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&a.storage);
    out.push_back(kAtypIpv6);
    out.insert(out.end(), s->sin6_addr.s6_addr, s->sin6_addr.s6_addr + 16);
  } else {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&a.storage);
    const auto* b = reinterpret_cast<const uint8_t*>(&s->sin_addr);
    out.push_back(kAtypIpv4);
    out.insert(out.end(), b, b + 4);
  }
  out.push_back(static_cast<uint8_t>(a.port() >> 8));
  out.push_back(static_cast<uint8_t>(a.port() & 0xff));
}

void send_reply(int fd, uint8_t code, const SockAddr* bound) {
  std::vector<uint8_t> r{kVersion, code, 0};
  if (bound) {
    append_address(r, *bound);
  } else {
    r.insert(r.end(), {kAtypIpv4, 0, 0, 0, 0, 0, 0});
  }
  write_all_os(fd, {reinterpret_cast<const char*>(r.data()), r.size()});
}

// Parses ATYP ADDR PORT from `p` (size `n`) into a host/port; returns bytes used or 0.
size_t parse_address(const uint8_t* p, size_t n, HostPort& out) {
  if (n < 1) return 0;
  char text[INET6_ADDRSTRLEN];
  size_t used = 1;
  if (p[0] == kAtypIpv4) {
    if (n < 1 + 4 + 2) return 0;
    inet_ntop(AF_INET, p + 1, text, sizeof(text));
    out.host = text;
    used += 4;
  } else if (p[0] == kAtypIpv6) {
    if (n < 1 + 16 + 2) return 0;
    inet_ntop(AF_INET6, p + 1, text, sizeof(text));
    out.host = text;
    used += 16;
  } else if (p[0] == kAtypDomain) {
    if (n < 2 || n < 2u + p[1] + 2u || p[1] == 0) return 0;
    out.host.assign(reinterpret_cast<const char*>(p + 2), p[1]);
    used += 1 + p[1];
  } else {
    return 0;
  }
  out.port = static_cast<uint16_t>((p[used] << 8) | p[used + 1]);
  return used + 2;
}

// Reads the request's address from the TCP stream (after VER CMD RSV ATYP).
bool read_request_address(int fd, uint8_t atyp, HostPort& out) {
  uint8_t buf[1 + 1 + 255 + 2];
  buf[0] = atyp;
  size_t len = 0;
  if (atyp == kAtypIpv4) {
    len = 4 + 2;
  } else if (atyp == kAtypIpv6) {
    len = 16 + 2;
  } else if (atyp == kAtypDomain) {
    if (!read_exact(fd, buf + 1, 1)) return false;
    if (!read_exact(fd, buf + 2, buf[1] + 2u)) return false;
    return parse_address(buf, 2u + buf[1] + 2u, out) != 0;
  } else {
    return false;
  }
  if (!read_exact(fd, buf + 1, len)) return false;
  return parse_address(buf, 1 + len, out) != 0;
}

// ---- UDP ASSOCIATE -------------------------------------------------------------------------

struct Association {
  int tcp_fd = -1;
  int udp_fd = -1;              // real, where the client sends its datagrams
  SockAddr client_udp;          // learnt from the first datagram
  std::atomic<bool> have_client{false};
  std::atomic<bool> stopping{false};
  int ntm_fds[2] = {-1, -1};    // virtual, per family (IPv4, IPv6)
  std::map<std::string, SockAddr> names;  // name cache (resolving may ask the DC)
};

int family_index(int family) { return family == AF_INET6 ? 1 : 0; }

// Virtual -> client: wraps each datagram in the SOCKS UDP header.
void association_replies(Association* a, int ntm_fd) {
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[kMaxDatagram]);
  timeval tv{0, 500 * 1000};
  ntm_setsockopt(ntm_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (!a->stopping.load()) {
    SockAddr from;
    from.length = sizeof(from.storage);
    const ssize_t n = ntm_recvfrom(ntm_fd, buffer.get(), kMaxDatagram, 0, from.get(), &from.length);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return;
    }
    if (!a->have_client.load()) continue;
    std::vector<uint8_t> out{0, 0, 0};
    append_address(out, from);
    out.insert(out.end(), buffer.get(), buffer.get() + n);
    ::sendto(a->udp_fd, out.data(), out.size(), 0, a->client_udp.get(), a->client_udp.length);
  }
}

bool same_host(const SockAddr& a, const SockAddr& b) {
  SockAddr x = a, y = b;
  if (x.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&x.storage)->sin_port = 0;
  if (x.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&x.storage)->sin6_port = 0;
  if (y.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&y.storage)->sin_port = 0;
  if (y.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&y.storage)->sin6_port = 0;
  return x == y;
}

void udp_associate(int tcp_fd, const SockAddr& tcp_client) {
  Association a;
  a.tcp_fd = tcp_fd;
  SockAddr local;
  local.length = sizeof(local.storage);
  ::getsockname(tcp_fd, local.get(), &local.length);
  if (local.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&local.storage)->sin_port = 0;
  if (local.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&local.storage)->sin6_port = 0;
  try {
    a.udp_fd = bind_real(local, SOCK_DGRAM);
  } catch (const ConfigError& e) {
    CLI_WARN("socks5: UDP ASSOCIATE: %s", e.what());
    send_reply(tcp_fd, kFailure, nullptr);
    return;
  }
  SockAddr bound;
  bound.length = sizeof(bound.storage);
  ::getsockname(a.udp_fd, bound.get(), &bound.length);
  std::vector<std::thread> threads;
  for (int family : {AF_INET, AF_INET6}) {
    if ((family == AF_INET && !node_has_ipv4()) || (family == AF_INET6 && !node_has_ipv6())) continue;
    const int fd = ntm_socket(family, SOCK_DGRAM, 0);
    if (fd < 0) continue;
    a.ntm_fds[family_index(family)] = fd;
    threads.emplace_back(association_replies, &a, fd);
  }
  send_reply(tcp_fd, kOk, &bound);
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[kMaxDatagram]);
  for (;;) {
    pollfd fds[2] = {{a.udp_fd, POLLIN, 0}, {tcp_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;  // the association lives as long as its TCP connection
    if (!(fds[0].revents & POLLIN)) continue;
    SockAddr from;
    from.length = sizeof(from.storage);
    const ssize_t n = ::recvfrom(a.udp_fd, buffer.get(), kMaxDatagram, 0, from.get(), &from.length);
    if (n < 4 || !same_host(from, tcp_client)) continue;  // only the client that asked
    if (buffer[2] != 0) continue;                         // fragments are not supported: drop
    HostPort dest;
    const size_t used = parse_address(buffer.get() + 3, static_cast<size_t>(n) - 3, dest);
    if (used == 0) continue;
    a.client_udp = from;
    a.have_client = true;
    SockAddr target;
    if (auto it = a.names.find(dest.to_string()); it != a.names.end()) {
      target = it->second;
    } else {
      std::string error;
      const auto found = resolve_virtual(dest, SOCK_DGRAM, &error);
      if (found.empty()) {
        CLI_DEBUG("socks5: UDP to %s dropped: %s", dest.to_string().c_str(), error.c_str());
        continue;
      }
      target = found.front();
      for (const auto& f : found)
        if (a.ntm_fds[family_index(f.family())] >= 0) { target = f; break; }
      if (a.names.size() < 256) a.names[dest.to_string()] = target;
    }
    const int fd = a.ntm_fds[family_index(target.family())];
    if (fd < 0) continue;
    ntm_sendto(fd, buffer.get() + 3 + used, static_cast<size_t>(n) - 3 - used, MSG_DONTWAIT,
               target.get(), target.length);
  }
  a.stopping = true;
  for (auto& t : threads) t.join();
  for (int fd : a.ntm_fds)
    if (fd >= 0) ntm_close(fd);
  ::close(a.udp_fd);
}

// ---- one client ----------------------------------------------------------------------------

void serve_client(int fd, const SockAddr& from, ConnectionLimit& limit) {
  timeval tv{kHandshakeTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  uint8_t head[2];
  if (!read_exact(fd, head, 2) || head[0] != kVersion) {
    CLI_DEBUG("socks5: %s is not speaking SOCKS5", from.to_string().c_str());
    ::close(fd);
    return;
  }
  uint8_t methods[255];
  if (!read_exact(fd, methods, head[1])) {
    ::close(fd);
    return;
  }
  const bool no_auth = std::memchr(methods, kNoAuth, head[1]) != nullptr;
  const uint8_t choice[2] = {kVersion, no_auth ? kNoAuth : kNoAcceptable};
  write_all_os(fd, {reinterpret_cast<const char*>(choice), 2});
  uint8_t req[4];
  if (!no_auth || !read_exact(fd, req, 4) || req[0] != kVersion) {
    ::close(fd);
    return;
  }
  HostPort dest;
  if (!read_request_address(fd, req[3], dest)) {
    send_reply(fd, kAtypUnsupported, nullptr);
    ::close(fd);
    return;
  }
  if (req[1] == kCmdUdpAssociate) {
    timeval none{0, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    udp_associate(fd, from);
    ::close(fd);
    return;
  }
  if (req[1] != kCmdConnect) {
    send_reply(fd, kCmdUnsupported, nullptr);
    ::close(fd);
    return;
  }
  if (!limit.try_acquire()) {
    CLI_WARN("socks5: connection to %s refused: max-connections reached", dest.to_string().c_str());
    send_reply(fd, kFailure, nullptr);
    ::close(fd);
    return;
  }
  std::string error;
  const int ntm_fd = connect_virtual(dest, &error);
  if (ntm_fd < 0) {
    const int err = errno;
    CLI_INFO("socks5: %s", error.c_str());
    send_reply(fd, reply_code(err), nullptr);
    ::close(fd);
    limit.release();
    return;
  }
  SockAddr bound;
  bound.length = sizeof(bound.storage);
  ntm_getsockname(ntm_fd, bound.get(), &bound.length);
  send_reply(fd, kOk, &bound);
  timeval none{0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
  CLI_DEBUG("socks5: %s -> %s", from.to_string().c_str(), dest.to_string().c_str());
  start_pump(fd, ntm_fd, limit);
}

}  // namespace

bool read_exact(int fd, void* data, size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::recv(fd, p, size, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

Socks5Proxy::Socks5Proxy(const HostPort& at, ConnectionLimit& limit) {
  for (const auto& a : resolve_real(at, SOCK_STREAM)) {
    listeners_.push_back(std::make_unique<RealListener>(
        a, [&limit](int fd, const SockAddr& from) { serve_client(fd, from, limit); },
        "socks5 " + a.to_string()));
    CLI_INFO("SOCKS5 proxy on %s", listeners_.back()->local().to_string().c_str());
  }
}

}  // namespace ntm::cli
