// Test harness for the tunnel engine: a recording EngineSink, inner-packet builders, and a pair
// of engines (A initiates, B responds) whose datagrams the test forwards by hand, so every
// datagram can be inspected, dropped, replayed or tampered with, and time is passed explicitly.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/x25519.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "tunnel/peer.h"
#include "tunnel/tunnel_table.h"
#include "util/endpoint.h"
#include "wire/bytes.h"
#include "wire/constants.h"

namespace ntm::tunnel::test {

using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;

// Well away from the clock's epoch, as a real steady clock is.
inline const TimePoint kT0 = TimePoint{} + std::chrono::hours(24);

struct SentDatagram {
  Endpoint to;
  Bytes bytes;
  uint8_t hop_limit = 0;  // send_hop_limited(); 0: a plain send()
};

// Records what the engine asks for. datagram_buffer() returns exactly the requested size out of
// one fixed buffer (as a real sink reusing its buffer would), so an engine that writes past it
// or relies on an older buffer fails.
class RecordingSink final : public EngineSink {
 public:
  RecordingSink() : buffer_(wire::kMaxDatagramSize + kDatagramHeadroom + kDatagramTailroom) {}

  std::span<uint8_t> datagram_buffer(size_t size) override {
    REQUIRE(size <= buffer_.size());
    requested_ = size;
    return std::span(buffer_).first(size);
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    REQUIRE(offset + length <= requested_);
    auto first = buffer_.begin() + static_cast<ptrdiff_t>(offset);
    sent.push_back({to, Bytes(first, first + static_cast<ptrdiff_t>(length))});
  }
  void send_hop_limited(const Endpoint& to, size_t offset, size_t length,
                        uint8_t hop_limit) override {
    send(to, offset, length);
    sent.back().hop_limit = hop_limit;
  }
  void deliver(std::span<const uint8_t> inner) override {
    delivered.emplace_back(inner.begin(), inner.end());
  }
  void event(const EngineEvent& e) override { events.push_back(e); }

  size_t count(EngineEventType type) const {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                             [type](const auto& e) { return e.type == type; }));
  }
  void clear() {
    sent.clear();
    delivered.clear();
    events.clear();
  }

  std::vector<SentDatagram> sent;
  std::vector<Bytes> delivered;
  std::vector<EngineEvent> events;

 private:
  Bytes buffer_;
  size_t requested_ = 0;
};

inline wire::MessageType type_of(const Bytes& datagram) {
  REQUIRE_FALSE(datagram.empty());
  return static_cast<wire::MessageType>(datagram[0]);
}

