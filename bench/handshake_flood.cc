// ntm-handshake-flood: how many handshake inits per second one node can absorb when a flood
// hits it, without and with the cookie mechanism (docs/protocol.md 2.4), in the same run.
//
// The flood is what anyone who knows a node's mac1 key can send (in static-peer mode: anyone who
// knows its public key): inits that pass mac1, from forged source addresses, whose contents are
// junk. Every such init reaching the public-key step costs the node Diffie-Hellman work before it
// fails. The node here is the tunnel engine alone on one thread (no sockets, so the figure is CPU
// per init, the quantity a flood exhausts); a real peer starts a handshake in the middle of the
// flood and must get its tunnel.
//
//   ntm-handshake-flood [--inits N] [--only before|after]   (default 20000 inits per mode)
// Prints one row per mode: inits handled per second, microseconds per init, how many reached
// the public-key step, cookie replies sent, and whether the real peer's tunnel came up. Exits
// non-zero if a property does not hold (the real peer's tunnel must come up in both modes, and
// with cookies at most the node's burst of inits may reach the public-key step).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crypto/random.h"
#include "crypto/x25519.h"
#include "tunnel/constants.h"
#include "tunnel/cookie.h"
#include "tunnel/engine.h"
#include "wire/constants.h"
#include "wire/handshake.h"

namespace {

using namespace ntm;
using namespace ntm::tunnel;
using Bytes = std::vector<uint8_t>;
using SteadyClock = std::chrono::steady_clock;

// A sink that keeps the last datagram (the real peer needs the node's answers).
class Sink final : public EngineSink {
 public:
  std::span<uint8_t> datagram_buffer(size_t size) override {
    buffer_.resize(size);
    return buffer_;
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    auto first = buffer_.begin() + static_cast<ptrdiff_t>(offset);
    sent.push_back({to, Bytes(first, first + static_cast<ptrdiff_t>(length))});
  }
  void deliver(std::span<const uint8_t>) override {}
  void event(const EngineEvent&) override {}

  struct Sent {
    Endpoint to;
    Bytes bytes;
  };
  std::vector<Sent> sent;

 private:
  Bytes buffer_;
};

struct Row {
  const char* mode;
  double seconds;
  double inits_per_s;
  double us_per_init;
  uint64_t public_key_work;
  uint64_t cookie_replies;
  bool peer_tunnel_up;
};

Row run(const char* mode, const HandshakeLimits& limits, size_t inits) {
  const auto node_key = crypto::x25519_generate();
  const auto peer_key = crypto::x25519_generate();
  const Endpoint node_at = Endpoint::v4({192, 0, 2, 1}, 51820);
  const Endpoint peer_at = Endpoint::v4({192, 0, 2, 2}, 51820);

  TunnelTable node_table;
  EngineConfig node_config;
  node_config.static_key = node_key;
  node_config.handshake_limits = limits;
  Engine node(node_config, node_table);
  PeerIdentity peer_id;
  peer_id.node_id = 2;
  peer_id.fqdn = "peer.bench";
  peer_id.vip4 = Ipv4{100, 64, 0, 2};
  peer_id.static_public = peer_key.public_key;
  node_table.add(peer_id, true);

  TunnelTable peer_table;
  EngineConfig peer_config;
  peer_config.static_key = peer_key;
  Engine peer(peer_config, peer_table);
  PeerIdentity node_id;
  node_id.node_id = 1;
  node_id.fqdn = "node.bench";
  node_id.vip4 = Ipv4{100, 64, 0, 1};
  node_id.static_public = node_key.public_key;
  auto node_at_peer = peer_table.add(node_id, true);
  {
    std::lock_guard lock(node_at_peer->mutex);
    node_at_peer->endpoint = node_at;
    node_at_peer->path = PathKind::direct;
  }

  // The flood, prepared before the clock starts: valid mac1, junk behind it, forged sources.
  const MacKey mac1_key = mac1_key_from_public(node_key.public_key);
  std::vector<Bytes> flood(inits, Bytes(wire::kHandshakeInitSize));
  std::vector<Endpoint> sources(inits);
  for (size_t i = 0; i < inits; ++i) {
    Bytes& d = flood[i];
    crypto::random_bytes(d);
    d[0] = static_cast<uint8_t>(wire::MessageType::handshake_init);
    d[2] = d[3] = 0;
    const Mac mac1 = compute_mac(mac1_key, std::span(d).first(wire::kHandshakeInitMacOffset));
    std::memcpy(&d[wire::kHandshakeInitMacOffset], mac1.data(), mac1.size());
    sources[i] = Endpoint::v4({198, 18, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)},
                              static_cast<uint16_t>(1024 + i % 60000));
  }

