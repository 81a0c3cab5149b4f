// The virtual interface follows the tunnels' measured path MTU (tunnel/path_mtu.h): its MTU is
// the smallest path MTU of any tunnel (never above the configured one), and open TCP connections
// send segments that fit it. lwIP fragments what was already segmented for a larger MTU (IPv4
// and IPv6), so nothing queued is lost when the MTU shrinks under a connection.
#pragma once

#include <cstdint>

#include "tunnel/tunnel_table.h"

struct netif;

namespace ntm::node {

// The MTU the interface should have: the smallest non-zero path MTU of the table's peers that
// have a session, capped at `configured`; `configured` when none is measured.
uint16_t wanted_mtu(tunnel::TunnelTable& table, uint16_t configured);

// Sets the interface's MTU (both families) and lowers the MSS of every active TCP connection
// that would not fit (clamp_mss). Call under lwIP's core lock.
void apply_mtu(struct netif* netif, uint16_t mtu);

// Lowers the MSS of active TCP connections towards `mtu` - not below what a connection has
// already queued (lwIP asserts queued segments fit), so call it again later to finish (the node
// does whenever its receiver runs its timers while the MTU is lowered). Call under the core lock.
void clamp_mss(uint16_t mtu);

}  // namespace ntm::node
