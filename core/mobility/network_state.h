// What of the host's network matters to the node: its usable addresses (global-scope addresses
// on interfaces that are up and running - carrier on, so not on a link still coming up - not
// loopback, not IPv6 link-local, not IPv6 tentative or failed duplicate address detection) and
// its default routes. The
// address watcher compares snapshots so that unrelated netlink traffic (other programs creating,
// deleting or renaming interfaces, neighbour updates, routes to elsewhere) moves nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "util/endpoint.h"

namespace ntm::mobility {

struct InterfaceAddress {
  std::string interface;
  Endpoint address;  // port 0
};

// The host's usable addresses (see above), from getifaddrs() and /proc/net/if_inet6.
std::vector<InterfaceAddress> usable_addresses();

struct NetworkState {
  std::vector<std::string> addresses;       // "ifname=address", sorted
  std::vector<std::string> default_routes;  // "v4 ifname via gateway metric N", sorted

  friend bool operator==(const NetworkState&, const NetworkState&) = default;
};

// The current state, from getifaddrs() and /proc/net/{route,ipv6_route} of this namespace.
NetworkState read_network_state();

// Does the host reach the IPv4 internet through a NAT? True when it has IPv4 addresses and all
// of them are private (RFC 1918) or shared (RFC 6598, carrier-grade NAT) ones. Hole punching
// then opens the NAT's mapping with a short-lived packet first (tunnel::kPunchOpenHopLimit).
bool behind_ipv4_nat(const NetworkState& state);

// Default routes in the text of /proc/net/route and /proc/net/ipv6_route (for tests).
std::vector<std::string> parse_default_routes_v4(std::string_view proc_net_route);
std::vector<std::string> parse_default_routes_v6(std::string_view proc_net_ipv6_route);

// The IPv6 addresses in the text of /proc/net/if_inet6 that cannot be used yet or at all
// (tentative: duplicate address detection still running; or it failed), as "ifname=[address]".
std::vector<std::string> parse_unusable_v6(std::string_view proc_net_if_inet6);

// Whether the host's IPv6 source addresses are all still tentative: it has a global IPv6 address
// in duplicate address detection and none usable. Until then the kernel sends to IPv6
// destinations from ::1, and the neighbour entry that creates stays incomplete until the next
// solicitation a second later - holding back the first packets sent once the address is usable.
bool ipv6_source_pending();
// The same, from the text of /proc/net/if_inet6 (for tests).
bool parse_ipv6_source_pending(std::string_view proc_net_if_inet6);

// "addresses +a -b, default routes +c" - what changed, for the log.
std::string describe_change(const NetworkState& before, const NetworkState& after);

}  // namespace ntm::mobility
