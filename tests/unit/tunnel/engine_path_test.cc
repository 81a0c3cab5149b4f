// The tunnel engine's paths (docs/protocol.md 2.3, 4 "Hole punching and fallback", 5): the sink's
// headroom contract, hole punching to the direct candidates the DC hands out, the fallback to a
// Relay Server after direct_timeout, relayed datagrams (0x30), direct probes while relayed and
// the upgrade back to a direct path. The relay is simulated by the test: it unwraps 0x30
// datagrams and hands them to the other engine with their relay_id. Time is passed explicitly.
#include <catch2/catch.hpp>

#include <optional>
#include <utility>
#include <vector>

#include "engine_harness.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "wire/bytes.h"
#include "wire/capsule.h"
#include "wire/handshake.h"

// Readable failure messages for endpoints and path kinds.
namespace Catch {
template <>
struct StringMaker<ntm::Endpoint> {
  static std::string convert(const ntm::Endpoint& e) { return e.to_string(); }
};
template <>
struct StringMaker<ntm::tunnel::PathKind> {
  static std::string convert(ntm::tunnel::PathKind kind) { return ntm::tunnel::to_string(kind); }
};
}  // namespace Catch

namespace ntm::tunnel::test {
namespace {

// Not the default (kDefaultDirectTimeout): shows that EngineConfig::direct_timeout is used.
constexpr auto kDirectTimeout = 1500ms;
constexpr auto kJustAfterRetry = kHandshakeRetryInterval + 1ms;
constexpr uint32_t kRelayId = 0x0a0b0c0d;

const Endpoint kRelayServer = Endpoint::v4({198, 51, 100, 1}, 7802);

// Checks the relay header of a datagram sent to the Relay Server and returns what it wraps.
Bytes unwrap(const SentDatagram& d) {
  REQUIRE(d.to == kRelayServer);
  REQUIRE(d.bytes.size() > wire::kRelayHeaderSize);
  CHECK(d.bytes[0] == wire::kRelayedType);
  CHECK(d.bytes[1] == 0);  // flags
  CHECK(d.bytes[2] == 0);  // reserved
  CHECK(d.bytes[3] == 0);
  CHECK(wire::load_be32(&d.bytes[4]) == kRelayId);
  return Bytes(d.bytes.begin() + wire::kRelayHeaderSize, d.bytes.end());
}

bool is_relayed(const SentDatagram& d) {
  return d.to == kRelayServer && !d.bytes.empty() && d.bytes[0] == wire::kRelayedType;
}

struct PeerState {
  Endpoint endpoint;
  PathKind path = PathKind::none;
  bool endpoint_confirmed = false;
  bool has_session = false;
  bool pending = false;
  bool probing = false;
  uint32_t session_path_id = 0;
};

PeerState state_of(const TunnelTable::Ref& peer) {
  std::lock_guard lock(peer->mutex);
  PeerState s;
  s.endpoint = peer->endpoint;
  s.path = peer->path;
  s.endpoint_confirmed = peer->endpoint_confirmed;
  s.has_session = peer->current != nullptr;
  s.pending = peer->pending.has_value();
  s.probing = peer->pending && peer->pending->probe;
  if (peer->current) s.session_path_id = peer->current->local_path_id;
  return s;
}

// Two nodes that know each other (pinned) but not where the other is: the control plane tells
// them with Engine::direct(). The test is the network: a direction may be blocked for direct
// datagrams (a NAT that does not let them through); the Relay Server always works. Both engines
// run with EngineConfig::direct_timeout = kDirectTimeout.
struct PathPair {
  explicit PathPair(std::chrono::nanoseconds idle_timeout = kDefaultIdleTimeout)
      : a(1, NodeOptions{idle_timeout, kDirectTimeout}),
        b(2, NodeOptions{idle_timeout, kDirectTimeout}) {
    REQUIRE(a.table.add(b.identity(), true));
    REQUIRE(b.table.add(a.identity(), true));
  }

  TunnelTable::Ref b_at_a() const { return a.table.find_node_id(b.node_id); }
  TunnelTable::Ref a_at_b() const { return b.table.find_node_id(a.node_id); }
  // Both entries at once: auto [b_at_a, a_at_b] = p.peers();
  std::pair<TunnelTable::Ref, TunnelTable::Ref> peers() const { return {b_at_a(), a_at_b()}; }
  static std::optional<Peer::Relay> relay() { return Peer::Relay{kRelayServer, kRelayId}; }

  // The control plane tells A (B) the other's candidates and the relay.
  void a_direct(TimePoint now) { a.engine.direct(b_at_a(), b.candidates(), relay(), a.sink, now); }
  void b_direct(TimePoint now) { b.engine.direct(a_at_b(), a.candidates(), relay(), b.sink, now); }

  // Delivers what `from` sent: 0x30 datagrams to the relay come out at `to` unwrapped, from the
  // relay with the relay_id; others reach `to` directly if addressed to its real endpoint and
  // the direction is open, and are lost otherwise. Returns how many arrived.
  size_t carry(Node& from, Node& to, bool direct_open, TimePoint now) {
    std::vector<SentDatagram> out;
    out.swap(from.sink.sent);
    size_t n = 0;
    for (const auto& d : out) {
      if (d.to == kRelayServer) {
        to.receive(unwrap(d), kRelayServer, now, kRelayId);
        ++relayed;
        ++n;
      } else if (d.to == to.endpoint && direct_open) {
        REQUIRE(d.bytes.at(0) != wire::kRelayedType);
        to.receive(d.bytes, from.endpoint, now);
        ++direct;
        ++n;
      } else {
        ++lost;
      }
    }
    return n;
  }
  size_t a_to_b(TimePoint now) { return carry(a, b, open_a_to_b, now); }
  size_t b_to_a(TimePoint now) { return carry(b, a, open_b_to_a, now); }

  void pump(TimePoint now) {
    pump_until_quiet([&] { return a_to_b(now) + b_to_a(now); });
  }

  void tick(TimePoint now) {
    a.tick(now);
    b.tick(now);
  }

