// The virtual network interface: an lwIP netif (layer 3, no Ethernet/ARP) that owns the node's
// virtual IPv4 and IPv6 addresses. Packets lwIP emits go to a PacketOutput (the tunnel);
// packets from the tunnel enter through input().
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

extern "C" {
#include "lwip/netif.h"
#include "lwip/pbuf.h"
}

namespace ntm::stack {

class PacketOutput {
 public:
  virtual ~PacketOutput() = default;
  // An IP packet from the virtual stack, called with lwIP's core lock held. Return ERR_OK, or
  // ERR_RTE when nothing can carry it.
  virtual err_t output_packet(struct pbuf* packet) = 0;
};

// Starts lwIP's thread once per process; later calls return at once.
void ensure_stack_started();

class VirtualInterface {
 public:
  // Adds the netif (takes the core lock). mtu is the virtual MTU (both families).
  VirtualInterface(PacketOutput& output, std::optional<std::array<uint8_t, 4>> ipv4,
                   std::optional<std::array<uint8_t, 16>> ipv6, uint16_t mtu);
  ~VirtualInterface();  // removes the netif (takes the core lock)
  VirtualInterface(const VirtualInterface&) = delete;
  VirtualInterface& operator=(const VirtualInterface&) = delete;

  // Hands an inner packet to lwIP. The caller holds the core lock. Returns false if dropped.
  bool input(std::span<const uint8_t> packet);

  struct netif* netif() { return &netif_; }

 private:
  static err_t init_netif(struct netif* netif);
  static err_t output_ip4(struct netif* netif, struct pbuf* p, const ip4_addr_t* dest);
  static err_t output_ip6(struct netif* netif, struct pbuf* p, const ip6_addr_t* dest);

  PacketOutput& output_;
  uint16_t mtu_;
  struct netif netif_ {};
};

}  // namespace ntm::stack
