// The tunnel engine between two nodes: the first handshake, data both ways, routing by virtual
// address and roaming.
#include <catch2/catch.hpp>

#include "engine_harness.h"
#include "io/memory_transport.h"
#include "tunnel/engine.h"
#include "wire/capsule.h"

namespace ntm::tunnel::test {
namespace {

TEST_CASE("engine queues the first packet, handshakes, then delivers it and reports tunnel up",
          "[tunnel]") {
  EnginePair p;
  const Bytes packet = p.a_to_b_v4(100, 1);

  CHECK(p.a.send(packet, kT0) == SendResult::queued);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].to == p.b.endpoint);
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::handshake_init);
  CHECK(p.a.sink.sent[0].bytes.size() == wire::kHandshakeInitSize);
  CHECK(p.a.sink.events.empty());

  // A second packet while the handshake runs is queued too, without a second init.
  const Bytes second = p.a_to_b_v6(50, 2);
  CHECK(p.a.send(second, kT0 + 1ms) == SendResult::queued);
  CHECK(p.a.sink.sent.size() == 1);

  // B answers the init; no tunnel yet on its side.
  REQUIRE(p.a_to_b(kT0 + 2ms) == 1);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(p.b.sink.sent[0].to == p.a.endpoint);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::handshake_response);
  CHECK(p.b.sink.count(EngineEventType::tunnel_up) == 0);
  CHECK(p.b.sink.delivered.empty());

  // A completes the handshake and sends what it queued, in order.
  REQUIRE(p.b_to_a(kT0 + 3ms) == 1);
  CHECK(p.a.sink.count(EngineEventType::tunnel_up) == 1);
  CHECK(p.a.engine.stats().handshakes_completed == 1);
  REQUIRE(p.a.sink.sent.size() == 2);
  for (const auto& d : p.a.sink.sent) CHECK(type_of(d.bytes) == wire::MessageType::data);

  // B gets the packets intact, and its tunnel comes up with the first one.
  REQUIRE(p.a_to_b(kT0 + 4ms) == 2);
  REQUIRE(p.b.sink.delivered.size() == 2);
  CHECK(p.b.sink.delivered[0] == packet);
  CHECK(p.b.sink.delivered[1] == second);
  CHECK(p.b.sink.count(EngineEventType::tunnel_up) == 1);
  REQUIRE_FALSE(p.b.sink.events.empty());
  CHECK(p.b.sink.events[0].type == EngineEventType::tunnel_up);
  CHECK(p.b.sink.events[0].peer == p.peer_a_at_b().shared().get());
  CHECK(p.b.sink.events[0].endpoint == p.a.endpoint);
  CHECK(p.b.engine.stats().handshakes_completed == 1);
  CHECK(EnginePair::endpoint_of(p.peer_a_at_b()) == p.a.endpoint);

  // The tunnel is up: both directions now send straight away.
  CHECK(p.b.send(p.b_to_a_v4(10, 3), kT0 + 5ms) == SendResult::sent);
  CHECK(p.a.send(p.a_to_b_v4(10, 4), kT0 + 5ms) == SendResult::sent);
}

TEST_CASE("engine carries many IPv4 and IPv6 packets both ways intact", "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  TimePoint now = kT0 + 1ms;
  constexpr int kCount = 1000;
  size_t inner_bytes_a_to_b = 0;
  for (uint32_t i = 0; i < kCount; ++i) {
    const size_t payload = (i * 37) % 1400;
    const Bytes ab = i % 2 ? p.a_to_b_v6(payload, i) : p.a_to_b_v4(payload, i);
    const Bytes ba = i % 3 ? p.b_to_a_v4(payload, i + 7) : p.b_to_a_v6(payload, i + 7);
    inner_bytes_a_to_b += ab.size();
    REQUIRE(p.a.send(ab, now) == SendResult::sent);
    REQUIRE(p.b.send(ba, now) == SendResult::sent);
    REQUIRE(p.a.sink.sent.size() == 1);
    CHECK(p.a.sink.sent[0].bytes.size() == wire::capsule_size(ab.size()));
    REQUIRE(p.a_to_b(now) == 1);
    REQUIRE(p.b_to_a(now) == 1);
    REQUIRE(p.b.sink.delivered.size() == 1);
    REQUIRE(p.a.sink.delivered.size() == 1);
    REQUIRE(p.b.sink.delivered[0] == ab);
    REQUIRE(p.a.sink.delivered[0] == ba);
    p.a.sink.delivered.clear();
    p.b.sink.delivered.clear();
    now += 1ms;
  }
  // A packet as large as a capsule may carry.
  const Bytes big = p.a_to_b_v6(wire::kMaxInnerPacket - wire::kIpv6HeaderSize, 99);
  REQUIRE(p.a.send(big, now) == SendResult::sent);
  REQUIRE(p.a_to_b(now) == 1);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == big);
  inner_bytes_a_to_b += big.size();

  const auto& sa = p.a.engine.stats();
  const auto& sb = p.b.engine.stats();
  CHECK(sa.packets_sent >= kCount + 1);
  CHECK(sb.packets_received >= kCount + 1);
  CHECK(sb.bytes_received >= inner_bytes_a_to_b);
  CHECK(sa.dropped_auth == 0);
  CHECK(sb.dropped_auth == 0);
  CHECK(sb.dropped_replay == 0);
  CHECK(sa.dropped_malformed + sb.dropped_malformed == 0);
  CHECK(sa.dropped_unknown_path + sb.dropped_unknown_path == 0);
  auto b_at_a = p.peer_b_at_a();
  auto a_at_b = p.peer_a_at_b();
  CHECK(b_at_a->packets_sent == kCount + 1);
  CHECK(b_at_a->bytes_sent == inner_bytes_a_to_b);
  CHECK(a_at_b->packets_received == kCount + 1);
  CHECK(a_at_b->bytes_received == inner_bytes_a_to_b);
  CHECK(a_at_b->packets_sent == kCount);
  CHECK(b_at_a->packets_received == kCount);
}

