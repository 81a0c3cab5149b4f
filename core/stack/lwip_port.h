// Entry points of ntmobile's lwIP port (sys_arch.cc, lwip_hooks.cc) for the rest of the core.
#pragma once

extern "C" {
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
}

namespace ntm::stack {

// Called (by the thread holding lwIP's core lock) right before that lock is released.
// The node uses it to flush the datagrams it batched while lwIP was emitting packets.
void set_core_unlock_hook(void (*hook)());

// Routing: lwIP asks whether a virtual destination is reachable. The function returns the
// tunnel netif when a tunnel to `dest` exists or can be set up, else nullptr (-> EHOSTUNREACH).
using RouteIp4Fn = struct netif *(*)(const ip4_addr_t *dest);
using RouteIp6Fn = struct netif *(*)(const ip6_addr_t *dest);
void set_route_functions(RouteIp4Fn ip4, RouteIp6Fn ip6);

}  // namespace ntm::stack
