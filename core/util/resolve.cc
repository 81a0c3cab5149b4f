#include "util/resolve.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace ntm {

std::vector<Endpoint> resolve_host_port(std::string_view text, std::string* error) {
  if (auto e = Endpoint::parse(text)) return {*e};
  const size_t colon = text.rfind(':');
  unsigned port = 0;
  const std::string_view port_text =
      colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (colon == std::string_view::npos || colon == 0 || text.front() == '[' || port_text.empty() ||
      ec != std::errc() || p != port_text.data() + port_text.size() || port > 65535) {
    if (error) {
      *error = "'" + std::string(text) +
               "' is not an address or host name with a port (1.2.3.4:7800, [2001:db8::1]:7800, "
               "host.example:7800)";
    }
    return {};
  }
  const std::string host(text.substr(0, colon));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* list = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list); rc != 0) {
    if (error) *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return {};
  }
  std::vector<Endpoint> out;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    auto e = Endpoint::from_sockaddr(ai->ai_addr);
    if (!e) continue;
    e->port = static_cast<uint16_t>(port);
    if (std::find(out.begin(), out.end(), *e) == out.end()) out.push_back(*e);
  }
  ::freeaddrinfo(list);
  if (out.empty() && error) *error = "'" + host + "' has no IPv4 or IPv6 address";
  return out;
}

}  // namespace ntm