  void block_direct() { open_a_to_b = open_b_to_a = false; }
  void open_direct() { open_a_to_b = open_b_to_a = true; }
  void clear_sinks() {
    a.sink.clear();
    b.sink.clear();
  }
  void reset_counts() { relayed = direct = lost = 0; }

  // One packet each way; checks both arrive intact. Returns nothing: counts tell the path.
  void exchange(TimePoint now, uint32_t seed) {
    const Bytes ab = ipv4_packet(a.vip4, b.vip4, 40, seed);
    const Bytes ba = ipv6_packet(b.vip6, a.vip6, 60, seed + 1);
    a.sink.delivered.clear();
    b.sink.delivered.clear();
    REQUIRE(a.send(ab, now) == SendResult::sent);
    REQUIRE(b.send(ba, now) == SendResult::sent);
    pump(now);
    REQUIRE(b.sink.delivered.size() == 1);
    CHECK(b.sink.delivered[0] == ab);
    REQUIRE(a.sink.delivered.size() == 1);
    CHECK(a.sink.delivered[0] == ba);
  }

  // `rounds` exchanges from `start`, `step` apart, with seeds counting up from `first_seed`;
  // checks that every datagram of them went by `path` (direct or relay) and none was lost.
  void exchange_via(PathKind path, uint32_t rounds, TimePoint start, std::chrono::nanoseconds step,
                    uint32_t first_seed) {
    reset_counts();
    for (uint32_t i = 0; i < rounds; ++i) exchange(start + i * step, first_seed + i * 2);
    const size_t datagrams = 2 * rounds;
    CHECK(relayed == (path == PathKind::relay ? datagrams : 0));
    CHECK(direct == (path == PathKind::direct ? datagrams : 0));
    CHECK(lost == 0);
  }

  // A tunnel that had to fall back to the relay: A is told B's candidates and the relay, no
  // direct datagram gets through, and after direct_timeout A goes through the relay. B hears
  // of A only through the relay. Returns the time the tunnel came up; sinks are cleared.
  TimePoint establish_relayed(TimePoint start) {
    block_direct();
    a_direct(start);
    pump(start);
    const TimePoint fallback = start + kDirectTimeout;
    a.tick(fallback);
    pump(fallback);
    REQUIRE(state_of(b_at_a()).has_session);
    REQUIRE(state_of(a_at_b()).has_session);
    REQUIRE(state_of(b_at_a()).path == PathKind::relay);
    REQUIRE(state_of(a_at_b()).path == PathKind::relay);
    clear_sinks();
    reset_counts();
    return fallback;
  }

