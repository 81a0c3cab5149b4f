#include "address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <ntm.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ntm::cli {

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

uint16_t parse_port(std::string_view text, std::string_view what) {
  unsigned value = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || value == 0 ||
      value > 65535) {
    throw ConfigError(std::string(what) + ": '" + std::string(text) +
                      "' is not a port number (1-65535)");
  }
  return static_cast<uint16_t>(value);
}

HostPort parse_host_port(std::string_view text, std::string_view what) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw ConfigError(std::string(what) + ": '" + std::string(text) +
                        "' is not [IPV6]:PORT");
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 ||
        text.find(':') != colon) {
      throw ConfigError(std::string(what) + ": '" + std::string(text) +
                        "' is not HOST:PORT (write IPv6 addresses as [ADDR]:PORT)");
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) throw ConfigError(std::string(what) + ": '" + std::string(text) + "' has no host");
  // A host name, an IPv4 address or an IPv6 address (with a zone): nothing else, so a rule's
  // text always reads back as the same rule (no spaces or control bytes inside a host).
  const bool host_chars = std::all_of(out.host.begin(), out.host.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':' || c == '%';
  });
  if (!host_chars) {
    throw ConfigError(std::string(what) + ": '" + std::string(text) +
                      "' has a character no host name or address has");
  }
  if (text.front() == '[' && out.host.find(':') == std::string::npos) {
    throw ConfigError(std::string(what) + ": '" + std::string(text) +
                      "': brackets are for IPv6 addresses ([ADDR]:PORT)");
  }
  out.port = parse_port(port_text, what);
  return out;
}

uint16_t SockAddr::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string SockAddr::to_string() const {
  char text[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof(text));
    return "[" + std::string(text) + "]:" + std::to_string(port());
  }
  return "?";
}

bool SockAddr::operator==(const SockAddr& other) const {
  if (family() != other.family() || port() != other.port()) return false;
  if (family() == AF_INET) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr,
                       &reinterpret_cast<const sockaddr_in*>(&other.storage)->sin_addr, 4) == 0;
  }
  return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(&other.storage)->sin6_addr, 16) == 0;
}

namespace {
std::vector<SockAddr> collect(const addrinfo* list) {
  std::vector<SockAddr> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof(sockaddr_storage)) {
      continue;
    }
    SockAddr a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  return out;
}
}  // namespace

std::vector<SockAddr> resolve_real(const HostPort& where, int socktype) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(where.port);
  const int rc = ::getaddrinfo(where.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    throw ConfigError("cannot resolve '" + where.host + "': " + gai_strerror(rc));
  }
  auto out = collect(list);
  ::freeaddrinfo(list);
  if (out.empty()) throw ConfigError("'" + where.host + "' has no IPv4 or IPv6 address");
  return out;
}

std::vector<SockAddr> resolve_virtual(const HostPort& where, int socktype, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  addrinfo* list = nullptr;
  const std::string port = std::to_string(where.port);
  const int rc = ntm_getaddrinfo(where.host.c_str(), port.c_str(), &hints, &list);
  if (rc != 0) {
    if (error) *error = "cannot resolve '" + where.host + "' on the virtual network: " + gai_strerror(rc);
    return {};
  }
  auto out = collect(list);
  ntm_freeaddrinfo(list);
  if (out.empty() && error) *error = "'" + where.host + "' has no virtual address";
  return out;
}

int bind_real(const SockAddr& at, int socktype) {
  const int fd = ::socket(at.family(), socktype | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ConfigError("socket: " + std::string(std::strerror(errno)));
  const int one = 1;
  if (socktype == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (at.family() == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (::bind(fd, at.get(), at.length) != 0) {
    const int saved = errno;
    ::close(fd);
    throw ConfigError("cannot bind " + at.to_string() + ": " + std::strerror(saved));
  }
  if (socktype == SOCK_STREAM && ::listen(fd, 256) != 0) {
    const int saved = errno;
    ::close(fd);
    throw ConfigError("cannot listen on " + at.to_string() + ": " + std::strerror(saved));
  }
  return fd;
}

}  // namespace ntm::cli