TEST_CASE("engine returns no_tunnel for a virtual address no peer owns", "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  CHECK(p.a.send(ipv4_packet(p.a.vip4, Ipv4{100, 64, 0, 99}, 20, 1), kT0) ==
        SendResult::no_tunnel);
  Ipv6 stranger{0xfd};
  stranger[15] = 99;
  CHECK(p.a.send(ipv6_packet(p.a.vip6, stranger, 20, 2), kT0) == SendResult::no_tunnel);
  // Not an IP packet at all.
  const Bytes garbage{0x00, 0x01, 0x02, 0x03};
  CHECK(p.a.send(garbage, kT0) == SendResult::no_tunnel);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.a.engine.stats().dropped_no_tunnel == 3);

  const std::array<uint8_t, 4> b4 = p.b.vip4;
  const std::array<uint8_t, 16> b6 = p.b.vip6;
  const std::array<uint8_t, 4> other4{100, 64, 0, 99};
  CHECK(p.a.engine.has_peer_for(std::span<const uint8_t, 4>(b4)));
  CHECK(p.a.engine.has_peer_for(std::span<const uint8_t, 16>(b6)));
  CHECK_FALSE(p.a.engine.has_peer_for(std::span<const uint8_t, 4>(other4)));
}

TEST_CASE("engine queues without handshaking for a peer whose endpoint it does not know",
          "[tunnel]") {
  EnginePair p;
  CHECK(p.b.send(p.b_to_a_v4(10, 1), kT0) == SendResult::queued);
  CHECK(p.b.sink.sent.empty());
  // Once A reaches B, B learns A's endpoint, and the queued packet goes out with the tunnel.
  CHECK(p.a.send(p.a_to_b_v4(10, 2), kT0) == SendResult::queued);
  p.pump(kT0 + 1ms);
  REQUIRE(p.a.sink.delivered.size() == 1);
  CHECK(p.a.sink.delivered[0] == p.b_to_a_v4(10, 1));
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == p.a_to_b_v4(10, 2));
}

TEST_CASE("engine follows a peer that roams to a new endpoint with authenticated packets",
          "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  const Endpoint roamed = Endpoint::v4({203, 0, 113, 7}, 40000);
  auto a_at_b = p.peer_a_at_b();

  REQUIRE(p.a.send(p.a_to_b_v4(30, 1), kT0 + 1s) == SendResult::sent);
  REQUIRE(EnginePair::forward(p.a, p.b, kT0 + 1s, &roamed) == 1);
  REQUIRE(p.b.sink.delivered.size() == 1);
  REQUIRE(p.b.sink.count(EngineEventType::path_changed) == 1);
  const EngineEvent& e = p.b.sink.events.back();
  CHECK(e.type == EngineEventType::path_changed);
  CHECK(e.endpoint == roamed);
  CHECK(e.peer == a_at_b.shared().get());
  CHECK(EnginePair::endpoint_of(a_at_b) == roamed);

  // B's replies now go to the new endpoint.
  REQUIRE(p.b.send(p.b_to_a_v4(30, 2), kT0 + 2s) == SendResult::sent);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(p.b.sink.sent[0].to == roamed);
}

