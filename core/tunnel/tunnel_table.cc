#include "tunnel/tunnel_table.h"

#include <algorithm>
#include <cstring>
#include <mutex>

#include "crypto/random.h"

namespace ntm::tunnel {

namespace {

uint32_t vip4_key(const Ipv4& a) {
  uint32_t k;
  std::memcpy(&k, a.data(), 4);
  return k;
}

std::string bytes_key(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace

// --- Ref ---
TunnelTable::Ref::Ref(std::shared_ptr<Peer> peer) : peer_(std::move(peer)) {
  if (peer_) peer_->refs.fetch_add(1, std::memory_order_relaxed);
}
TunnelTable::Ref::Ref(const Ref& other) : Ref(other.peer_) {}
TunnelTable::Ref::Ref(Ref&& other) noexcept : peer_(std::move(other.peer_)) {}
TunnelTable::Ref& TunnelTable::Ref::operator=(Ref other) noexcept {
  std::swap(peer_, other.peer_);
  return *this;
}
TunnelTable::Ref::~Ref() {
  if (peer_) peer_->refs.fetch_sub(1, std::memory_order_relaxed);
}

// --- table ---
TunnelTable::Ref TunnelTable::add(PeerIdentity identity, bool pinned) {
  auto peer = std::make_shared<Peer>(std::move(identity));
  peer->pinned = pinned;
  const PeerIdentity& id = peer->identity;
  std::unique_lock lock(mutex_);
  if ((id.node_id != 0 && by_node_id_.contains(id.node_id)) ||
      (!id.fqdn.empty() && by_fqdn_.contains(id.fqdn)) ||
      (id.vip4 && by_vip4_.contains(vip4_key(*id.vip4))) ||
      (id.vip6 && by_vip6_.contains(bytes_key(id.vip6->data(), 16))) ||
      by_static_key_.contains(bytes_key(id.static_public.data(), 32))) {
    return Ref();
  }
  if (id.node_id != 0) by_node_id_[id.node_id] = peer;
  if (!id.fqdn.empty()) by_fqdn_[id.fqdn] = peer;
  if (id.vip4) by_vip4_[vip4_key(*id.vip4)] = peer;
  if (id.vip6) by_vip6_[bytes_key(id.vip6->data(), 16)] = peer;
  by_static_key_[bytes_key(id.static_public.data(), 32)] = peer;
  entries_.push_back(peer);
  return Ref(peer);
}

void TunnelTable::erase_keys_locked(const Peer& peer) {
  const PeerIdentity& id = peer.identity;
  if (id.node_id != 0) by_node_id_.erase(id.node_id);
  if (!id.fqdn.empty()) by_fqdn_.erase(id.fqdn);
  if (id.vip4) by_vip4_.erase(vip4_key(*id.vip4));
  if (id.vip6) by_vip6_.erase(bytes_key(id.vip6->data(), 16));
  by_static_key_.erase(bytes_key(id.static_public.data(), 32));
  std::erase_if(paths_, [&peer](const auto& kv) { return kv.second.first.get() == &peer; });
  std::erase_if(entries_, [&peer](const auto& p) { return p.get() == &peer; });
}

void TunnelTable::remove(const Peer& peer) {
  std::unique_lock lock(mutex_);
  erase_keys_locked(peer);
}

void TunnelTable::clear() {
  std::unique_lock lock(mutex_);
  paths_.clear();
  by_node_id_.clear();
  by_fqdn_.clear();
  by_vip4_.clear();
  by_vip6_.clear();
  by_static_key_.clear();
  entries_.clear();
}

template <class Map, class Key>
static TunnelTable::Ref find_in(std::shared_mutex& mutex, const Map& map, const Key& key) {
  std::shared_lock lock(mutex);
  auto it = map.find(key);
  return it == map.end() ? TunnelTable::Ref() : TunnelTable::Ref(it->second);
}

TunnelTable::Ref TunnelTable::find_node_id(uint64_t node_id) const {
  return find_in(mutex_, by_node_id_, node_id);
}
TunnelTable::Ref TunnelTable::find_fqdn(std::string_view fqdn) const {
  return find_in(mutex_, by_fqdn_, std::string(fqdn));
}
TunnelTable::Ref TunnelTable::find_vip4(const Ipv4& address) const {
  return find_in(mutex_, by_vip4_, vip4_key(address));
}
TunnelTable::Ref TunnelTable::find_vip6(const Ipv6& address) const {
  return find_in(mutex_, by_vip6_, bytes_key(address.data(), 16));
}
TunnelTable::Ref TunnelTable::find_static_key(const crypto::X25519Key& key) const {
  return find_in(mutex_, by_static_key_, bytes_key(key.data(), 32));
}

std::optional<TunnelTable::PathHit> TunnelTable::find_path(uint32_t path_id) const {
  std::shared_lock lock(mutex_);
  auto it = paths_.find(path_id);
  if (it == paths_.end()) return std::nullopt;
  return PathHit{Ref(it->second.first), it->second.second};
}

bool TunnelTable::add_path(uint32_t path_id, const Ref& peer, std::shared_ptr<Session> session) {
  std::unique_lock lock(mutex_);
  return paths_.try_emplace(path_id, peer.shared(), std::move(session)).second;
}

void TunnelTable::remove_path(uint32_t path_id) {
  std::unique_lock lock(mutex_);
  paths_.erase(path_id);
}

uint32_t TunnelTable::new_path_id() const {
  for (;;) {
    uint32_t id = crypto::random_u32();
    if (id == 0) continue;
    std::shared_lock lock(mutex_);
    if (!paths_.contains(id)) return id;
  }
}

size_t TunnelTable::expire_idle(TimePoint now, std::chrono::nanoseconds idle_timeout) {
  std::unique_lock lock(mutex_);
  std::vector<std::shared_ptr<Peer>> doomed;
  for (const auto& peer : entries_) {
    if (peer->pinned || peer->refs.load(std::memory_order_relaxed) > 0) continue;
    auto idle = now.time_since_epoch().count() - peer->last_use_ns.load(std::memory_order_relaxed);
    if (idle > idle_timeout.count()) doomed.push_back(peer);
  }
  for (const auto& peer : doomed) erase_keys_locked(*peer);
  return doomed.size();
}

TimePoint TunnelTable::next_expiry(std::chrono::nanoseconds idle_timeout) const {
  std::shared_lock lock(mutex_);
  TimePoint next = TimePoint::max();
  for (const auto& peer : entries_) {
    if (peer->pinned || peer->refs.load(std::memory_order_relaxed) > 0) continue;
    const TimePoint last(std::chrono::nanoseconds(peer->last_use_ns.load(std::memory_order_relaxed)));
    next = std::min(next, last + idle_timeout + std::chrono::nanoseconds(1));
  }
  return next;
}

std::vector<TunnelTable::Ref> TunnelTable::all() const {
  std::shared_lock lock(mutex_);
  std::vector<Ref> out;
  out.reserve(entries_.size());
  for (const auto& peer : entries_) out.emplace_back(peer);
  return out;
}

size_t TunnelTable::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace ntm::tunnel
