#include "node/mtu_clamp.h"

#include <algorithm>

#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

// tcp_out.c adds a hook's option bytes to a segment's when the hook is defined; we do not.
#ifdef LWIP_HOOK_TCP_OUT_TCPOPT_LENGTH
#error "node/mtu_clamp.cc: count LWIP_HOOK_TCP_OUT_TCPOPT_LENGTH like tcp_out.c does"
#endif

namespace ntm::node {

uint16_t wanted_mtu(tunnel::TunnelTable& table, uint16_t configured) {
  uint32_t mtu = configured;
  for (const auto& peer : table.all()) {
    const uint32_t measured = peer->path_mtu.load(std::memory_order_relaxed);
    if (measured == 0) continue;
    std::lock_guard lock(peer->mutex);
    if (peer->current) mtu = std::min(mtu, measured);
  }
  return static_cast<uint16_t>(mtu);
}

void apply_mtu(struct netif* netif, uint16_t mtu) {
  netif->mtu = mtu;
#if LWIP_IPV6 && LWIP_ND6_ALLOW_RA_UPDATES
  netif->mtu6 = mtu;
#endif
  clamp_mss(mtu);
}

void clamp_mss(uint16_t mtu) {
  for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
    const int headers = IP_IS_V6(&pcb->remote_ip) ? 60 : 40;  // IP + TCP without options
    int mss = static_cast<int>(mtu) - headers;
    if (mss <= 0 || pcb->mss <= mss) continue;
    // lwIP asserts that queued segments fit the MSS: tcp_write() appends to the last unsent
    // segment (and the room left in its buffer), the persist timer splits the first one at the
    // window. Never go below what is already queued; once it has left, a later call lowers the
    // MSS the rest of the way (lwIP fragments those segments meanwhile).
    for (const struct tcp_seg* seg = pcb->unsent; seg != nullptr; seg = seg->next) {
      int queued = seg->len + LWIP_TCP_OPT_LENGTH(seg->flags);  // as tcp_out.c counts it
      if (seg->next == nullptr) queued += pcb->unsent_oversize;
      mss = std::max(mss, queued);
    }
    if (pcb->mss > mss) pcb->mss = static_cast<u16_t>(mss);
  }
}

}  // namespace ntm::node
