#include "dc/path_decision.h"

#include <algorithm>

namespace ntm::servers {

namespace {

using Family = Endpoint::Family;

bool uses_family(const NodeEndpoints& n, Family f) {
  if (n.observed.family == f) return true;
  return std::any_of(n.private_endpoints.begin(), n.private_endpoints.end(),
                     [f](const Endpoint& e) { return e.family == f; });
}

bool same_address(const Endpoint& x, const Endpoint& y) {
  return x.family == y.family && x.address == y.address;
}

void add_unique(std::vector<Endpoint>& out, const Endpoint& e) {
  if (!e.valid() || e.port == 0) return;
  if (out.size() >= kMaxCandidates) return;
  if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
}

// `peer`'s endpoints in family f, in the order `self` should try them.
void candidates_in_family(const NodeEndpoints& self, const NodeEndpoints& peer, Family f,
                          std::vector<Endpoint>& out) {
  const bool self_seen = self.observed.family == f;
  const bool peer_seen = peer.observed.family == f;
  if (self_seen && peer_seen && same_address(self.observed, peer.observed)) {
    for (const auto& e : peer.private_endpoints)
      if (e.family == f) add_unique(out, e);
    add_unique(out, peer.observed);
    return;
  }
  if (peer_seen) add_unique(out, peer.observed);
  const bool peer_natted = peer_seen && behind_nat(peer);
  if (!peer_natted) {
    for (const auto& e : peer.private_endpoints)
      if (e.family == f) add_unique(out, e);
  }
}

}  // namespace

bool behind_nat(const NodeEndpoints& node) {
  if (!node.observed.valid()) return false;
  return std::find(node.private_endpoints.begin(), node.private_endpoints.end(), node.observed) ==
         node.private_endpoints.end();
}

PathDecision decide_path(const NodeEndpoints& a, const NodeEndpoints& b) {
  std::vector<Family> families;
  // Both observed in one family: that family first (both reached the internet with it).
  if (a.observed.valid() && a.observed.family == b.observed.family)
    families.push_back(a.observed.family);
  for (Family f : {Family::v6, Family::v4}) {
    if (std::find(families.begin(), families.end(), f) != families.end()) continue;
    if (uses_family(a, f) && uses_family(b, f)) families.push_back(f);
  }
  PathDecision d;
  for (Family f : families) {
    candidates_in_family(a, b, f, d.candidates_for_a);
    candidates_in_family(b, a, f, d.candidates_for_b);
  }
  if (d.candidates_for_a.empty() || d.candidates_for_b.empty()) {
    d.candidates_for_a.clear();
    d.candidates_for_b.clear();
    d.mode = control::DirectionMode::relay;
  } else {
    d.mode = control::DirectionMode::direct;
  }
  return d;
}

}  // namespace ntm::servers
