// lwIP's cyclic 1-second timers (IPv4 and IPv6 reassembly, IPv6 neighbour discovery) would wake
// its thread every second for nothing on an idle node. The node cancels them and runs them
// itself, once a second, only while they have work: after a fragment came in (reassembly keeps
// state for up to IPV6_REASS_MAXAGE seconds). TCP's timer is already armed by lwIP only while
// there are connections. ND has no work here: the tunnel interface has no link layer.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>

namespace ntm::stack {

// Cancels lwIP's cyclic timers except TCP's. Call once, with the core lock held, after
// tcpip_init().
void stop_slow_timers();
// Runs one round of them. Call with the core lock held, once per slow_timer_interval().
void run_slow_timers();
constexpr std::chrono::milliseconds slow_timer_interval() { return std::chrono::milliseconds(1000); }
// How long after the last fragment the slow timers still have work (the longest reassembly
// lifetime, IPv6's 60 s, plus a round).
constexpr std::chrono::seconds slow_timer_work_after_fragment() { return std::chrono::seconds(61); }

// Is this inner IP packet a fragment (IPv4 MF or offset, or an IPv6 fragment header first)?
bool is_fragment(std::span<const uint8_t> packet);

}  // namespace ntm::stack
