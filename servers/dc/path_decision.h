// The DC's path decision (docs/protocol.md section 4): from both nodes' private endpoints (what
// they report) and observed endpoints (the source the DC sees), decide direct or relay and the
// order in which each node tries the other's candidates. A pure function.
//
// Per address family F that both nodes can use (a family is usable when the node has a private
// or observed endpoint in it):
//   - same public address (both observed F endpoints share the address: one NAT, or one host):
//     the peer's private F endpoints first, then its observed F endpoint;
//   - otherwise: the peer's observed F endpoint, then its private F endpoints only when they are
//     not behind a NAT (the observed endpoint is one of them, or nothing was observed in F).
// Families where both nodes were observed come first, then IPv6, then IPv4. No common family
// (IPv4-only <-> IPv6-only), or no candidate for either side -> relay.
#pragma once

#include <vector>

#include "control/constants.h"
#include "util/endpoint.h"

namespace ntm::servers {

struct NodeEndpoints {
  std::vector<Endpoint> private_endpoints;  // as reported in Register / Keepalive
  Endpoint observed;                        // source address the DC observed
};

struct PathDecision {
  control::DirectionMode mode = control::DirectionMode::relay;
  std::vector<Endpoint> candidates_for_a;  // b's endpoints, in the order a should try them
  std::vector<Endpoint> candidates_for_b;  // a's endpoints, for b
};

// At most this many candidates per side.
inline constexpr size_t kMaxCandidates = 16;

// True when `node` is behind a NAT in the family of its observed endpoint (the observed endpoint
// is not one of its private endpoints).
bool behind_nat(const NodeEndpoints& node);

PathDecision decide_path(const NodeEndpoints& a, const NodeEndpoints& b);

}  // namespace ntm::servers
