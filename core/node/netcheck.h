// `ntm netcheck`: what the real network lets this node do, measured against its own servers.
// Per address family, from a fresh UDP socket (the node's tunnel sockets are left alone):
//   - whether the AS accepts a TCP connection, and how fast;
//   - whether each DC and RS answers a NetProbe (control/net_probe.h), its RTT, and the endpoint it
//     saw - which tells whether the node is behind a NAT (seen != local) and how the NAT maps
//     (the same endpoint seen by two servers: endpoint-independent, the kind hole punching needs);
//   - the largest datagram that reaches the first answering server with DF set (path MTU).
// Blocking (a few seconds at most); the node runs it on the control API thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/endpoint.h"

namespace ntm::node {

struct NetcheckTargets {
  std::vector<Endpoint> as;      // TCP
  std::vector<Endpoint> dcs;     // UDP
  std::vector<Endpoint> relays;  // UDP
};

struct ServerProbe {
  std::string role;  // "as", "dc" or "rs"
  Endpoint server;
  bool reachable = false;
  int64_t rtt_us = -1;
  Endpoint observed;  // UDP only: our address as the server saw it
};

struct FamilyReport {
  bool available = false;  // a route to at least one server of this family
  std::string unavailable_reason;
  Endpoint local;          // the probing socket's address (as routed to the first server)
  std::vector<ServerProbe> servers;
  // "none" (seen as ourselves), "yes", or "unknown" (no UDP server answered).
  std::string nat = "unknown";
  // "endpoint-independent", "endpoint-dependent", or "unknown" (fewer than two servers answered).
  std::string mapping = "unknown";
  int path_mtu = 0;  // largest IP packet answered with DF set; 0: not measured
  Endpoint mtu_server;
};

struct NetcheckReport {
  FamilyReport ipv4;
  FamilyReport ipv6;
};

// Probes every target (each family on its own socket) within about `timeout` per step.
NetcheckReport run_netcheck(const NetcheckTargets& targets,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(1500));

}  // namespace ntm::node