TEST_CASE("engine ignores the source endpoint of unauthenticated or replayed packets",
          "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  const Endpoint attacker = Endpoint::v4({203, 0, 113, 66}, 666);
  auto a_at_b = p.peer_a_at_b();

  REQUIRE(p.a.send(p.a_to_b_v4(30, 1), kT0 + 1s) == SendResult::sent);
  const Bytes genuine = p.a.sink.sent.at(0).bytes;
  p.a.sink.sent.clear();

  // A forged copy (one bit changed) from the attacker's address.
  Bytes forged = genuine;
  forged.back() ^= 0x01;
  p.b.receive(forged, attacker, kT0 + 1s);
  CHECK(p.b.engine.stats().dropped_auth == 1);

  // The genuine packet from A's real endpoint is still accepted (a failed packet records no
  // counter), and a replay of it from the attacker changes nothing.
  p.b.receive(genuine, p.a.endpoint, kT0 + 1s);
  CHECK(p.b.sink.delivered.size() == 1);
  p.b.receive(genuine, attacker, kT0 + 1s);
  CHECK(p.b.engine.stats().dropped_replay == 1);

  CHECK(p.b.sink.count(EngineEventType::path_changed) == 0);
  CHECK(EnginePair::endpoint_of(a_at_b) == p.a.endpoint);
  REQUIRE(p.b.send(p.b_to_a_v4(30, 2), kT0 + 2s) == SendResult::sent);
  CHECK(p.b.sink.sent.at(0).to == p.a.endpoint);
}

TEST_CASE("engine initiator rekeys after kRekeyAfterTime without losing packets", "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  auto b_at_a = p.peer_b_at_a();
  const uint32_t old_path = EnginePair::current_path_id(b_at_a);
  const TimePoint later = kT0 + kRekeyAfterTime + 1s;
  const Bytes packet = p.a_to_b_v4(64, 1);
  // The packet still goes out on the old session, after a new handshake init.
  REQUIRE(p.a.send(packet, later) == SendResult::sent);
  REQUIRE(p.a.sink.sent.size() == 2);
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::handshake_init);
  CHECK(type_of(p.a.sink.sent[1].bytes) == wire::MessageType::data);
  p.pump(later);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == packet);
  CHECK(p.a.engine.stats().handshakes_completed == 2);
  CHECK(p.b.engine.stats().handshakes_completed == 2);
  {
    std::lock_guard lock(b_at_a->mutex);
    REQUIRE(b_at_a->current);
    CHECK(b_at_a->current->local_path_id != old_path);
    CHECK_FALSE(b_at_a->pending);
  }
  // Traffic flows on the new sessions both ways, past the old session's reject time.
  const TimePoint much_later = kT0 + kRejectAfterTime + 1s;
  p.a.sink.clear();
  p.b.sink.clear();
  REQUIRE(p.a.send(p.a_to_b_v6(10, 2), much_later) == SendResult::sent);
  REQUIRE(p.b.send(p.b_to_a_v6(10, 3), much_later) == SendResult::sent);
  p.pump(much_later);
  CHECK(p.b.sink.delivered.size() == 1);
  CHECK(p.a.sink.delivered.size() == 1);
}

TEST_CASE("engine keeps only the newest kMaxQueuedPackets while a handshake runs", "[tunnel]") {
  EnginePair p;
  const uint32_t total = kMaxQueuedPackets + 10;
  for (uint32_t i = 0; i < total; ++i) {
    REQUIRE(p.a.send(p.a_to_b_v4(8, i), kT0) == SendResult::queued);
  }
  CHECK(p.a.sink.sent.size() == 1);  // one init for all of them
  p.pump(kT0 + 1ms);
  REQUIRE(p.b.sink.delivered.size() == kMaxQueuedPackets);
  CHECK(p.b.sink.delivered.front() == p.a_to_b_v4(8, total - kMaxQueuedPackets));
  CHECK(p.b.sink.delivered.back() == p.a_to_b_v4(8, total - 1));
}

