// Keeping tunnel entries alive for the sockets that use them (the seed's reference count), and
// holding packets for a virtual address whose entry is missing while the DC is asked for it.
//
// SocketHolds: every so often the node lists the remote virtual addresses of lwIP's TCP
// connections and connected UDP sockets and holds a TunnelTable::Ref to each peer; idle expiry
// never removes an entry someone holds, so an idle connection keeps its peer (its session keys
// still lapse and are rebuilt on the next packet).
//
// HeldPackets: a packet lwIP sends to a virtual address that no entry owns (in control-plane mode)
// is kept instead of failing with ERR_RTE, the address is resolved through the DC, and the packet
// leaves once the entry exists - or is dropped after kHoldLimit (TCP retransmits it anyway).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <vector>

#include "tunnel/peer.h"
#include "tunnel/tunnel_table.h"
#include "util/endpoint.h"

namespace ntm::node {

// A virtual address (port 0) as a map key.
struct VirtualAddressLess {
  bool operator()(const Endpoint& a, const Endpoint& b) const {
    if (a.family != b.family) return a.family < b.family;
    return a.address < b.address;
  }
};

class SocketHolds {
 public:
  // Lists the remote addresses of lwIP's connections (takes the core lock) and holds their
  // peers. Call from one thread only (the node's receiver).
  void refresh(const tunnel::TunnelTable& table);
  // Does an open socket talk to this virtual address? Call with the core lock held (the stack's
  // routing hook), as refresh() writes the list under it.
  bool covers(const Endpoint& virtual_address) const;
  size_t held() const { return refs_.size(); }

 private:
  std::vector<Endpoint> addresses_;              // sorted; written under the core lock
  std::vector<tunnel::TunnelTable::Ref> refs_;   // receiver thread only
};

class HeldPackets {
 public:
  // Most packets held per address, and how long one may wait for its tunnel entry.
  static constexpr size_t kMaxPerAddress = 64;
  static constexpr auto kHoldLimit = std::chrono::seconds(5);
  // How often the address is asked for again while packets wait.
  static constexpr auto kResolveRetry = std::chrono::milliseconds(500);

  // Keeps a copy of `inner` for `destination`. Returns true when a resolution should be sent
  // now (the first packet, or kResolveRetry since the last request).
  bool hold(const Endpoint& destination, std::span<const uint8_t> inner, tunnel::TimePoint now);

  // Takes the packets of every address `ready` says has an entry now; drops those older than
  // kHoldLimit. Returns the packets to send, in order.
  template <typename Ready>
  std::vector<std::vector<uint8_t>> take(Ready&& ready, tunnel::TimePoint now) {
    std::vector<std::vector<uint8_t>> out;
    std::lock_guard lock(mutex_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (ready(it->first)) {
        for (auto& p : it->second.packets) out.push_back(std::move(p));
        it = waiting_.erase(it);
      } else if (now - it->second.first_held > kHoldLimit) {
        dropped_ += it->second.packets.size();
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  bool empty() const {
    std::lock_guard lock(mutex_);
    return waiting_.empty();
  }
  uint64_t dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
  }

 private:
  struct Waiting {
    tunnel::TimePoint first_held{};
    tunnel::TimePoint last_request{};
    std::vector<std::vector<uint8_t>> packets;
  };
  mutable std::mutex mutex_;
  std::map<Endpoint, Waiting, VirtualAddressLess> waiting_;
  uint64_t dropped_ = 0;
};

}  // namespace ntm::node