  Node a;
  Node b;
  bool open_a_to_b = true;
  bool open_b_to_a = true;
  size_t relayed = 0, direct = 0, lost = 0;
};

// Checks that `peer` has a session on the relay.
void check_on_relay(const TunnelTable::Ref& peer) {
  const PeerState s = state_of(peer);
  CHECK(s.has_session);
  CHECK(s.path == PathKind::relay);
  CHECK(s.endpoint == kRelayServer);
}

// Checks that `sent` is one HandshakeInit to each of `candidates`, in order, all the same init.
void check_init_to_each(const std::vector<SentDatagram>& sent,
                        const std::vector<Endpoint>& candidates) {
  REQUIRE(sent.size() == candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    INFO("candidate " << i);
    CHECK(sent[i].to == candidates[i]);
    CHECK(sent[i].bytes.size() == wire::kHandshakeInitSize);
    CHECK(type_of(sent[i].bytes) == wire::MessageType::handshake_init);
    CHECK(sent[i].bytes == sent[0].bytes);
  }
}

// Calls `traffic(now)` every 5 s until well past kRejectAfterTime, after running both engines'
// timers and delivering what they sent, so that the tunnel has to rekey several times.
template <typename Pair, typename Traffic>
void every_5s_past_reject_after_time(Pair& p, Traffic traffic) {
  for (TimePoint now = kT0 + 5s; now < kT0 + 2 * kRejectAfterTime; now += 5s) {
    INFO("at " << std::chrono::duration_cast<std::chrono::seconds>(now - kT0).count() << " s");
    p.tick(now);
    p.pump(now);
    traffic(now);
  }
}

const EngineEvent* find_event(const RecordingSink& sink, EngineEventType type) {
  for (const auto& e : sink.events) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

// A sink that records where in its buffer each datagram starts and how large a buffer the engine
// asked for. Buffers are filled with a marker so that unwritten headroom stays recognisable.
class OffsetSink final : public EngineSink {
 public:
  struct Send {
    Endpoint to;
    size_t offset = 0;
    size_t length = 0;
    size_t requested = 0;
    Bytes buffer;  // the whole buffer
    Bytes bytes() const {
      auto first = buffer.begin() + static_cast<ptrdiff_t>(offset);
      return Bytes(first, first + static_cast<ptrdiff_t>(length));
    }
  };
  static constexpr uint8_t kMarker = 0xee;

  std::span<uint8_t> datagram_buffer(size_t size) override {
    buffer_.assign(size, kMarker);
    return buffer_;
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    REQUIRE(offset + length <= buffer_.size());
    sent.push_back({to, offset, length, buffer_.size(), buffer_});
  }
  void deliver(std::span<const uint8_t> inner) override {
    delivered.emplace_back(inner.begin(), inner.end());
  }
  void event(const EngineEvent&) override {}

  SendResult send_inner(Engine& engine, const Bytes& inner, TimePoint now) {
    auto buffer = datagram_buffer(kDatagramHeadroom + inner.size() + kDatagramTailroom);
    std::copy(inner.begin(), inner.end(), buffer.begin() + kDatagramHeadroom);
    return engine.send_inner(buffer, inner.size(), *this, now);
  }

  std::vector<Send> sent;
  std::vector<Bytes> delivered;

 private:
  Bytes buffer_;
};

// --- the sink contract ---

TEST_CASE("engine sends direct datagrams from offset kRelayHeaderRoom of the sink's buffer",
          "[tunnel][path]") {
  PathPair p;
  OffsetSink sa, sb;
  auto check_direct = [](const OffsetSink::Send& s, const Endpoint& to, size_t length) {
    CHECK(s.to == to);
    CHECK(s.offset == kRelayHeaderRoom);
    CHECK(s.length == length);
    CHECK(s.requested >= kRelayHeaderRoom + length);
  };
  p.a.engine.direct(p.b_at_a(), {p.b.endpoint}, PathPair::relay(), sa, kT0);
  REQUIRE(sa.sent.size() == 1);
  const auto& init = sa.sent[0];
  check_direct(init, p.b.endpoint, wire::kHandshakeInitSize);
  CHECK(init.buffer[init.offset] == static_cast<uint8_t>(wire::MessageType::handshake_init));

  Bytes datagram = init.bytes();
  p.b.engine.receive(datagram, p.a.endpoint, sb, kT0);
  REQUIRE(sb.sent.size() == 1);
  const auto& response = sb.sent[0];
  check_direct(response, p.a.endpoint, wire::kHandshakeResponseSize);

  datagram = response.bytes();
  sa.sent.clear();
  p.a.engine.receive(datagram, p.b.endpoint, sa, kT0);
  REQUIRE(sa.sent.size() == 1);  // the initiator's hello on the new session
  check_direct(sa.sent[0], p.b.endpoint, wire::capsule_size(0));
  datagram = sa.sent[0].bytes();
  p.b.engine.receive(datagram, p.a.endpoint, sb, kT0);

  // Data: the inner packet was put at kDatagramHeadroom; the capsule starts 16 bytes before it
  // and the relay header room in front of that is left alone.
  const Bytes inner = ipv4_packet(p.a.vip4, p.b.vip4, 100, 7);
  sa.sent.clear();
  REQUIRE(sa.send_inner(p.a.engine, inner, kT0) == SendResult::sent);
  REQUIRE(sa.sent.size() == 1);
  const auto& data = sa.sent[0];
  check_direct(data, p.b.endpoint, wire::capsule_size(inner.size()));
  CHECK(data.requested == kDatagramHeadroom + inner.size() + kDatagramTailroom);
  for (size_t i = 0; i < kRelayHeaderRoom; ++i) CHECK(data.buffer[i] == OffsetSink::kMarker);
  datagram = data.bytes();
  p.b.engine.receive(datagram, p.a.endpoint, sb, kT0);
  REQUIRE(sb.delivered.size() == 1);
  CHECK(sb.delivered[0] == inner);
}

TEST_CASE("engine sends relayed datagrams from offset 0 with a 0x30 header and the relay_id",
          "[tunnel][path]") {
  PathPair p;
  OffsetSink sa, sb;
  // No candidates: straight to the relay.
  p.a.engine.direct(p.b_at_a(), {}, PathPair::relay(), sa, kT0);
  REQUIRE(sa.sent.size() == 1);
  auto check_relayed = [](const OffsetSink::Send& s, size_t tunnel_length, wire::MessageType type) {
    CHECK(s.to == kRelayServer);
    CHECK(s.offset == 0);
    CHECK(s.length == kRelayHeaderRoom + tunnel_length);
    CHECK(s.requested >= s.length);
    const Bytes bytes = s.bytes();
    REQUIRE(bytes.size() == kRelayHeaderRoom + tunnel_length);
    CHECK(bytes[0] == 0x30);
    CHECK(bytes[1] == 0);
    CHECK(bytes[2] == 0);
    CHECK(bytes[3] == 0);
    CHECK(bytes[4] == 0x0a);  // relay_id, big-endian
    CHECK(bytes[5] == 0x0b);
    CHECK(bytes[6] == 0x0c);
    CHECK(bytes[7] == 0x0d);
    CHECK(bytes[8] == static_cast<uint8_t>(type));
    return Bytes(bytes.begin() + kRelayHeaderRoom, bytes.end());
  };
  Bytes tunnel = check_relayed(sa.sent[0], wire::kHandshakeInitSize,
                               wire::MessageType::handshake_init);
  CHECK(wire::decode_handshake_init(tunnel));

  p.b.engine.receive(tunnel, kRelayServer, sb, kT0, kRelayId);
  REQUIRE(sb.sent.size() == 1);
  tunnel = check_relayed(sb.sent[0], wire::kHandshakeResponseSize,
                         wire::MessageType::handshake_response);

  sa.sent.clear();
  p.a.engine.receive(tunnel, kRelayServer, sa, kT0, kRelayId);
  REQUIRE(sa.sent.size() == 1);
  tunnel = check_relayed(sa.sent[0], wire::capsule_size(0), wire::MessageType::data);
  p.b.engine.receive(tunnel, kRelayServer, sb, kT0, kRelayId);

  const Bytes inner = ipv6_packet(p.b.vip6, p.a.vip6, 300, 9);
  sb.sent.clear();
  REQUIRE(sb.send_inner(p.b.engine, inner, kT0) == SendResult::sent);
  REQUIRE(sb.sent.size() == 1);
  CHECK(sb.sent[0].requested == kDatagramHeadroom + inner.size() + kDatagramTailroom);
  tunnel = check_relayed(sb.sent[0], wire::capsule_size(inner.size()), wire::MessageType::data);
  p.a.engine.receive(tunnel, kRelayServer, sa, kT0, kRelayId);
  REQUIRE(sa.delivered.size() == 1);
  CHECK(sa.delivered[0] == inner);
}

// --- hole punching ---

TEST_CASE("engine sends the same HandshakeInit to every direct candidate at once",
          "[tunnel][path]") {
  PathPair p;
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 2;
  const std::vector<Endpoint> candidates{p.b.private_endpoint, p.b.endpoint,
                                         Endpoint::v6(v6, 51822)};
  p.a.engine.direct(p.b_at_a(), candidates, PathPair::relay(), p.a.sink, kT0);
  check_init_to_each(p.a.sink.sent, candidates);
  CHECK(p.a.sink.events.empty());
  CHECK(p.a.engine.stats().packets_sent == candidates.size());
  const PeerState s = state_of(p.b_at_a());
  CHECK(s.pending);
  CHECK_FALSE(s.probing);
  CHECK_FALSE(s.has_session);
  CHECK(s.path != PathKind::relay);

  // Before direct_timeout an unanswered punch is retried to every candidate again.
  p.a.sink.clear();
  p.a.tick(kT0 + kJustAfterRetry);
  check_init_to_each(p.a.sink.sent, candidates);
  CHECK(p.a.sink.events.empty());
}

TEST_CASE("engine answers a punched HandshakeInit to the source it came from",
          "[tunnel][path]") {
  PathPair p;
  p.a_direct(kT0);
  REQUIRE(p.a.sink.sent.size() == 2);
  // Through a NAT: B sees A at an address nobody told it about.
  const Endpoint mapped = Endpoint::v4({203, 0, 113, 9}, 40001);
  p.b.receive(p.a.sink.sent[1].bytes, mapped, kT0);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(p.b.sink.sent[0].to == mapped);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::handshake_response);
  CHECK(p.b.sink.sent[0].bytes.size() == wire::kHandshakeResponseSize);
  CHECK(p.b.sink.count(EngineEventType::tunnel_up) == 0);
}

TEST_CASE("engine completes punching with the first response and fixes the peer endpoint to "
          "the candidate that answered",
          "[tunnel][path]") {
  PathPair p;
  auto b_at_a = p.b_at_a();
  const Endpoint public_b = Endpoint::v4({203, 0, 113, 2}, 40002);
  const std::vector<Endpoint> candidates{p.b.private_endpoint, p.b.endpoint, public_b};
  p.a.engine.direct(b_at_a, candidates, PathPair::relay(), p.a.sink, kT0);
  REQUIRE(p.a.sink.sent.size() == 3);
  const Bytes init = p.a.sink.sent[1].bytes;
  p.a.sink.clear();

  // B is reachable at two of the candidates; the same init arrives twice. The copy is a replay:
  // B answers only once.
  p.b.receive(init, p.a.endpoint, kT0 + 1ms);
  p.b.receive(init, p.a.endpoint, kT0 + 2ms);
  CHECK(p.b.engine.stats().dropped_replay == 1);
  REQUIRE(p.b.sink.sent.size() == 1);
  const Bytes response = p.b.sink.sent[0].bytes;
  p.b.sink.clear();

  // The answer comes back from the second candidate.
  p.a.receive(response, p.b.endpoint, kT0 + 3ms);
  const EngineEvent* up = find_event(p.a.sink, EngineEventType::tunnel_up);
  REQUIRE(up != nullptr);
  CHECK(up->peer == b_at_a.shared().get());
  CHECK(up->endpoint == p.b.endpoint);
  CHECK(up->path == PathKind::direct);
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 0);
  CHECK(p.a.engine.stats().handshakes_completed == 1);
  PeerState s = state_of(b_at_a);
  CHECK(s.has_session);
  CHECK_FALSE(s.pending);
  CHECK(s.path == PathKind::direct);
  CHECK(s.endpoint == p.b.endpoint);
  CHECK(s.endpoint_confirmed);
  // The hello goes to that candidate only.
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].to == p.b.endpoint);
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::data);

  // A late second response (as if B answered a retry) changes nothing.
  p.a.receive(response, public_b, kT0 + 4ms);
  CHECK(p.a.engine.stats().dropped_unknown_path == 1);
  CHECK(state_of(b_at_a).endpoint == p.b.endpoint);

  p.pump(kT0 + 5ms);
  REQUIRE(state_of(p.a_at_b()).has_session);
  CHECK(state_of(p.a_at_b()).path == PathKind::direct);
  CHECK(state_of(p.a_at_b()).endpoint == p.a.endpoint);
  p.clear_sinks();

  // direct_timeout passing later does not move a working tunnel to the relay.
  for (auto t = kT0 + 100ms; t <= kT0 + 3 * kDirectTimeout; t += 100ms) p.tick(t);
  CHECK(p.a.sink.events.empty());
  CHECK(p.a.sink.sent.empty());
  s = state_of(b_at_a);
  CHECK(s.path == PathKind::direct);
  CHECK(s.endpoint == p.b.endpoint);

  p.exchange_via(PathKind::direct, 10, kT0 + 5s, 1ms, 0);
}

