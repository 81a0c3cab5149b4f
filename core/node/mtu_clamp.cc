#include "node/mtu_clamp.h"

#include <algorithm>

#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

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
  for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
    const int headers = IP_IS_V6(&pcb->remote_ip) ? 60 : 40;  // IP + TCP without options
    const int fits = static_cast<int>(mtu) - headers;
    if (fits > 0 && pcb->mss > fits) pcb->mss = static_cast<u16_t>(fits);
  }
}

}  // namespace ntm::node
