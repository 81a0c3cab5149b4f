// An idle node sleeps: its receiver thread waits for datagrams or the next timer that is due,
// not on a fixed tick (it made ~50 wake-ups a second, and with a wait truncated to 0 ms before
// each tick thousands). Counted with NodeStats::receiver_wakeups over a bounded window, with
// generous bounds: the failure this catches is a factor of 100 or more, not a few wake-ups.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "io/udp_transport.h"
#include "node/node.h"
#include "tunnel/engine.h"

namespace ntm::node {
namespace {

using namespace std::chrono_literals;

// The other end of a tunnel, in the test process: an engine on its own loopback UDP socket,
// with a thread that receives. It sends no keepalives of its own.
class TestPeer final : public tunnel::EngineSink {
 public:
  TestPeer() : key_(crypto::x25519_generate()), engine_(config(key_), table_) {
    io::UdpOptions udp;
    udp.bind_v4 = Endpoint::parse("127.0.0.1:0");
    udp.enable_v6 = false;
    transport_ = io::UdpTransport::open(udp);
    thread_ = std::thread([this] { run(); });
  }
  ~TestPeer() override {
    stop_.store(true);
    transport_->wake();
    thread_.join();
  }

  const crypto::X25519KeyPair& key() const { return key_; }
  Endpoint endpoint() const { return transport_->local_endpoints().at(0); }
  uint64_t received() const { return received_.load(); }

  // Adds the node as a peer and starts a handshake to it.
  void connect(const crypto::X25519Key& node_key, const Endpoint& node_endpoint) {
    tunnel::PeerIdentity id;
    id.node_id = node_id_from_key(node_key);
    id.fqdn = "node.test";
    id.vip4 = std::array<uint8_t, 4>{100, 64, 0, 1};
    id.static_public = node_key;
    auto ref = table_.add(std::move(id), true);
    REQUIRE(ref);
    {
      std::lock_guard lock(ref->mutex);
      ref->endpoint = node_endpoint;
      ref->path = tunnel::PathKind::direct;
    }
    engine_.connect(ref, *this, tunnel::Clock::now());
  }

  std::span<uint8_t> datagram_buffer(size_t size) override {
    thread_local std::vector<uint8_t> buffer;
    buffer.resize(size);
    last_ = buffer.data();
    return buffer;
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    io::OutgoingDatagram d{to, std::span<const uint8_t>(last_ + offset, length)};
    transport_->send_batch(std::span(&d, 1));
  }
  void deliver(std::span<const uint8_t>) override {}
  void event(const tunnel::EngineEvent&) override {}

 private:
  static tunnel::EngineConfig config(const crypto::X25519KeyPair& key) {
    tunnel::EngineConfig c;
    c.static_key = key;
    return c;
  }
  void run() {
    std::vector<uint8_t> storage(2048);
    io::ReceiveSlot slot;
    slot.buffer = storage;
    while (!stop_.load()) {
      if (transport_->receive(std::span(&slot, 1), 100ms) == 0) continue;
      received_.fetch_add(1);
      engine_.receive(std::span(storage).first(slot.length), slot.from, *this,
                      tunnel::Clock::now());
    }
  }

  crypto::X25519KeyPair key_;
  tunnel::TunnelTable table_;
  tunnel::Engine engine_;
  std::unique_ptr<io::UdpTransport> transport_;
  static thread_local uint8_t* last_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

thread_local uint8_t* TestPeer::last_ = nullptr;

NodeConfig node_config(const TestPeer& peer, std::chrono::milliseconds keepalive) {
  NodeConfig c;
  c.name = "node.test";
  c.key = crypto::x25519_generate();
  c.vip4 = std::array<uint8_t, 4>{100, 64, 0, 1};
  c.listen_v4 = Endpoint::parse("127.0.0.1:0");
  c.listen_v6.reset();
  c.keepalive_interval = keepalive;
  StaticPeer p;
  p.name = "peer.test";
  p.public_key = peer.key().public_key;
  p.endpoint = peer.endpoint();
  p.vip4 = std::array<uint8_t, 4>{100, 64, 0, 2};
  c.peers.push_back(p);
  return c;
}

uint64_t wakeups(const Node& node) { return node.stats().receiver_wakeups; }

TEST_CASE("an idle node's receiver sleeps: no tunnel, no timers, (almost) no wake-ups",
          "[node]") {
  TestPeer peer;
  auto node = Node::start(node_config(peer, 25s));
  std::this_thread::sleep_for(300ms);  // start-up work (the first timer round) is done
  const uint64_t before = wakeups(*node);
  std::this_thread::sleep_for(1500ms);  // the window measured
  const uint64_t woke = wakeups(*node) - before;
  INFO("receiver wake-ups in 1.5 s: " << woke);
  CHECK(woke <= 3);  // a 20 ms tick makes 75; the busy poll thousands
}

TEST_CASE("a node with a tunnel up wakes for its keepalives, one per keepalive_interval",
          "[node]") {
  TestPeer peer;
  auto node = Node::start(node_config(peer, 1000ms));
  peer.connect(node->info().public_key, node->info().endpoints.at(0));
  // Bounded wait for the tunnel (the node is the responder; the peer's first packet confirms).
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  auto up = [&] {
    auto t = node->tunnels();
    return !t.empty() && t[0].state == 2;
  };
  while (!up() && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(10ms);
  REQUIRE(up());
  std::this_thread::sleep_for(300ms);
  const uint64_t woke_before = wakeups(*node);
  const uint64_t got_before = peer.received();
  std::this_thread::sleep_for(3500ms);
  const uint64_t woke = wakeups(*node) - woke_before;
  const uint64_t keepalives = peer.received() - got_before;
  INFO("in 3.5 s: " << woke << " receiver wake-ups, " << keepalives << " keepalives sent");
  // keepalive_interval takes effect: about one a second (3 or 4 in the window, some slack).
  CHECK(keepalives >= 2);
  CHECK(keepalives <= 5);
  // One timed wake-up per keepalive, a few to spare; a fixed tick would make 175.
  CHECK(woke <= keepalives + 4);
}

}  // namespace
}  // namespace ntm::node