TEST_CASE("engines that both call direct() at once punch through and carry data both ways",
          "[tunnel][path]") {
  PathPair p;
  auto [b_at_a, a_at_b] = p.peers();
  p.a_direct(kT0);
  p.b_direct(kT0);
  CHECK(p.a.sink.sent.size() == 2);
  CHECK(p.b.sink.sent.size() == 2);
  p.pump(kT0 + 1ms);

  for (const auto& [peer, endpoint] : {std::pair{b_at_a, p.b.endpoint}, {a_at_b, p.a.endpoint}}) {
    const PeerState s = state_of(peer);
    CHECK(s.has_session);
    CHECK_FALSE(s.pending);
    CHECK(s.path == PathKind::direct);
    CHECK(s.endpoint == endpoint);
    CHECK(s.endpoint_confirmed);
  }
  CHECK(p.a.sink.count(EngineEventType::tunnel_up) >= 1);
  CHECK(p.b.sink.count(EngineEventType::tunnel_up) >= 1);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 0);
  CHECK(p.b.sink.count(EngineEventType::path_changed) == 0);
  CHECK(p.relayed == 0);
  p.clear_sinks();

  // The deadline passes without a fallback; data flows straight both ways.
  p.tick(kT0 + kDirectTimeout + 1ms);
  CHECK(p.a.sink.events.empty());
  CHECK(p.b.sink.events.empty());
  p.exchange_via(PathKind::direct, 20, kT0 + 2s, 0ms, 0);
  for (const Node* n : {&p.a, &p.b}) {
    CHECK(n->engine.stats().dropped_auth == 0);
    CHECK(n->engine.stats().dropped_unknown_path == 0);
    CHECK(n->engine.stats().dropped_replay == 0);
  }
}

