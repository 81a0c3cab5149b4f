#include "mobility/network_state.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "util/endpoint.h"

namespace ntm::mobility {

namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    out.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool all_zero_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// Parses hex text into a number (no exceptions: garbage gives 0).
uint64_t hex_value(const std::string& s) {
  uint64_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<uint64_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<uint64_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= static_cast<uint64_t>(c - 'A' + 10);
    else return 0;
  }
  return v;
}

constexpr uint64_t kRouteUp = 0x0001;      // RTF_UP
constexpr uint64_t kAddrDadFailed = 0x08;  // IFA_F_DADFAILED
constexpr uint64_t kAddrTentative = 0x40;  // IFA_F_TENTATIVE
constexpr uint64_t kRouteReject = 0x0200;  // RTF_REJECT (the kernel's unreachable entries)

void diff(const char* what, const std::vector<std::string>& a, const std::vector<std::string>& b,
          std::string& out) {
  std::string part;
  for (const auto& x : b)
    if (!std::binary_search(a.begin(), a.end(), x)) part += " +" + x;
  for (const auto& x : a)
    if (!std::binary_search(b.begin(), b.end(), x)) part += " -" + x;
  if (part.empty()) return;
  if (!out.empty()) out += ";";
  out += std::string(what) + part;
}

// "ifname=address" ("ifname=[address]" for IPv6), as NetworkState keeps them.
std::string address_entry(const InterfaceAddress& a) {
  const std::string text = a.address.to_string();
  return a.interface + "=" + text.substr(0, text.rfind(':'));  // no port
}

}  // namespace

std::vector<std::string> parse_default_routes_v4(std::string_view text) {
  // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT (hex, host order)
  std::vector<std::string> out;
  for (auto line : split_lines(text)) {
    auto w = words(line);
    if (w.size() < 8 || w[0] == "Iface") continue;
    if (!all_zero_hex(w[1]) || !all_zero_hex(w[7])) continue;
    if (!(hex_value(w[3]) & kRouteUp)) continue;
    const auto gw = static_cast<uint32_t>(hex_value(w[2]));
    char text_gw[INET_ADDRSTRLEN] = "";
    in_addr a{};
    a.s_addr = gw;  // /proc prints the address as the host-order view of network-order bytes
    inet_ntop(AF_INET, &a, text_gw, sizeof text_gw);
    out.push_back("v4 " + w[0] + " via " + text_gw + " metric " + std::to_string(hex_value(w[6])));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> parse_default_routes_v6(std::string_view text) {
  // dest plen src plen next_hop metric refcnt use flags iface (hex)
  std::vector<std::string> out;
  for (auto line : split_lines(text)) {
    auto w = words(line);
    if (w.size() < 10 || w[0].size() != 32 || w[4].size() != 32) continue;
    if (!all_zero_hex(w[0]) || hex_value(w[1]) != 0) continue;
    const uint64_t flags = hex_value(w[8]);
    if (!(flags & kRouteUp) || (flags & kRouteReject) || w[9] == "lo") continue;
    in6_addr a{};
    for (int i = 0; i < 16; ++i) {
      a.s6_addr[i] = static_cast<uint8_t>(hex_value(w[4].substr(static_cast<size_t>(2 * i), 2)));
    }
    char text_gw[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, &a, text_gw, sizeof text_gw);
    out.push_back("v6 " + w[9] + " via " + text_gw + " metric " + std::to_string(hex_value(w[5])));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> parse_unusable_v6(std::string_view text) {
  // address ifindex prefix_length scope flags ifname (hex but the name)
  std::vector<std::string> out;
  for (auto line : split_lines(text)) {
    auto w = words(line);
    if (w.size() < 6 || w[0].size() != 32) continue;
    if (!(hex_value(w[4]) & (kAddrTentative | kAddrDadFailed))) continue;
    in6_addr a{};
    for (int i = 0; i < 16; ++i) {
      a.s6_addr[i] = static_cast<uint8_t>(hex_value(w[0].substr(static_cast<size_t>(2 * i), 2)));
    }
    char text_address[INET6_ADDRSTRLEN] = "";
    inet_ntop(AF_INET6, &a, text_address, sizeof text_address);
    out.push_back(w[5] + "=[" + text_address + "]");
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<InterfaceAddress> usable_addresses() {
  // Until the kernel's link watch has seen the carrier (IFF_RUNNING), the device drops what it
  // is given: a neighbour solicitation sent then is lost and the first packets wait a whole
  // second for its retry. A tentative IPv6 address cannot be a source yet. Both come back as
  // a change (RTM_NEWLINK, RTM_NEWADDR) when they become usable.
  const auto unusable = parse_unusable_v6(read_file("/proc/net/if_inet6"));
  std::vector<InterfaceAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_RUNNING) ||
        (i->ifa_flags & IFF_LOOPBACK)) {
      continue;
    }
    auto e = Endpoint::from_sockaddr(i->ifa_addr);
    if (!e) continue;
    if (e->is_v6() && e->address[0] == 0xfe && (e->address[1] & 0xc0) == 0x80) continue;
    e->port = 0;
    InterfaceAddress a{i->ifa_name, *e};
    if (e->is_v6() && std::binary_search(unusable.begin(), unusable.end(), address_entry(a)))
      continue;
    out.push_back(std::move(a));
  }
  freeifaddrs(list);
  return out;
}

bool parse_ipv6_source_pending(std::string_view text) {
  constexpr uint64_t kScopeGlobal = 0x00;
  bool tentative = false;
  for (auto line : split_lines(text)) {
    auto w = words(line);
    if (w.size() < 6 || w[0].size() != 32 || hex_value(w[3]) != kScopeGlobal) continue;
    const uint64_t flags = hex_value(w[4]);
    if (flags & kAddrDadFailed) continue;
    if (!(flags & kAddrTentative)) return false;  // a usable source
    tentative = true;
  }
  return tentative;
}

bool ipv6_source_pending() { return parse_ipv6_source_pending(read_file("/proc/net/if_inet6")); }

NetworkState read_network_state() {
  NetworkState s;
  for (const auto& a : usable_addresses()) s.addresses.push_back(address_entry(a));
  std::sort(s.addresses.begin(), s.addresses.end());
  s.default_routes = parse_default_routes_v4(read_file("/proc/net/route"));
  auto v6 = parse_default_routes_v6(read_file("/proc/net/ipv6_route"));
  s.default_routes.insert(s.default_routes.end(), v6.begin(), v6.end());
  std::sort(s.default_routes.begin(), s.default_routes.end());
  return s;
}

bool behind_ipv4_nat(const NetworkState& state) {
  bool any = false;
  for (const auto& entry : state.addresses) {
    const std::string text = entry.substr(entry.find('=') + 1);
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1) continue;  // IPv6
    any = true;
    const uint32_t v = ntohl(a.s_addr);
    const bool private_range = (v >> 24) == 10 || (v >> 20) == ((172u << 4) | 1) ||
                               (v >> 16) == ((192u << 8) | 168) ||
                               (v >> 22) == ((100u << 2) | 1);  // 100.64.0.0/10
    if (!private_range) return false;
  }
  return any;
}

std::string describe_change(const NetworkState& before, const NetworkState& after) {
  std::string out;
  diff("addresses", before.addresses, after.addresses, out);
  diff("default routes", before.default_routes, after.default_routes, out);
  return out.empty() ? "no change" : out;
}

}  // namespace ntm::mobility
