#include "util/endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>

namespace ntm {

Endpoint Endpoint::v4(std::array<uint8_t, 4> a, uint16_t port) {
  Endpoint e;
  e.family = Family::v4;
  std::memcpy(e.address.data(), a.data(), 4);
  e.port = port;
  return e;
}

Endpoint Endpoint::v6(std::array<uint8_t, 16> a, uint16_t port) {
  Endpoint e;
  e.family = Family::v6;
  e.address = a;
  e.port = port;
  return e;
}

static std::optional<uint16_t> parse_port(std::string_view s) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || value > 65535 || s.empty()) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

std::optional<Endpoint> Endpoint::parse(std::string_view text) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return std::nullopt;  // bare IPv6 needs brackets
  }
  auto port = parse_port(port_text);
  if (!port) return std::nullopt;
  Endpoint e;
  if (inet_pton(AF_INET, host.c_str(), e.address.data()) == 1) {
    e.family = Family::v4;
  } else if (inet_pton(AF_INET6, host.c_str(), e.address.data()) == 1) {
    e.family = Family::v6;
  } else {
    return std::nullopt;
  }
  e.port = *port;
  return e;
}

std::optional<Endpoint> Endpoint::from_sockaddr(const sockaddr* sa) {
  if (sa == nullptr) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    Endpoint e;
    e.family = Family::v4;
    std::memcpy(e.address.data(), &in->sin_addr, 4);
    e.port = ntohs(in->sin_port);
    return e;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    Endpoint e;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      e.family = Family::v4;
      std::memcpy(e.address.data(), reinterpret_cast<const uint8_t*>(&in6->sin6_addr) + 12, 4);
    } else {
      e.family = Family::v6;
      std::memcpy(e.address.data(), &in6->sin6_addr, 16);
    }
    e.port = ntohs(in6->sin6_port);
    return e;
  }
  return std::nullopt;
}

unsigned Endpoint::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof(out));
  if (family == Family::v4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&out);
    in->sin_family = AF_INET;
    std::memcpy(&in->sin_addr, address.data(), 4);
    in->sin_port = htons(port);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
  in6->sin6_family = AF_INET6;
  std::memcpy(&in6->sin6_addr, address.data(), 16);
  in6->sin6_port = htons(port);
  return sizeof(sockaddr_in6);
}

std::string Endpoint::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == Family::v4) {
    inet_ntop(AF_INET, address.data(), buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(port);
  }
  if (family == Family::v6) {
    inet_ntop(AF_INET6, address.data(), buf, sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(port);
  }
  return "none";
}

size_t EndpointHash::operator()(const Endpoint& e) const noexcept {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](uint8_t b) { h = (h ^ b) * 1099511628211ULL; };
  mix(static_cast<uint8_t>(e.family));
  for (uint8_t b : e.address) mix(b);
  mix(static_cast<uint8_t>(e.port >> 8));
  mix(static_cast<uint8_t>(e.port));
  return static_cast<size_t>(h);
}

}  // namespace ntm