TEST_CASE("a tunnel opened by both ends at once stays up across rekeying", "[tunnel][path]") {
  PathPair p;
  p.a_direct(kT0);
  p.b_direct(kT0);
  p.pump(kT0);
  p.clear_sinks();

  // Traffic both ways every 5 s, timers running, until well past kRejectAfterTime.
  uint32_t seed = 0;
  every_5s_past_reject_after_time(p, [&](TimePoint now) { p.exchange(now, seed += 2); });
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 0);
  CHECK(p.b.sink.count(EngineEventType::path_changed) == 0);
  CHECK(p.relayed == 0);
  CHECK(p.a.engine.stats().handshakes_completed + p.b.engine.stats().handshakes_completed >= 4);
}

// --- the relay fallback ---

TEST_CASE("engine falls back to the relay when no candidate answers within direct_timeout",
          "[tunnel][path]") {
  PathPair p;
  p.block_direct();
  auto [b_at_a, a_at_b] = p.peers();
  p.a_direct(kT0);
  const Bytes queued = ipv4_packet(p.a.vip4, p.b.vip4, 80, 1);
  CHECK(p.a.send(queued, kT0) == SendResult::queued);

  // Punching retries until direct_timeout, never through the relay.
  for (auto t = kT0 + 100ms; t < kT0 + kDirectTimeout; t += 100ms) p.a.tick(t);
  CHECK(p.a.sink.events.empty());
  for (const auto& d : p.a.sink.sent) {
    CHECK(type_of(d.bytes) == wire::MessageType::handshake_init);
    CHECK(d.to != kRelayServer);
  }
  CHECK(p.a_to_b(kT0 + kDirectTimeout - 1ms) == 0);  // all lost
  CHECK(state_of(b_at_a).path != PathKind::relay);

  // At direct_timeout: path_changed to the relay, and a wrapped init to the Relay Server.
  const TimePoint fallback = kT0 + kDirectTimeout;
  p.a.tick(fallback);
  REQUIRE(p.a.sink.events.size() == 1);
  const EngineEvent& e = p.a.sink.events[0];
  CHECK(e.type == EngineEventType::path_changed);
  CHECK(e.path == PathKind::relay);
  CHECK(e.endpoint == kRelayServer);
  CHECK(e.peer == b_at_a.shared().get());
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(is_relayed(p.a.sink.sent[0]));
  const Bytes init = unwrap(p.a.sink.sent[0]);
  CHECK(init.size() == wire::kHandshakeInitSize);
  CHECK(type_of(init) == wire::MessageType::handshake_init);
  PeerState s = state_of(b_at_a);
  CHECK(s.path == PathKind::relay);
  CHECK(s.endpoint == kRelayServer);
  CHECK(s.pending);
  p.a.sink.clear();

  // The relay hands it to B, which answers through the relay.
  p.b.receive(init, kRelayServer, fallback + 1ms, kRelayId);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(is_relayed(p.b.sink.sent[0]));
  const Bytes response = unwrap(p.b.sink.sent[0]);
  CHECK(type_of(response) == wire::MessageType::handshake_response);
  p.b.sink.sent.clear();

  p.a.receive(response, kRelayServer, fallback + 2ms, kRelayId);
  const EngineEvent* up = find_event(p.a.sink, EngineEventType::tunnel_up);
  REQUIRE(up != nullptr);
  CHECK(up->path == PathKind::relay);
  CHECK(up->endpoint == kRelayServer);
  // The packet queued since the start goes through the relay.
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(is_relayed(p.a.sink.sent[0]));
  REQUIRE(p.a_to_b(fallback + 3ms) == 1);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == queued);
  up = find_event(p.b.sink, EngineEventType::tunnel_up);
  REQUIRE(up != nullptr);
  CHECK(up->peer == a_at_b.shared().get());
  CHECK(up->path == PathKind::relay);
  CHECK(up->endpoint == kRelayServer);

  // Both ends see the tunnel on the relay.
  for (const auto& peer : {b_at_a, a_at_b}) {
    check_on_relay(peer);
    std::lock_guard lock(peer->mutex);
    REQUIRE(peer->relay);
    CHECK(peer->relay->server == kRelayServer);
    CHECK(peer->relay->relay_id == kRelayId);
  }
  CHECK(to_string(state_of(b_at_a).path) == std::string("relay"));

  p.clear_sinks();
  p.exchange_via(PathKind::relay, 10, fallback + 1s, 1ms, 10);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(b_at_a->packets_sent == 11);
  CHECK(a_at_b->packets_received == 11);
  CHECK(a_at_b->packets_sent == 10);
  CHECK(b_at_a->packets_received == 10);
}

TEST_CASE("engines that both fail to punch meet through the relay", "[tunnel][path]") {
  PathPair p;
  p.block_direct();
  p.a_direct(kT0);
  p.b_direct(kT0);
  TimePoint now = kT0;
  for (; now <= kT0 + kDirectTimeout; now += 100ms) {
    p.tick(now);
    p.pump(now);
  }
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 1);
  CHECK(p.b.sink.count(EngineEventType::path_changed) == 1);
  for (const auto& peer : {p.b_at_a(), p.a_at_b()}) check_on_relay(peer);
  p.clear_sinks();
  p.exchange_via(PathKind::relay, 10, now, 1ms, 0);
}

