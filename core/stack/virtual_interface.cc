#include "stack/virtual_interface.h"

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>

extern "C" {
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip6_addr.h"
#include "lwip/tcpip.h"
}

#include "stack/core_lock.h"
#include "stack/slow_timers.h"
#include "stack/stack_limits.h"

namespace ntm::stack {

void ensure_stack_started() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::mutex mutex;
    std::condition_variable ready;
    bool done = false;
    struct Ctx {
      std::mutex* mutex;
      std::condition_variable* ready;
      bool* done;
    } ctx{&mutex, &ready, &done};
    tcpip_init(
        [](void* arg) {
          auto* c = static_cast<Ctx*>(arg);
          std::lock_guard lock(*c->mutex);
          *c->done = true;
          c->ready->notify_one();
        },
        &ctx);
    std::unique_lock lock(mutex);
    ready.wait(lock, [&] { return done; });
    CoreLock core;
    stop_slow_timers();  // the node runs them while they have work (slow_timers.h)
  });
}

VirtualInterface::VirtualInterface(PacketOutput& output,
                                   std::optional<std::array<uint8_t, 4>> ipv4,
                                   std::optional<std::array<uint8_t, 16>> ipv6, uint16_t mtu)
    : output_(output), mtu_(mtu) {
  ensure_stack_started();
  CoreLock lock;
  ip4_addr_t addr4{}, mask4{}, gw4{};
  if (ipv4) {
    std::memcpy(&addr4.addr, ipv4->data(), 4);
    mask4.addr = 0xffffffffu;  // a /32: every other address is routed by the tunnel hook
  }
  if (netif_add(&netif_, &addr4, &mask4, &gw4, this, &VirtualInterface::init_netif, ip_input) ==
      nullptr) {
    throw std::runtime_error("lwIP refused the virtual interface");
  }
  if (ipv6) {
    ip6_addr_t addr6{};
    std::memcpy(addr6.addr, ipv6->data(), 16);
    ip6_addr_clear_zone(&addr6);
    s8_t index = -1;
    if (netif_add_ip6_address(&netif_, &addr6, &index) != ERR_OK || index < 0) {
      netif_remove(&netif_);
      throw std::runtime_error("lwIP refused the virtual IPv6 address");
    }
    // Not static: lwIP then treats it as a /128 and leaves routing to our hook.
    netif_ip6_addr_set_valid_life(&netif_, index, IP6_ADDR_LIFE_INFINITE);
    netif_ip6_addr_set_pref_life(&netif_, index, IP6_ADDR_LIFE_INFINITE);
    netif_ip6_addr_set_state(&netif_, index, IP6_ADDR_PREFERRED);
  }
  netif_set_up(&netif_);
  netif_set_link_up(&netif_);
}

VirtualInterface::~VirtualInterface() {
  CoreLock lock;
  netif_set_down(&netif_);
  netif_remove(&netif_);
}

err_t VirtualInterface::init_netif(struct netif* netif) {
  auto* self = static_cast<VirtualInterface*>(netif->state);
  netif->name[0] = 'n';
  netif->name[1] = 't';
  netif->mtu = self->mtu_;
#if LWIP_IPV6 && LWIP_ND6_ALLOW_RA_UPDATES
  netif->mtu6 = self->mtu_;
#endif
  netif->output = &VirtualInterface::output_ip4;
  netif->output_ip6 = &VirtualInterface::output_ip6;
  netif->flags = NETIF_FLAG_LINK_UP;
  // Every tunnel packet is authenticated by its AEAD tag, so inner checksums add nothing.
  NETIF_SET_CHECKSUM_CTRL(netif, NETIF_CHECKSUM_DISABLE_ALL);
  return ERR_OK;
}

err_t VirtualInterface::output_ip4(struct netif* netif, struct pbuf* p, const ip4_addr_t*) {
  return static_cast<VirtualInterface*>(netif->state)->output_.output_packet(p);
}

err_t VirtualInterface::output_ip6(struct netif* netif, struct pbuf* p, const ip6_addr_t*) {
  return static_cast<VirtualInterface*>(netif->state)->output_.output_packet(p);
}

bool VirtualInterface::input(std::span<const uint8_t> packet) {
  if (!admit_inbound(packet)) return false;  // the memory budget is used up
  struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(packet.size()), PBUF_POOL);
  if (p == nullptr) return false;
  if (pbuf_take(p, packet.data(), static_cast<u16_t>(packet.size())) != ERR_OK) {
    pbuf_free(p);
    return false;
  }
  if (netif_.input(p, &netif_) != ERR_OK) {
    pbuf_free(p);
    return false;
  }
  return true;
}

}  // namespace ntm::stack