// A minimal IPv4 packet (UDP protocol number, no options) with `payload_size` patterned bytes.
inline Bytes ipv4_packet(const Ipv4& src, const Ipv4& dst, size_t payload_size, uint32_t seed) {
  Bytes p(wire::kIpv4MinHeaderSize + payload_size);
  p[0] = 0x45;
  wire::store_be16(&p[2], static_cast<uint16_t>(p.size()));
  wire::store_be16(&p[4], static_cast<uint16_t>(seed));
  p[8] = 64;  // TTL
  p[9] = 17;  // UDP
  std::copy(src.begin(), src.end(), p.begin() + 12);
  std::copy(dst.begin(), dst.end(), p.begin() + 16);
  uint32_t sum = 0;
  for (size_t i = 0; i < wire::kIpv4MinHeaderSize; i += 2) sum += wire::load_be16(&p[i]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  wire::store_be16(&p[10], static_cast<uint16_t>(~sum));
  for (size_t i = 0; i < payload_size; ++i) {
    p[wire::kIpv4MinHeaderSize + i] = static_cast<uint8_t>(seed * 131 + i * 7);
  }
  return p;
}

// A minimal IPv6 packet (next header UDP) with `payload_size` patterned bytes.
inline Bytes ipv6_packet(const Ipv6& src, const Ipv6& dst, size_t payload_size, uint32_t seed) {
  Bytes p(wire::kIpv6HeaderSize + payload_size);
  p[0] = 0x60;
  wire::store_be16(&p[4], static_cast<uint16_t>(payload_size));
  p[6] = 17;  // UDP
  p[7] = 64;  // hop limit
  std::copy(src.begin(), src.end(), p.begin() + 8);
  std::copy(dst.begin(), dst.end(), p.begin() + 24);
  for (size_t i = 0; i < payload_size; ++i) {
    p[wire::kIpv6HeaderSize + i] = static_cast<uint8_t>(seed * 17 + i * 13 + 1);
  }
  return p;
}

// How a Node's engine is configured; the defaults are the engine's own.
struct NodeOptions {
  std::chrono::nanoseconds idle_timeout = kDefaultIdleTimeout;
  std::chrono::nanoseconds direct_timeout = kDefaultDirectTimeout;
  HandshakeLimits handshake_limits = default_handshake_limits();
  // Not the engine's default (kPunchLead): these tests carry datagrams by hand and expect a
  // punch's inits at once; engine_punch_test.cc covers the lead.
  std::chrono::nanoseconds punch_lead = std::chrono::nanoseconds::zero();
  uint16_t virtual_mtu = 0;  // the engine's default: no path MTU discovery
  std::chrono::nanoseconds keepalive_interval{0};
};

// One node: a static key pair, its own tunnel table and engine, and a sink.
struct Node {
  static EngineConfig engine_config(const crypto::X25519KeyPair& key, const NodeOptions& o) {
    EngineConfig c;  // the engine's defaults, then the options (new fields keep their defaults)
    c.static_key = key;
    c.idle_timeout = o.idle_timeout;
    c.direct_timeout = o.direct_timeout;
    c.handshake_limits = o.handshake_limits;
    c.punch_lead = o.punch_lead;
    c.virtual_mtu = o.virtual_mtu;
    c.keepalive_interval = o.keepalive_interval;
    return c;
  }

  Node(uint8_t index, std::chrono::nanoseconds idle_timeout)
      : Node(index, NodeOptions{.idle_timeout = idle_timeout}) {}
  explicit Node(uint8_t index, NodeOptions options = {})
      : key(crypto::x25519_generate()),
        engine(engine_config(key, options), table),
        endpoint(Endpoint::v4({192, 0, 2, index}, static_cast<uint16_t>(51820 + index))),
        private_endpoint(Endpoint::v4({10, 0, 0, index}, static_cast<uint16_t>(51820 + index))),
        vip4{100, 64, 0, index},
        vip6{0xfd} {
    vip6[15] = index;
    name = "node" + std::to_string(index) + ".test";
    node_id = index;
  }

  PeerIdentity identity() const {
    PeerIdentity id;
    id.node_id = node_id;
    id.fqdn = name;
    id.vip4 = vip4;
    id.vip6 = vip6;
    id.static_public = key.public_key;
    return id;
  }

  // What the DC would hand the other end: a private address nobody reaches, then the real one.
  std::vector<Endpoint> candidates() const { return {private_endpoint, endpoint}; }

  // Sends an inner packet the way the stack would: built in a sink buffer with head/tailroom.
  SendResult send(std::span<const uint8_t> inner, TimePoint now) {
    auto buffer = sink.datagram_buffer(kDatagramHeadroom + inner.size() + kDatagramTailroom);
    std::copy(inner.begin(), inner.end(), buffer.begin() + kDatagramHeadroom);
    return engine.send_inner(buffer, inner.size(), sink, now);
  }

  // Hands the engine a copy of `bytes` (receive() decrypts in place); `relay_id` when it came
  // through a Relay Server.
  void receive(const Bytes& bytes, const Endpoint& from, TimePoint now,
               std::optional<uint32_t> relay_id = std::nullopt) {
    Bytes copy = bytes;
    engine.receive(copy, from, sink, now, relay_id);
  }

  void tick(TimePoint now) { engine.tick(sink, now); }

  crypto::X25519KeyPair key;
  TunnelTable table;
  Engine engine;
  RecordingSink sink;
  Endpoint endpoint;          // where the node really is
  Endpoint private_endpoint;  // a candidate address that leads nowhere
  Ipv4 vip4;
  Ipv6 vip6;
  std::string name;
  uint64_t node_id = 0;
};

// Runs `round` (one forwarding pass both ways, returning how many datagrams it moved) until a
// pass moves nothing.
template <typename Round>
void pump_until_quiet(Round round) {
  for (int i = 0; i < 100; ++i) {
    if (round() == 0) return;
  }
  FAIL("engines kept talking");
}

struct PairOptions {
  std::chrono::nanoseconds idle_timeout = kDefaultIdleTimeout;
  bool pinned = true;
  // B's budget for inits before it is under load and asks for cookies.
  HandshakeLimits b_handshake_limits = default_handshake_limits();
  std::chrono::nanoseconds keepalive_interval{0};  // both ends
};

// A knows B (and where B is); B knows A but not A's endpoint.
struct EnginePair {
  explicit EnginePair(PairOptions options = {})
      : a(1, NodeOptions{.idle_timeout = options.idle_timeout,
                         .keepalive_interval = options.keepalive_interval}),
        b(2, NodeOptions{.idle_timeout = options.idle_timeout,
                         .handshake_limits = options.b_handshake_limits,
                         .keepalive_interval = options.keepalive_interval}) {
    auto b_at_a = a.table.add(b.identity(), options.pinned);
    REQUIRE(b_at_a);
    {
      std::lock_guard lock(b_at_a->mutex);
      b_at_a->endpoint = b.endpoint;
    }
    REQUIRE(b.table.add(a.identity(), options.pinned));
  }

  // The entries each side holds for the other.
  TunnelTable::Ref peer_b_at_a() const { return a.table.find_node_id(b.node_id); }
  TunnelTable::Ref peer_a_at_b() const { return b.table.find_node_id(a.node_id); }

  // Delivers everything `from` has sent to `to` (datagrams addressed elsewhere are discarded),
  // as coming from `source` (default: from's endpoint). Returns how many were delivered.
  static size_t forward(Node& from, Node& to, TimePoint now, const Endpoint* source = nullptr) {
    std::vector<SentDatagram> out;
    out.swap(from.sink.sent);
    size_t n = 0;
    for (const auto& d : out) {
      if (d.to != to.endpoint) continue;
      to.receive(d.bytes, source ? *source : from.endpoint, now);
      ++n;
    }
    return n;
  }
  size_t a_to_b(TimePoint now) { return forward(a, b, now); }
  size_t b_to_a(TimePoint now) { return forward(b, a, now); }

  // Forwards both ways until nobody has anything left to send.
  void pump(TimePoint now) {
    pump_until_quiet([&] { return a_to_b(now) + b_to_a(now); });
  }

  void tick(TimePoint now) {
    a.tick(now);
    b.tick(now);
  }

  // Handshake A -> B and let B confirm it; clears the sinks afterwards.
  void establish(TimePoint now) {
    a.engine.connect(peer_b_at_a(), a.sink, now);
    pump(now);
    REQUIRE(has_session(peer_b_at_a()));
    REQUIRE(has_session(peer_a_at_b()));
    a.sink.clear();
    b.sink.clear();
  }

  static bool has_session(const TunnelTable::Ref& peer) {
    std::lock_guard lock(peer->mutex);
    return peer->current != nullptr;
  }
  static Endpoint endpoint_of(const TunnelTable::Ref& peer) {
    std::lock_guard lock(peer->mutex);
    return peer->endpoint;
  }
  // The local path id of the peer's current session, which must exist.
  static uint32_t current_path_id(const TunnelTable::Ref& peer) {
    std::lock_guard lock(peer->mutex);
    REQUIRE(peer->current);
    return peer->current->local_path_id;
  }

  Bytes a_to_b_v4(size_t payload, uint32_t seed) const {
    return ipv4_packet(a.vip4, b.vip4, payload, seed);
  }
  Bytes b_to_a_v4(size_t payload, uint32_t seed) const {
    return ipv4_packet(b.vip4, a.vip4, payload, seed);
  }
  Bytes a_to_b_v6(size_t payload, uint32_t seed) const {
    return ipv6_packet(a.vip6, b.vip6, payload, seed);
  }
  Bytes b_to_a_v6(size_t payload, uint32_t seed) const {
    return ipv6_packet(b.vip6, a.vip6, payload, seed);
  }

  Node a;
  Node b;
};

}  // namespace ntm::tunnel::test