TEST_CASE("engine goes to the relay at once when direct() has no candidates", "[tunnel][path]") {
  // An IPv4-only node and an IPv6-only node: the DC has no candidates for them.
  PathPair p;
  p.block_direct();
  auto [b_at_a, a_at_b] = p.peers();
  p.a.engine.direct(b_at_a, {}, PathPair::relay(), p.a.sink, kT0);
  REQUIRE(p.a.sink.events.size() == 1);
  CHECK(p.a.sink.events[0].type == EngineEventType::path_changed);
  CHECK(p.a.sink.events[0].path == PathKind::relay);
  CHECK(p.a.sink.events[0].endpoint == kRelayServer);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(is_relayed(p.a.sink.sent[0]));
  CHECK(type_of(unwrap(p.a.sink.sent[0])) == wire::MessageType::handshake_init);
  CHECK(state_of(b_at_a).path == PathKind::relay);

  p.b.engine.direct(a_at_b, {}, PathPair::relay(), p.b.sink, kT0);
  CHECK(p.b.sink.count(EngineEventType::path_changed) == 1);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(is_relayed(p.b.sink.sent[0]));

  p.pump(kT0 + 1ms);
  CHECK(p.direct + p.lost == 0);
  for (const auto& peer : {b_at_a, a_at_b}) check_on_relay(peer);
  p.clear_sinks();
  p.exchange_via(PathKind::relay, 5, kT0 + 1s, 0ms, 0);

  // Without candidates nothing is ever probed directly.
  p.clear_sinks();
  for (auto t = kT0 + 1s; t <= kT0 + 3 * kDirectProbeInterval; t += 100ms) {
    p.tick(t);
    for (const auto& d : p.a.sink.sent) CHECK(d.to == kRelayServer);
    for (const auto& d : p.b.sink.sent) CHECK(d.to == kRelayServer);
  }
  CHECK(p.a.sink.events.empty());
}

TEST_CASE("a relay binding that becomes usable resends the handshake the RS dropped at once",
          "[tunnel][path]") {
  // A moved to an IPv6-only network: the only way to B is the relay, where A's binding from
  // its new address is not in place yet, so the RS drops A's first init.
  PathPair p;
  p.block_direct();
  auto [b_at_a, a_at_b] = p.peers();
  p.a.engine.direct(b_at_a, {}, PathPair::relay(), p.a.sink, kT0);
  REQUIRE(p.a.sink.sent.size() == 1);
  p.a.sink.clear();  // lost at the RS
  // Another relay becoming usable changes nothing.
  p.a.engine.on_relay_bound(Endpoint::v4({192, 0, 2, 99}, 7802), p.a.sink, kT0 + 5ms);
  CHECK(p.a.sink.sent.empty());
  // The RS acknowledged A's binding 5 ms later: the init goes again now, not after
  // kHandshakeRetryInterval, and the tunnel comes up.
  p.a.engine.on_relay_bound(kRelayServer, p.a.sink, kT0 + 5ms);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(is_relayed(p.a.sink.sent[0]));
  CHECK(type_of(unwrap(p.a.sink.sent[0])) == wire::MessageType::handshake_init);
  p.pump(kT0 + 6ms);
  check_on_relay(b_at_a);
  check_on_relay(a_at_b);
  // The resend was not a failed attempt: the tunnel is up and nothing more is sent for it.
  p.clear_sinks();
  p.a.engine.on_relay_bound(kRelayServer, p.a.sink, kT0 + 7ms);
  CHECK(p.a.sink.sent.empty());
}

TEST_CASE("direct() leaves a working tunnel as it is", "[tunnel][path]") {
  PathPair p;
  p.a_direct(kT0);
  p.pump(kT0);
  p.clear_sinks();
  const PeerState before = state_of(p.b_at_a());
  REQUIRE(before.has_session);
  p.a_direct(kT0 + 1s);
  p.a.engine.direct(p.b_at_a(), {}, PathPair::relay(), p.a.sink, kT0 + 1s);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.a.sink.events.empty());
  const PeerState after = state_of(p.b_at_a());
  CHECK(after.session_path_id == before.session_path_id);
  CHECK(after.path == PathKind::direct);
  CHECK(after.endpoint == p.b.endpoint);
}

// --- probes and upgrades ---

TEST_CASE("a relayed tunnel probes its candidates directly and upgrades when one answers",
          "[tunnel][path]") {
  PathPair p;
  auto [b_at_a, a_at_b] = p.peers();
  const TimePoint up = p.establish_relayed(kT0);

  // Nothing before kDirectProbeInterval.
  for (auto t = up + 100ms; t < up + kDirectProbeInterval; t += 100ms) p.a.tick(t);
  CHECK(p.a.sink.sent.empty());
  CHECK_FALSE(state_of(b_at_a).pending);

  // The NAT now lets datagrams through. The probe: one init, to every candidate, not wrapped.
  p.open_direct();
  const TimePoint probe = up + kDirectProbeInterval;
  const uint64_t sent_before = p.a.engine.stats().packets_sent;
  p.a.tick(probe);
  const auto candidates = p.b.candidates();
  check_init_to_each(p.a.sink.sent, candidates);
  CHECK(p.a.engine.stats().packets_sent == sent_before + candidates.size());
  CHECK(p.a.sink.events.empty());
  CHECK(state_of(b_at_a).probing);
  CHECK(state_of(b_at_a).path == PathKind::relay);  // still relayed until answered

  // B answers straight back; A upgrades.
  REQUIRE(p.a_to_b(probe) == 1);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(p.b.sink.sent[0].to == p.a.endpoint);
  CHECK(type_of(p.b.sink.sent[0].bytes) == wire::MessageType::handshake_response);
  REQUIRE(p.b_to_a(probe + 1ms) == 1);
  const EngineEvent* changed = find_event(p.a.sink, EngineEventType::path_changed);
  REQUIRE(changed != nullptr);
  CHECK(changed->peer == b_at_a.shared().get());
  CHECK(changed->path == PathKind::direct);
  CHECK(changed->endpoint == p.b.endpoint);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  PeerState s = state_of(b_at_a);
  CHECK(s.path == PathKind::direct);
  CHECK(s.endpoint == p.b.endpoint);
  CHECK(s.endpoint_confirmed);
  CHECK_FALSE(s.pending);
  // A's hello on the new session goes direct, and B follows on it.
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].to == p.b.endpoint);
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::data);
  p.pump(probe + 2ms);
  s = state_of(a_at_b);
  CHECK(s.path == PathKind::direct);
  CHECK(s.endpoint == p.a.endpoint);
  changed = find_event(p.b.sink, EngineEventType::path_changed);
  REQUIRE(changed != nullptr);
  CHECK(changed->path == PathKind::direct);
  CHECK(changed->endpoint == p.a.endpoint);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 0);

  // Data now goes direct both ways.
  p.clear_sinks();
  p.reset_counts();
  for (uint32_t i = 0; i < 10; ++i) {
    const Bytes ab = ipv4_packet(p.a.vip4, p.b.vip4, 30, 100 + i);
    REQUIRE(p.a.send(ab, probe + 1s) == SendResult::sent);
    REQUIRE(p.a.sink.sent.size() == 1);
    CHECK(p.a.sink.sent[0].to == p.b.endpoint);
    CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::data);
    p.pump(probe + 1s);
    p.exchange(probe + 1s, 200 + i * 2);
  }
  CHECK(p.direct == 30);
  CHECK(p.relayed == 0);

  // A direct tunnel does not probe.
  p.clear_sinks();
  for (auto t = probe + 1s; t <= probe + 3 * kDirectProbeInterval; t += 500ms) p.a.tick(t);
  for (const auto& d : p.a.sink.sent) CHECK(type_of(d.bytes) != wire::MessageType::handshake_init);
  CHECK(state_of(b_at_a).path == PathKind::direct);
}

