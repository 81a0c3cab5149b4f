// Addresses as the ntm program handles them: "host:port" text, real (kernel) socket addresses
// resolved with getaddrinfo(3), and virtual addresses resolved through the node
// (ntm_getaddrinfo: peer names via the DC or the static peer list).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ntm::cli {

// A bad address, rule or option; the message names it.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "host:port", "[v6]:port" or "1.2.3.4:port"; host may be a name.
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;
};

// Parses "HOST:PORT" ("[V6]:PORT" for IPv6). Throws ConfigError naming `what`.
HostPort parse_host_port(std::string_view text, std::string_view what);
// "PORT" alone or a number in 1..65535. Throws ConfigError naming `what`.
uint16_t parse_port(std::string_view text, std::string_view what);

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  std::string to_string() const;  // "127.0.0.1:80", "[::1]:80"
  bool operator==(const SockAddr& other) const;
};

// Real addresses for `where` (names resolved by the system resolver). Throws ConfigError.
std::vector<SockAddr> resolve_real(const HostPort& where, int socktype);

// Virtual addresses for `where` through the running node. Empty when the name is unknown
// (sets *error to a message).
std::vector<SockAddr> resolve_virtual(const HostPort& where, int socktype, std::string* error);

// Opens a real socket bound to `at` (SO_REUSEADDR for TCP listeners). Throws ConfigError.
int bind_real(const SockAddr& at, int socktype);

}  // namespace ntm::cli
