#include "tunnel/engine.h"

#include <algorithm>
#include <cstring>

#include "tunnel/constants.h"
#include "tunnel/engine_internal.h"
#include "wire/handshake.h"
#include "wire/ip_packet.h"

namespace ntm::tunnel {


const char* to_string(PathKind kind) {
  switch (kind) {
    case PathKind::direct: return "direct";
    case PathKind::relay: return "relay";
    case PathKind::none: break;
  }
  return "none";
}

Engine::Engine(EngineConfig config, TunnelTable& table)
    : config_(std::move(config)),
      table_(table),
      limiter_(config_.handshake_limits) {
  set_mac1_key(config_.mac1_key ? *config_.mac1_key
                                : mac1_key_from_public(config_.static_key.public_key));
}

void Engine::set_mac1_key(const MacKey& key, TimePoint previous_until) {
  auto keyed = std::make_shared<const crypto::HmacSha256>(key);
  std::lock_guard lock(mac1_mutex_);
  if (mac1_.keyed && mac1_.key == key) return;  // unchanged: keep the previous one
  std::shared_ptr<const crypto::HmacSha256> previous;
  if (previous_until != TimePoint{}) previous = mac1_.keyed;
  mac1_ = {key, std::move(keyed), std::move(previous), previous_until};
}

bool Engine::mac1_ok(std::span<const uint8_t> datagram, bool init, TimePoint now) {
  const OwnMac1 own = own_mac1();
  auto check = [&](const crypto::HmacSha256& key) {
    return init ? verify_init_mac(datagram, key) : verify_response_mac(datagram, key);
  };
  if (check(*own.keyed)) return true;
  if (own.previous && now < own.previous_until && check(*own.previous)) return true;
  stats_.dropped_mac1.fetch_add(1, std::memory_order_relaxed);
  stats_.dropped_auth.fetch_add(1, std::memory_order_relaxed);
  return false;
}

Engine::OwnMac1 Engine::own_mac1() const {
  std::lock_guard lock(mac1_mutex_);
  return mac1_;
}

uint64_t Engine::next_timestamp() {
  auto wall = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  uint64_t last = last_timestamp_.load();
  uint64_t next;
  do {
    next = std::max(wall, last + 1);
  } while (!last_timestamp_.compare_exchange_weak(last, next));
  return next;
}

bool Engine::has_peer_for(std::span<const uint8_t, 4> vip4) const {
  Ipv4 a;
  std::copy(vip4.begin(), vip4.end(), a.begin());
  return static_cast<bool>(table_.find_vip4(a));
}

bool Engine::has_peer_for(std::span<const uint8_t, 16> vip6) const {
  Ipv6 a;
  std::copy(vip6.begin(), vip6.end(), a.begin());
  return static_cast<bool>(table_.find_vip6(a));
}

TunnelTable::Ref Engine::peer_for_inner(std::span<const uint8_t> inner) const {
  auto addresses = wire::parse_inner_addresses(inner);
  if (!addresses) return {};
  const auto& dst = addresses.value().dst;
  if (addresses.value().version == 4) {
    Ipv4 a;
    std::copy_n(dst.begin(), 4, a.begin());
    return table_.find_vip4(a);
  }
  return table_.find_vip6(dst);
}

void Engine::receive(std::span<uint8_t> datagram, const Endpoint& from, EngineSink& sink,
                     TimePoint now, std::optional<uint32_t> relay_id) {
  stats_.packets_received.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes_received.fetch_add(datagram.size(), std::memory_order_relaxed);
  if (datagram.empty()) {
    stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  switch (static_cast<wire::MessageType>(datagram[0])) {
    case wire::MessageType::data: on_data(datagram, from, sink, now, relay_id); return;
    case wire::MessageType::handshake_init: on_init(datagram, from, sink, now, relay_id); return;
    case wire::MessageType::handshake_response:
      on_response(datagram, from, sink, now, relay_id);
      return;
    case wire::MessageType::cookie_reply: on_cookie_reply(datagram, sink, now); return;
  }
  stats_.dropped_malformed.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace ntm::tunnel
