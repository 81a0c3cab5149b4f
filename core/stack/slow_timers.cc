#include "stack/slow_timers.h"

extern "C" {
#include "lwip/timeouts.h"
// Not static in timeouts.c, which cmake/lwip.cmake builds with LWIP_TESTMODE for this.
void lwip_cyclic_timer(void* arg);
}

namespace ntm::stack {

namespace {

// Index 0 is tcp_tmr, which lwIP starts and stops itself (tcp_timer_needed).
constexpr int kFirstSlowTimer = LWIP_TCP ? 1 : 0;

void* timer_arg(int i) { return const_cast<struct lwip_cyclic_timer*>(&lwip_cyclic_timers[i]); }

}  // namespace

void stop_slow_timers() {
  for (int i = kFirstSlowTimer; i < lwip_num_cyclic_timers; ++i) {
    sys_untimeout(lwip_cyclic_timer, timer_arg(i));
  }
}

void run_slow_timers() {
  for (int i = kFirstSlowTimer; i < lwip_num_cyclic_timers; ++i) lwip_cyclic_timers[i].handler();
}

bool is_fragment(std::span<const uint8_t> packet) {
  if (packet.empty()) return false;
  const int version = packet[0] >> 4;
  if (version == 4 && packet.size() >= 20) {
    const unsigned flags_offset = (unsigned{packet[6]} << 8) | packet[7];
    return (flags_offset & 0x3fffu) != 0;  // MF set, or a non-zero offset
  }
  // Only a fragment header right after the fixed header: what lwIP itself sends and reassembles
  // in practice; others are still reassembled, their leftovers just wait for the next fragment.
  return version == 6 && packet.size() >= 40 && packet[6] == 44;
}

}  // namespace ntm::stack
