// The operator's access policy between nodes (docs/servers.md, "Access policy"): which accounts
// may open which virtual ports of which others. The DC holds it, refuses resolutions between
// nodes that may not talk, and tells both ends of every direction what they may open on each
// other (tunnel/access.h), which the nodes enforce on every inner packet.
//
// A text file, one statement a line ('#' starts a comment):
//
//   group NAME = ACCOUNT [ACCOUNT...]        (names separated by spaces or commas)
//   allow FROM -> TO [PORTS...]              FROM/TO: an account, @GROUP, or * (every account)
//                                            PORTS: tcp/N, udp/N, N (TCP and UDP), ranges
//                                            tcp/N-M, or * / nothing (every port)
//
// "allow A -> B tcp/80" lets A's node open B's TCP port 80 (and receive B's replies); it lets B
// open nothing on A. Without a file, or with one that has no `allow` line, every node may open
// every port of every other (the default). With at least one `allow`, whatever no rule allows is
// refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tunnel/access.h"

namespace ntm::servers {

// Thrown for a malformed policy; the message names the line ("policy:3: ...").
class PolicyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AccessPolicy {
 public:
  AccessPolicy() = default;  // no rules: everything allowed

  // Parses the text; `origin` names it in errors. Throws PolicyError.
  static AccessPolicy parse(std::string_view text, const std::string& origin = "policy");

  // False when every node may open every port of every other (no rules).
  bool restricts() const { return !rules_.empty(); }
  size_t rules() const { return rules_.size(); }

  // What the node of account `self` and the node of account `peer` may open on each other, from
  // `self`'s side: outbound = peer's ports self may open, inbound = self's ports peer may open.
  // Unrestricted when both are "every port" (so nodes before 0.4 keep working).
  tunnel::PeerAccess access(std::string_view self, std::string_view peer) const;

  // One line per rule, groups expanded ("alice -> bob tcp/80"): `ntm-server policy check`.
  std::string describe() const;

 private:
  struct Selector {
    bool everyone = false;
    std::vector<std::string> accounts;  // sorted
    bool matches(std::string_view account) const;
  };
  struct Rule {
    Selector from, to;
    std::vector<tunnel::PortRange> ports;
  };
  std::vector<tunnel::PortRange> ports_from_to(std::string_view from, std::string_view to) const;

  std::vector<Rule> rules_;
};

// The account a node's FQDN belongs to: "<account>.<domain>" -> "<account>".
std::string_view account_of_fqdn(std::string_view fqdn);

}  // namespace ntm::servers