  Sink node_sink, peer_sink;
  auto now = TimePoint{} + std::chrono::hours(24);
  const size_t peer_starts_at = inits / 2;
  const auto started = SteadyClock::now();
  for (size_t i = 0; i < inits; ++i) {
    Bytes copy = flood[i];
    node.receive(copy, sources[i], node_sink, now);
    node_sink.sent.clear();  // the flood's sources are forged: nobody reads the answers
    if (i == peer_starts_at) {
      // The real peer handshakes in the middle of the flood; the messages go both ways at once
      // (the flood continues right after).
      peer.connect(node_at_peer, peer_sink, now);
      for (int round = 0; round < 4; ++round) {
        auto to_node = std::move(peer_sink.sent);
        peer_sink.sent.clear();
        for (auto& d : to_node) node.receive(d.bytes, peer_at, node_sink, now);
        auto to_peer = std::move(node_sink.sent);
        node_sink.sent.clear();
        for (auto& d : to_peer) peer.receive(d.bytes, node_at, peer_sink, now);
      }
    }
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
  const auto& s = node.stats();
  bool up = false;
  {
    std::lock_guard lock(node_at_peer->mutex);
    up = node_at_peer->current != nullptr;
  }
  // Junk that reached the public-key step fails there (dropped_auth); the real peer's init does
  // not, so it counts separately.
  const uint64_t public_key_work = s.dropped_auth.load() + s.handshakes_completed.load() +
                                   (up ? 1 : 0);
  return {mode, seconds, static_cast<double>(inits) / seconds, seconds * 1e6 / static_cast<double>(inits),
          public_key_work, s.cookie_replies_sent.load(), up};
}

}  // namespace

int main(int argc, char** argv) {
  size_t inits = 20000;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--inits") == 0 && i + 1 < argc) {
      inits = std::strtoul(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: ntm-handshake-flood [--inits N] [--only before|after]\n");
      return 2;
    }
  }
  if (inits < 2) inits = 2;
  const HandshakeLimits unlimited{1e12, 1e12, 1e12, 1e12, 1u << 20};
  const HandshakeLimits defaults = default_handshake_limits();
  std::printf("handshake flood: %zu inits with a valid mac1 from forged sources, one thread, "
              "engine only\n",
              inits);
  std::printf("%-26s %12s %10s %16s %15s %12s\n", "mode", "inits/s", "us/init",
              "public-key work", "cookie replies", "peer tunnel");
  bool ok = true;
  for (const bool cookies : {false, true}) {
    if (only == (cookies ? "before" : "after")) continue;
    const Row r = run(cookies ? "cookies (after)" : "no cookies (before)",
                      cookies ? defaults : unlimited, inits);
    std::printf("%-26s %12.0f %10.2f %16llu %15llu %12s\n", r.mode, r.inits_per_s, r.us_per_init,
                static_cast<unsigned long long>(r.public_key_work),
                static_cast<unsigned long long>(r.cookie_replies), r.peer_tunnel_up ? "up" : "DOWN");
    ok = ok && r.peer_tunnel_up;
    // With cookies, the node's budget bounds the public-key work: its burst plus its rate over
    // the run (plus the real peer's two inits).
    const double budget = defaults.burst + defaults.rate * r.seconds + 2;
    if (cookies && static_cast<double>(r.public_key_work) > budget) {
      std::printf("  with cookies, %llu inits reached the public-key step (budget %.0f)\n",
                  static_cast<unsigned long long>(r.public_key_work), budget);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
