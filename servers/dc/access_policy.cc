#include "dc/access_policy.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <sstream>

#include "store/account_store.h"

namespace ntm::servers {

namespace {

using tunnel::PortRange;

constexpr size_t kMaxRangesPerPair = 255;  // list<port_range> on the wire

std::vector<std::string> words(std::string_view line) {
  std::vector<std::string> out;
  std::string current;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == ',') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

bool parse_port(std::string_view text, uint16_t& out) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return false;
  out = static_cast<uint16_t>(value);
  return true;
}

// "tcp/80", "udp/5000-5010", "443", "*", "tcp/*".
bool parse_ports(std::string_view text, PortRange& out) {
  out = PortRange{};
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    const auto proto = text.substr(0, slash);
    if (proto == "tcp") out.protocol = tunnel::kProtocolTcp;
    else if (proto == "udp") out.protocol = tunnel::kProtocolUdp;
    else return false;
    text = text.substr(slash + 1);
  }
  if (text == "*") return true;
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    return parse_port(text.substr(0, dash), out.first) &&
           parse_port(text.substr(dash + 1), out.last) && out.first <= out.last;
  }
  if (!parse_port(text, out.first)) return false;
  out.last = out.first;
  return true;
}

bool every_port(const std::vector<PortRange>& ranges) {
  return std::any_of(ranges.begin(), ranges.end(), [](const PortRange& r) {
    return r.protocol == tunnel::kProtocolAny && r.first == 0 && r.last == 65535;
  });
}

std::string ports_text(const std::vector<PortRange>& ports) {
  if (every_port(ports)) return "*";
  std::string out;
  for (const auto& r : ports) {
    if (!out.empty()) out += ' ';
    if (r.protocol == tunnel::kProtocolTcp) out += "tcp/";
    if (r.protocol == tunnel::kProtocolUdp) out += "udp/";
    out += std::to_string(r.first);
    if (r.last != r.first) out += "-" + std::to_string(r.last);
  }
  return out;
}

}  // namespace

std::string_view account_of_fqdn(std::string_view fqdn) {
  return fqdn.substr(0, fqdn.find('.'));
}

bool AccessPolicy::Selector::matches(std::string_view account) const {
  return everyone || std::binary_search(accounts.begin(), accounts.end(), account);
}

AccessPolicy AccessPolicy::parse(std::string_view text, const std::string& origin) {
  AccessPolicy policy;
  std::map<std::string, std::vector<std::string>, std::less<>> groups;
  std::istringstream in{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    auto fail = [&](const std::string& what) {
      throw PolicyError(origin + ":" + std::to_string(number) + ": " + what);
    };
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    auto w = words(line);
    if (w.empty()) continue;
    auto selector = [&](const std::string& name) {
      Selector s;
      if (name == "*") {
        s.everyone = true;
      } else if (name.starts_with('@')) {
        auto g = groups.find(name.substr(1));
        if (g == groups.end()) fail("unknown group '" + name.substr(1) + "' (define it above)");
        s.accounts = g->second;
      } else if (valid_account_name(name)) {
        s.accounts = {name};
      } else {
        fail("'" + name + "' is not an account name, @group or *");
      }
      return s;
    };
    if (w[0] == "group") {
      if (w.size() < 3 || w[2] != "=") fail("expected: group NAME = ACCOUNT...");
      if (!valid_account_name(w[1])) fail("invalid group name '" + w[1] + "'");
      std::vector<std::string> members;
      for (size_t i = 3; i < w.size(); ++i) {
        if (w[i].starts_with('@')) {
          auto g = groups.find(w[i].substr(1));
          if (g == groups.end()) fail("unknown group '" + w[i].substr(1) + "'");
          members.insert(members.end(), g->second.begin(), g->second.end());
        } else if (valid_account_name(w[i])) {
          members.push_back(w[i]);
        } else {
          fail("'" + w[i] + "' is not an account name");
        }
      }
      std::sort(members.begin(), members.end());
      members.erase(std::unique(members.begin(), members.end()), members.end());
      groups[w[1]] = std::move(members);
    } else if (w[0] == "allow") {
      if (w.size() < 4 || w[2] != "->") fail("expected: allow FROM -> TO [PORTS...]");
      Rule rule{selector(w[1]), selector(w[3]), {}};
      for (size_t i = 4; i < w.size(); ++i) {
        PortRange r;
        if (!parse_ports(w[i], r))
          fail("'" + w[i] + "' is not a port: use tcp/N, udp/N, N, tcp/N-M or *");
        rule.ports.push_back(r);
      }
      if (rule.ports.empty()) rule.ports.push_back(PortRange{});  // every port
      if (rule.ports.size() > 64) fail("more than 64 port ranges in one rule");
      policy.rules_.push_back(std::move(rule));
    } else {
      fail("unknown statement '" + w[0] + "' (group or allow)");
    }
  }
  return policy;
}

std::vector<PortRange> AccessPolicy::ports_from_to(std::string_view from,
                                                   std::string_view to) const {
  std::vector<PortRange> out;
  for (const auto& rule : rules_) {
    if (!rule.from.matches(from) || !rule.to.matches(to)) continue;
    for (const auto& r : rule.ports) {
      if (std::find(out.begin(), out.end(), r) == out.end() && out.size() < kMaxRangesPerPair)
        out.push_back(r);
    }
  }
  if (every_port(out)) return {PortRange{}};
  return out;
}

tunnel::PeerAccess AccessPolicy::access(std::string_view self, std::string_view peer) const {
  tunnel::PeerAccess a;
  if (rules_.empty()) return a;
  a.outbound = ports_from_to(self, peer);
  a.inbound = ports_from_to(peer, self);
  a.restricted = !(every_port(a.outbound) && every_port(a.inbound));
  if (!a.restricted) {
    a.outbound.clear();
    a.inbound.clear();
  }
  return a;
}

std::string AccessPolicy::describe() const {
  if (rules_.empty()) return "no rules: every node may open every port of every other\n";
  std::string out;
  auto who = [](const Selector& s) {
    if (s.everyone) return std::string("*");
    std::string names;
    for (const auto& a : s.accounts) names += (names.empty() ? "" : ",") + a;
    return names.empty() ? std::string("(nobody)") : names;
  };
  for (const auto& rule : rules_)
    out += "allow " + who(rule.from) + " -> " + who(rule.to) + " " + ports_text(rule.ports) + "\n";
  return out;
}

}  // namespace ntm::servers