TEST_CASE("engine settles simultaneous handshakes from both sides", "[tunnel]") {
  EnginePair p;
  {
    auto a_at_b = p.peer_a_at_b();
    std::lock_guard lock(a_at_b->mutex);
    a_at_b->endpoint = p.a.endpoint;
  }
  REQUIRE(p.a.send(p.a_to_b_v4(10, 1), kT0) == SendResult::queued);
  REQUIRE(p.b.send(p.b_to_a_v4(10, 2), kT0) == SendResult::queued);
  REQUIRE(p.a.sink.sent.size() == 1);
  REQUIRE(p.b.sink.sent.size() == 1);
  p.pump(kT0 + 1ms);
  REQUIRE(p.b.sink.delivered.size() == 1);
  REQUIRE(p.a.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == p.a_to_b_v4(10, 1));
  CHECK(p.a.sink.delivered[0] == p.b_to_a_v4(10, 2));
  // Whatever sessions each side ended up with, traffic keeps flowing both ways.
  p.a.sink.clear();
  p.b.sink.clear();
  for (uint32_t i = 0; i < 20; ++i) {
    REQUIRE(p.a.send(p.a_to_b_v6(10, i), kT0 + 1s) == SendResult::sent);
    REQUIRE(p.b.send(p.b_to_a_v6(10, i), kT0 + 1s) == SendResult::sent);
  }
  p.pump(kT0 + 1s);
  CHECK(p.b.sink.delivered.size() == 20);
  CHECK(p.a.sink.delivered.size() == 20);
  CHECK(p.a.engine.stats().dropped_auth + p.b.engine.stats().dropped_auth == 0);
  CHECK(p.a.engine.stats().dropped_unknown_path + p.b.engine.stats().dropped_unknown_path == 0);
}

// A sink that sends through a MemoryTransport and records what the engine delivers.
class TransportSink final : public EngineSink {
 public:
  explicit TransportSink(io::MemoryTransport& transport) : transport_(transport) {}
  std::span<uint8_t> datagram_buffer(size_t size) override {
    buffer_.assign(size, 0);
    return buffer_;
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    const io::OutgoingDatagram d{to, std::span<const uint8_t>(buffer_).subspan(offset, length)};
    transport_.send_batch(std::span(&d, 1));
  }
  void deliver(std::span<const uint8_t> inner) override {
    delivered.emplace_back(inner.begin(), inner.end());
  }
  void event(const EngineEvent& e) override { events.push_back(e); }

  // Feeds every datagram waiting at the transport to the engine; returns how many.
  size_t drain(Engine& engine, TimePoint now) {
    size_t n = 0;
    Bytes storage(wire::kMaxDatagramSize);
    for (;;) {
      io::ReceiveSlot slot{storage, 0, {}};
      if (transport_.receive(std::span(&slot, 1), std::chrono::milliseconds(0)) == 0) return n;
      engine.receive(std::span(storage).first(slot.length), slot.from, *this, now);
      ++n;
    }
  }

  std::vector<Bytes> delivered;
  std::vector<EngineEvent> events;

 private:
  io::MemoryTransport& transport_;
  Bytes buffer_;
};

SendResult send_via(Engine& engine, TransportSink& sink, const Bytes& inner, TimePoint now) {
  auto buffer = sink.datagram_buffer(kDatagramHeadroom + inner.size() + kDatagramTailroom);
  std::copy(inner.begin(), inner.end(), buffer.begin() + kDatagramHeadroom);
  return engine.send_inner(buffer, inner.size(), sink, now);
}

TEST_CASE("engine pair talks over a MemoryNetwork and survives a lost init", "[tunnel]") {
  EnginePair p;
  auto network = io::MemoryNetwork::create();
  auto ta = network->attach(p.a.endpoint);
  auto tb = network->attach(p.b.endpoint);
  TransportSink sa(*ta), sb(*tb);
  int inits = 0;
  network->set_filter([&](const Endpoint&, const Endpoint&, std::vector<uint8_t>& bytes) {
    const bool init = !bytes.empty() && bytes[0] == 1;
    if (init && inits++ == 0) return io::MemoryNetwork::Verdict::drop;  // lose the first
    return io::MemoryNetwork::Verdict::deliver;
  });

  const Bytes first = p.a_to_b_v6(300, 1);
  REQUIRE(send_via(p.a.engine, sa, first, kT0) == SendResult::queued);
  CHECK(sb.drain(p.b.engine, kT0) == 0);
  const TimePoint now = kT0 + kHandshakeRetryInterval + 1ms;
  p.a.engine.tick(sa, now);
  while (sb.drain(p.b.engine, now) + sa.drain(p.a.engine, now) > 0) {
  }
  REQUIRE(sb.delivered.size() == 1);
  CHECK(sb.delivered[0] == first);
  CHECK(inits == 2);
  CHECK(network->stats().dropped_by_filter == 1);

  for (uint32_t i = 0; i < 100; ++i) {
    REQUIRE(send_via(p.b.engine, sb, p.b_to_a_v4(i * 10, i), now) == SendResult::sent);
  }
  CHECK(sa.drain(p.a.engine, now) == 100);
  REQUIRE(sa.delivered.size() == 100);
  for (uint32_t i = 0; i < 100; ++i) CHECK(sa.delivered[i] == p.b_to_a_v4(i * 10, i));
}

}  // namespace
}  // namespace ntm::tunnel::test