TEST_CASE("an unanswered direct probe is dropped quietly and the relayed tunnel keeps working",
          "[tunnel][path]") {
  PathPair p;
  auto [b_at_a, a_at_b] = p.peers();
  const TimePoint up = p.establish_relayed(kT0);
  const uint32_t session = state_of(b_at_a).session_path_id;

  const TimePoint probe = up + kDirectProbeInterval;
  p.a.tick(probe);
  REQUIRE(p.a.sink.sent.size() == 2);
  CHECK(p.a_to_b(probe) == 0);  // lost on the way
  REQUIRE(state_of(b_at_a).probing);

  // Relayed data still flows while the probe waits.
  p.exchange(probe + 100ms, 1);
  CHECK(p.relayed == 2);

  // At kHandshakeRetryInterval the probe is forgotten: no retry, no event, no failure.
  p.a.tick(probe + kHandshakeRetryInterval);
  CHECK(state_of(b_at_a).probing);
  p.a.tick(probe + kJustAfterRetry);
  CHECK(p.a.sink.sent.empty());
  CHECK(p.a.sink.events.empty());
  CHECK(p.a.engine.stats().handshakes_failed == 0);
  PeerState s = state_of(b_at_a);
  CHECK_FALSE(s.pending);
  CHECK(s.has_session);
  CHECK(s.session_path_id == session);
  CHECK(s.path == PathKind::relay);
  CHECK(s.endpoint == kRelayServer);

  p.exchange_via(PathKind::relay, 5, probe + 1s, 0ms, 10);

  // The next probe comes kDirectProbeInterval after the last one, and again and again.
  int probes = 0;
  for (auto t = probe + 1s; t <= probe + 3 * kDirectProbeInterval; t += 100ms) {
    p.tick(t);
    for (const auto& d : p.a.sink.sent) {
      if (type_of(d.bytes) == wire::MessageType::handshake_init) {
        CHECK(d.to != kRelayServer);
        ++probes;
      }
    }
    p.pump(t);  // direct datagrams are lost
  }
  CHECK(probes == 3 * 2);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.a.engine.stats().handshakes_failed == 0);
  CHECK(state_of(b_at_a).path == PathKind::relay);
  CHECK(state_of(a_at_b).path == PathKind::relay);
  p.exchange(probe + 3 * kDirectProbeInterval + 1ms, 50);
}

TEST_CASE("a direct probe that reaches the peer but is not answered leaves both ends relayed",
          "[tunnel][path]") {
  // A's datagrams reach B directly, B's do not reach A: the direct path only works one way.
  PathPair p;
  auto [b_at_a, a_at_b] = p.peers();
  const TimePoint up = p.establish_relayed(kT0);
  p.open_a_to_b = true;

  const TimePoint probe = up + kDirectProbeInterval;
  p.a.tick(probe);
  REQUIRE(p.a_to_b(probe) == 1);
  CHECK(p.b_to_a(probe) == 0);  // B's answer is lost
  p.a.tick(probe + kJustAfterRetry);
  CHECK(p.a.sink.events.empty());

  // Neither end has moved: B must not send into a path nobody proved works back to A.
  CHECK(state_of(b_at_a).path == PathKind::relay);
  PeerState s = state_of(a_at_b);
  CHECK(s.path == PathKind::relay);
  CHECK(s.endpoint == kRelayServer);
  CHECK(p.b.sink.count(EngineEventType::path_changed) == 0);

  p.clear_sinks();
  p.exchange_via(PathKind::relay, 5, probe + 1s, 0ms, 0);
}

TEST_CASE("a relayed straggler after the upgrade does not pull the path back to the relay",
          "[tunnel][path]") {
  PathPair p;
  auto [b_at_a, a_at_b] = p.peers();
  const TimePoint up = p.establish_relayed(kT0);

  // Packets still on their way through the relay when the path goes direct.
  REQUIRE(p.b.send(ipv4_packet(p.b.vip4, p.a.vip4, 20, 1), up + 1s) == SendResult::sent);
  REQUIRE(p.a.send(ipv4_packet(p.a.vip4, p.b.vip4, 20, 2), up + 1s) == SendResult::sent);
  REQUIRE(p.b.sink.sent.size() == 1);
  REQUIRE(p.a.sink.sent.size() == 1);
  const Bytes to_a = unwrap(p.b.sink.sent[0]);
  const Bytes to_b = unwrap(p.a.sink.sent[0]);
  p.clear_sinks();

  p.open_direct();
  const TimePoint probe = up + kDirectProbeInterval;
  p.a.tick(probe);
  p.pump(probe);
  REQUIRE(state_of(b_at_a).path == PathKind::direct);
  REQUIRE(state_of(a_at_b).path == PathKind::direct);
  p.clear_sinks();

  // The stragglers arrive through the relay: delivered, but the paths stay direct.
  p.a.receive(to_a, kRelayServer, probe + 100ms, kRelayId);
  p.b.receive(to_b, kRelayServer, probe + 100ms, kRelayId);
  REQUIRE(p.a.sink.delivered.size() == 1);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.a.sink.events.empty());
  CHECK(p.b.sink.events.empty());
  PeerState s = state_of(b_at_a);
  CHECK(s.path == PathKind::direct);
  CHECK(s.endpoint == p.b.endpoint);
  s = state_of(a_at_b);
  CHECK(s.path == PathKind::direct);
  CHECK(s.endpoint == p.a.endpoint);

  p.reset_counts();
  p.exchange(probe + 200ms, 10);
  CHECK(p.direct == 2);
  CHECK(p.relayed == 0);

  // A relayed packet long after the last direct one means the peer went back to the relay (its
  // direct path died): then the path follows it.
  const TimePoint much_later = probe + 200ms + kDirectProbeInterval + 1ms;
  p.clear_sinks();
  REQUIRE(p.b.send(ipv4_packet(p.b.vip4, p.a.vip4, 20, 3), much_later) == SendResult::sent);
  REQUIRE(p.b.sink.sent.size() == 1);
  p.a.receive(p.b.sink.sent[0].bytes, kRelayServer, much_later, kRelayId);
  REQUIRE(p.a.sink.delivered.size() == 1);
  const EngineEvent* back = find_event(p.a.sink, EngineEventType::path_changed);
  REQUIRE(back != nullptr);
  CHECK(back->path == PathKind::relay);
  CHECK(back->endpoint == kRelayServer);
  s = state_of(b_at_a);
  CHECK(s.path == PathKind::relay);
  CHECK(s.endpoint == kRelayServer);
}

