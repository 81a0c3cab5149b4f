// A real (outer) network address: an IPv4 or IPv6 address and a UDP port.
// A plain value type shared by the engine (which never does I/O) and the transports.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;
struct sockaddr_storage;

namespace ntm {

struct Endpoint {
  enum class Family : uint8_t { none = 0, v4 = 4, v6 = 6 };

  Family family = Family::none;
  // IPv4 uses the first 4 bytes; IPv6 all 16. Network byte order.
  std::array<uint8_t, 16> address{};
  uint16_t port = 0;  // host byte order

  static Endpoint v4(std::array<uint8_t, 4> a, uint16_t port);
  static Endpoint v6(std::array<uint8_t, 16> a, uint16_t port);
  // Parses "1.2.3.4:5", "[::1]:5". Returns nullopt on anything else.
  static std::optional<Endpoint> parse(std::string_view text);
  // Converts from a kernel socket address (AF_INET or AF_INET6; v4-mapped IPv6 becomes v4).
  static std::optional<Endpoint> from_sockaddr(const sockaddr* sa);
  // Writes a kernel socket address; returns its length.
  unsigned to_sockaddr(sockaddr_storage& out) const;

  bool is_v4() const { return family == Family::v4; }
  bool is_v6() const { return family == Family::v6; }
  bool valid() const { return family != Family::none; }
  std::string to_string() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct EndpointHash {
  size_t operator()(const Endpoint& e) const noexcept;
};

}  // namespace ntm
