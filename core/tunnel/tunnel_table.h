// The seed's tunnel table: one entry per peer, found by any of its keys - PathID (one per live
// session), NodeID, FQDN, virtual IPv4, virtual IPv6 or static public key. An entry in use
// (held through a Ref) is never removed; idle entries expire.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tunnel/peer.h"

namespace ntm::tunnel {

class TunnelTable {
 public:
  // A counted reference to an entry: while one exists, expiry leaves the entry alone.
  class Ref {
   public:
    Ref() = default;
    explicit Ref(std::shared_ptr<Peer> peer);
    Ref(const Ref& other);
    Ref(Ref&& other) noexcept;
    Ref& operator=(Ref other) noexcept;
    ~Ref();
    Peer* operator->() const { return peer_.get(); }
    Peer& operator*() const { return *peer_; }
    explicit operator bool() const { return peer_ != nullptr; }
    const std::shared_ptr<Peer>& shared() const { return peer_; }

   private:
    std::shared_ptr<Peer> peer_;
  };

  struct PathHit {
    Ref peer;
    std::shared_ptr<Session> session;
  };

  // Adds a peer. Fails (returns an empty Ref) if any of its keys is taken by another entry.
  Ref add(PeerIdentity identity, bool pinned);
  // Removes an entry and all its keys, whether in use or not (stop, explicit removal).
  void remove(const Peer& peer);
  void clear();

  Ref find_node_id(uint64_t node_id) const;
  Ref find_fqdn(std::string_view fqdn) const;
  Ref find_vip4(const Ipv4& address) const;
  Ref find_vip6(const Ipv6& address) const;
  Ref find_static_key(const crypto::X25519Key& key) const;
  std::optional<PathHit> find_path(uint32_t path_id) const;

  // Registers a session under its local PathID. Returns false if the PathID is taken.
  bool add_path(uint32_t path_id, const Ref& peer, std::shared_ptr<Session> session);
  void remove_path(uint32_t path_id);
  // A random PathID that no session uses (never 0).
  uint32_t new_path_id() const;

  // Removes unpinned entries that nobody holds and that have been idle longer than
  // `idle_timeout`; returns how many were removed.
  size_t expire_idle(TimePoint now, std::chrono::nanoseconds idle_timeout);
  // When expire_idle() would next remove an entry nobody holds now; TimePoint::max() if none.
  TimePoint next_expiry(std::chrono::nanoseconds idle_timeout) const;

  std::vector<Ref> all() const;
  size_t size() const;

 private:
  void erase_keys_locked(const Peer& peer);

  mutable std::shared_mutex mutex_;
  std::vector<std::shared_ptr<Peer>> entries_;
  std::unordered_map<uint32_t, std::pair<std::shared_ptr<Peer>, std::shared_ptr<Session>>> paths_;
  std::unordered_map<uint64_t, std::shared_ptr<Peer>> by_node_id_;
  std::unordered_map<std::string, std::shared_ptr<Peer>> by_fqdn_;
  std::unordered_map<uint32_t, std::shared_ptr<Peer>> by_vip4_;
  std::unordered_map<std::string, std::shared_ptr<Peer>> by_vip6_;
  std::unordered_map<std::string, std::shared_ptr<Peer>> by_static_key_;
};

}  // namespace ntm::tunnel
