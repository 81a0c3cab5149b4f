// Host names in configured addresses ("as.example.net:7800"): resolved once, when the
// configuration is read, with the system resolver (getaddrinfo), to each of the name's IPv4 and
// IPv6 addresses in the resolver's order. Numeric addresses are taken as they are.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/endpoint.h"

namespace ntm {

// "1.2.3.4:80", "[2001:db8::1]:80" or "host.name:80". Empty, with *error saying why, when the
// text is malformed or the name does not resolve.
std::vector<Endpoint> resolve_host_port(std::string_view text, std::string* error);

}  // namespace ntm
