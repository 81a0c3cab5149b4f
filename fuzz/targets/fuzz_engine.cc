// Fuzz target "engine": the tunnel engine's receive path (core/tunnel) with two real engines, A
// and B, that have just completed a handshake (fresh for every input, so a crash replays). The
// first input byte picks what the rest is:
//   0  a datagram B receives from A's address (any type: inits, responses, cookies, capsules)
//   1  the same, arrived through a Relay Server (relay id 7)
//   2  an inner packet A sends B over their session, sealed with A's real keys - what an
//      authenticated but hostile peer can make B's engine look at after decryption
//   3  a datagram A (the initiator) receives from B's address
// B's engine must not crash, and whatever it delivers to its stack must come from A's virtual
// addresses (the AllowedIPs rule).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "crypto/x25519.h"
#include "fuzz_check.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "tunnel/inner_source.h"
#include "tunnel/peer.h"
#include "tunnel/tunnel_table.h"
#include "wire/capsule.h"
#include "wire/constants.h"

using namespace ntm;
using namespace ntm::tunnel;
using Bytes = std::vector<uint8_t>;

namespace {

const TimePoint kT0 = TimePoint{} + std::chrono::hours(24);

// Keeps what the engine sends (to forward it) and checks what it delivers.
class Sink final : public EngineSink {
 public:
  Sink() : buffer_(wire::kMaxDatagramSize + kDatagramHeadroom + kDatagramTailroom) {}
  std::span<uint8_t> datagram_buffer(size_t size) override {
    fuzz::check(size <= buffer_.size(), "datagram_buffer within the largest datagram");
    requested_ = size;
    return std::span(buffer_).first(size);
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    fuzz::check(offset + length <= requested_, "sent bytes inside the requested buffer");
    auto first = buffer_.begin() + static_cast<ptrdiff_t>(offset);
    sent.push_back({to, Bytes(first, first + static_cast<ptrdiff_t>(length))});
  }
  void deliver(std::span<const uint8_t> inner) override {
    fuzz::check(!from_peer || classify_inner_source(*from_peer, inner) == InnerSource::peer,
                "delivered inner packet comes from the peer's own addresses");
    ++delivered;
  }
  void event(const EngineEvent&) override {}

  struct Sent {
    Endpoint to;
    Bytes bytes;
  };
  std::vector<Sent> sent;
  size_t delivered = 0;
  const PeerIdentity* from_peer = nullptr;

 private:
  Bytes buffer_;
  size_t requested_ = 0;
};

crypto::X25519KeyPair fixed_pair(uint8_t fill) {
  crypto::X25519KeyPair p;
  p.private_key.fill(fill);
  p.public_key = crypto::x25519_public_from_private(p.private_key);
  return p;
}

struct Side {
  Side(uint8_t index, const crypto::X25519KeyPair& key)
      : engine(config(key), table),
        endpoint(Endpoint::v4({192, 0, 2, index}, static_cast<uint16_t>(51820 + index))) {
    identity.node_id = index;
    identity.fqdn = "node" + std::to_string(index) + ".test";
    identity.vip4 = Ipv4{100, 64, 0, index};
    Ipv6 v6{0xfd};
    v6[15] = index;
    identity.vip6 = v6;
    identity.static_public = key.public_key;
  }
  static EngineConfig config(const crypto::X25519KeyPair& key) {
    EngineConfig c;
    c.static_key = key;
    return c;
  }
  void receive(Bytes bytes, const Endpoint& from, TimePoint now,
               std::optional<uint32_t> relay_id = std::nullopt) {
    engine.receive(bytes, from, sink, now, relay_id);
  }

  TunnelTable table;
  Engine engine;
  Sink sink;
  Endpoint endpoint;
  PeerIdentity identity;
};

// Delivers what `from` sent to `to`'s address; returns how many datagrams moved.
size_t forward(Side& from, Side& to, TimePoint now) {
  std::vector<Sink::Sent> out;
  out.swap(from.sink.sent);
  size_t n = 0;
  for (auto& d : out) {
    if (d.to != to.endpoint) continue;
    to.receive(std::move(d.bytes), from.endpoint, now);
    ++n;
  }
  return n;
}

struct Pair {
  Pair() : a(1, keys().first), b(2, keys().second) {
    auto b_at_a = a.table.add(b.identity, true);
    {
      std::lock_guard lock(b_at_a->mutex);
      b_at_a->endpoint = b.endpoint;
    }
    a_at_b = b.table.add(a.identity, true);
    a.engine.connect(b_at_a, a.sink, kT0);
    for (int i = 0; i < 10 && forward(a, b, kT0) + forward(b, a, kT0) > 0; ++i) {
    }
    std::lock_guard lock(b_at_a->mutex);
    session = b_at_a->current;
    fuzz::check(session != nullptr, "the pair completes its handshake");
  }
  static const std::pair<crypto::X25519KeyPair, crypto::X25519KeyPair>& keys() {
    static const auto k = std::make_pair(fixed_pair(0x24), fixed_pair(0x42));
    return k;
  }

  // A seals `inner` as it would an inner packet and returns the capsule (tunnel_spoof tests do
  // the same: A's engine routes by destination, which fuzzed bytes rarely name).
  Bytes seal_from_a(std::span<const uint8_t> inner) {
    Bytes buffer(kDatagramHeadroom + inner.size() + kDatagramTailroom);
    std::copy(inner.begin(), inner.end(), buffer.begin() + kDatagramHeadroom);
    const auto capsule = std::span(buffer).subspan(kRelayHeaderRoom);
    std::lock_guard lock(session->send_mutex);
    const uint64_t counter = session->send_counter++;
    wire::encode_capsule_header(wire::CapsuleHeader{0, session->remote_path_id, counter},
                                capsule.first<wire::kCapsuleHeaderSize>());
    session->send_aead.seal(wire::capsule_nonce(counter), capsule.first(wire::kCapsuleHeaderSize),
                            capsule.subspan(wire::kCapsuleHeaderSize, inner.size()),
                            capsule.subspan(wire::kCapsuleHeaderSize, inner.size() + wire::kTagSize));
    return Bytes(capsule.begin(),
                 capsule.begin() + static_cast<ptrdiff_t>(wire::kCapsuleOverhead + inner.size()));
  }

  Side a, b;
  TunnelTable::Ref a_at_b;
  std::shared_ptr<Session> session;  // A's session with B
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > wire::kMaxDatagramSize) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  Pair p;
  p.b.sink.from_peer = &p.a.identity;
  const TimePoint now = kT0 + std::chrono::seconds(1);
  switch (data[0] % 4) {
    case 0:
      p.b.receive(Bytes(rest.begin(), rest.end()), p.a.endpoint, now);
      break;
    case 1:
      p.b.receive(Bytes(rest.begin(), rest.end()), Endpoint::v4({198, 51, 100, 1}, 7802), now, 7);
      break;
    case 2:
      if (rest.size() <= wire::kMaxInnerPacket) p.b.receive(p.seal_from_a(rest), p.a.endpoint, now);
      break;
    default:
      p.a.receive(Bytes(rest.begin(), rest.end()), p.b.endpoint, now);
      break;
  }
  // Whatever B answered goes back to A, and timers run once.
  forward(p.b, p.a, now);
  p.a.engine.tick(p.a.sink, now + std::chrono::seconds(1));
  p.b.engine.tick(p.b.sink, now + std::chrono::seconds(1));
  return 0;
}