// --- failures that must not take a tunnel down ---

TEST_CASE("a failed rekey keeps the current session usable and reports no tunnel_down",
          "[tunnel][path]") {
  EnginePair p;
  p.establish(kT0);
  auto b_at_a = p.peer_b_at_a();
  const uint32_t session = EnginePair::current_path_id(b_at_a);
  TimePoint now = kT0 + kRekeyAfterTime + 1s;
  REQUIRE(p.a.send(p.a_to_b_v4(20, 1), now) == SendResult::sent);
  REQUIRE(p.a.sink.sent.size() == 2);
  CHECK(type_of(p.a.sink.sent[0].bytes) == wire::MessageType::handshake_init);
  p.a.sink.sent.erase(p.a.sink.sent.begin());  // the init is lost; the data is not
  REQUIRE(p.a_to_b(now) == 1);
  REQUIRE(p.b.sink.delivered.size() == 1);

  // Every retry is lost too.
  for (int attempt = 2; attempt <= kHandshakeMaxAttempts + 1; ++attempt) {
    now += kJustAfterRetry;
    p.tick(now);
    p.a.sink.sent.clear();
    p.b.sink.sent.clear();
  }
  CHECK(p.a.engine.stats().handshakes_failed == 1);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 0);
  REQUIRE(now < kT0 + kRejectAfterTime);
  {
    std::lock_guard lock(b_at_a->mutex);
    REQUIRE(b_at_a->current);
    CHECK(b_at_a->current->local_path_id == session);
    CHECK_FALSE(b_at_a->pending);
  }

  // The old session still carries data both ways.
  p.a.sink.clear();
  p.b.sink.clear();
  REQUIRE(p.b.send(p.b_to_a_v4(20, 2), now) == SendResult::sent);
  REQUIRE(p.b_to_a(now) == 1);
  REQUIRE(p.a.sink.delivered.size() == 1);
  CHECK(p.a.sink.delivered[0] == p.b_to_a_v4(20, 2));
  // The next packet from A tries the rekey again, and this time it gets through.
  REQUIRE(p.a.send(p.a_to_b_v4(20, 3), now) == SendResult::sent);
  CHECK(type_of(p.a.sink.sent.at(0).bytes) == wire::MessageType::handshake_init);
  p.pump(now);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0] == p.a_to_b_v4(20, 3));
  CHECK(EnginePair::current_path_id(b_at_a) != session);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
}

TEST_CASE("a responder that alone sends rekeys its tunnel before kRejectAfterTime",
          "[tunnel][path]") {
  EnginePair p(PairOptions{std::chrono::hours(1), true});
  p.establish(kT0);  // A initiated; from now on only B sends data
  uint32_t seed = 0;
  every_5s_past_reject_after_time(p, [&](TimePoint now) {
    const Bytes packet = p.b_to_a_v4(20, ++seed);
    p.a.sink.delivered.clear();
    REQUIRE(p.b.send(packet, now) == SendResult::sent);
    p.pump(now);
    REQUIRE(p.a.sink.delivered.size() == 1);
    CHECK(p.a.sink.delivered[0] == packet);
  });
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.b.sink.count(EngineEventType::tunnel_down) == 0);
  CHECK(p.b.engine.stats().handshakes_completed >= 3);
}

TEST_CASE("a punched tunnel whose session ends does not fall back to the relay afterwards",
          "[tunnel][path]") {
  PathPair p(30s);
  auto b_at_a = p.b_at_a();
  p.a_direct(kT0);
  p.pump(kT0);
  REQUIRE(state_of(b_at_a).path == PathKind::direct);
  p.clear_sinks();

  // Idle: the session goes, with one tunnel_down; the relay stays unused.
  for (auto t = kT0; t <= kT0 + 40s; t += 100ms) p.tick(t);
  CHECK(p.a.sink.count(EngineEventType::tunnel_down) == 1);
  CHECK(p.a.sink.count(EngineEventType::path_changed) == 0);
  CHECK(p.a.sink.sent.empty());
  PeerState s = state_of(b_at_a);
  CHECK_FALSE(s.has_session);
  CHECK_FALSE(s.pending);
  CHECK(s.path == PathKind::direct);
  CHECK(s.endpoint == p.b.endpoint);

  // New traffic handshakes on the direct path it knows.
  p.clear_sinks();
  REQUIRE(p.a.send(ipv4_packet(p.a.vip4, p.b.vip4, 20, 1), kT0 + 41s) == SendResult::queued);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].to == p.b.endpoint);
  p.pump(kT0 + 41s);
  REQUIRE(p.b.sink.delivered.size() == 1);
}

}  // namespace
}  // namespace ntm::tunnel::test
