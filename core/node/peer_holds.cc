#include "node/peer_holds.h"

#include <algorithm>
#include <cstring>

extern "C" {
#include "lwip/priv/tcp_priv.h"
#include "lwip/udp.h"
}

#include "stack/core_lock.h"

namespace ntm::node {

namespace {

std::optional<Endpoint> virtual_address(const ip_addr_t& ip) {
  if (IP_IS_V4_VAL(ip)) {
    const ip4_addr_t* a = ip_2_ip4(&ip);
    if (ip4_addr_isany(a)) return std::nullopt;
    std::array<uint8_t, 4> bytes;
    std::memcpy(bytes.data(), &a->addr, 4);
    return Endpoint::v4(bytes, 0);
  }
  const ip6_addr_t* a = ip_2_ip6(&ip);
  if (ip6_addr_isany(a)) return std::nullopt;
  std::array<uint8_t, 16> bytes;
  std::memcpy(bytes.data(), a->addr, 16);
  return Endpoint::v6(bytes, 0);
}

}  // namespace

void SocketHolds::refresh(const tunnel::TunnelTable& table) {
  std::vector<Endpoint> addresses;
  {
    stack::CoreLock lock;
    for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
      if (auto a = virtual_address(pcb->remote_ip)) addresses.push_back(*a);
    }
    for (struct udp_pcb* pcb = udp_pcbs; pcb != nullptr; pcb = pcb->next) {
      if (pcb->flags & UDP_FLAGS_CONNECTED) {
        if (auto a = virtual_address(pcb->remote_ip)) addresses.push_back(*a);
      }
    }
    std::sort(addresses.begin(), addresses.end(), VirtualAddressLess{});
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    addresses_ = addresses;
  }
  std::vector<tunnel::TunnelTable::Ref> refs;
  for (const auto& a : addresses) {
    tunnel::TunnelTable::Ref peer;
    if (a.is_v4()) {
      tunnel::Ipv4 v4;
      std::copy_n(a.address.begin(), 4, v4.begin());
      peer = table.find_vip4(v4);
    } else {
      peer = table.find_vip6(a.address);
    }
    if (peer && std::none_of(refs.begin(), refs.end(),
                             [&](const auto& r) { return r.shared() == peer.shared(); })) {
      refs.push_back(std::move(peer));
    }
  }
  refs_ = std::move(refs);
}

bool SocketHolds::covers(const Endpoint& virtual_address) const {
  return std::binary_search(addresses_.begin(), addresses_.end(), virtual_address,
                            VirtualAddressLess{});
}

bool HeldPackets::hold(const Endpoint& destination, std::span<const uint8_t> inner,
                       tunnel::TimePoint now) {
  std::lock_guard lock(mutex_);
  auto [it, fresh] = waiting_.try_emplace(destination);
  Waiting& w = it->second;
  if (fresh) w.first_held = now;
  if (w.packets.size() >= kMaxPerAddress) {
    w.packets.erase(w.packets.begin());
    ++dropped_;
  }
  w.packets.emplace_back(inner.begin(), inner.end());
  if (fresh || now - w.last_request >= kResolveRetry) {
    w.last_request = now;
    return true;
  }
  return false;
}

}  // namespace ntm::node
