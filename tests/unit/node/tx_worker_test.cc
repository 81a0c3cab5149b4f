// The TX path off lwIP's thread: capsules committed unsealed to a thread's batch are sealed
// before they leave - by the TX worker, or by the committing thread when the worker is behind -
// and every one opens with the session's key on the other side, in any order they arrive.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "crypto/aead.h"
#include "node/tx_batch.h"
#include "node/tx_worker.h"
#include "tunnel/constants.h"
#include "wire/capsule.h"

namespace ntm::node {
namespace {

using namespace std::chrono_literals;

// Records what is sent; can hold the sender (the worker) back to fill its queue.
class RecordingTransport final : public io::Transport {
 public:
  void send_batch(std::span<const io::OutgoingDatagram> datagrams) override {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !held_; });
    for (const auto& d : datagrams) sent_.emplace_back(d.bytes.begin(), d.bytes.end());
    changed_.notify_all();
  }
  size_t receive(std::span<io::ReceiveSlot>, std::chrono::milliseconds) override { return 0; }
  void wake() override {}
  std::vector<Endpoint> local_endpoints() const override { return {}; }

  void hold(bool on) {
    std::lock_guard lock(mutex_);
    held_ = on;
    changed_.notify_all();
  }
  // Waits (bounded) until `n` datagrams were sent; returns them.
  std::vector<std::vector<uint8_t>> wait_for(size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return sent_.size() >= n; });
    return sent_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  std::vector<std::vector<uint8_t>> sent_;
};

std::shared_ptr<tunnel::Session> session(const tunnel::HandshakeKeys& keys) {
  return std::make_shared<tunnel::Session>(1, 2, crypto::AeadAlgorithm::aes_256_gcm, keys, true,
                                           tunnel::Clock::now());
}

// Builds capsule `counter` (payload: the counter repeated) in the batch, unsealed.
void add_capsule(TxBatch& batch, const std::shared_ptr<tunnel::Session>& s, uint64_t counter,
                 io::Transport& transport, TxWorker* worker) {
  constexpr size_t kInner = 100;
  auto buffer = batch.buffer(tunnel::kDatagramHeadroom + kInner + tunnel::kDatagramTailroom,
                             transport, worker);
  auto capsule = buffer.subspan(tunnel::kRelayHeaderRoom);
  wire::encode_capsule_header({0, 2, counter}, capsule.first<wire::kCapsuleHeaderSize>());
  std::fill_n(capsule.begin() + wire::kCapsuleHeaderSize, kInner, static_cast<uint8_t>(counter));
  tunnel::UnsealedCapsule c{s, counter, tunnel::kRelayHeaderRoom, kInner};
  REQUIRE(batch.commit_unsealed(Endpoint::v4({127, 0, 0, 1}, 9), tunnel::kRelayHeaderRoom,
                                wire::kCapsuleHeaderSize + kInner + wire::kTagSize, std::move(c),
                                transport, worker));
}

// Opens every datagram with the session's key; returns the counters found, sorted.
std::vector<uint64_t> open_all(const std::vector<std::vector<uint8_t>>& sent,
                               const tunnel::HandshakeKeys& keys) {
  crypto::Aead receiver(crypto::AeadAlgorithm::aes_256_gcm, keys.send_key);
  std::vector<uint64_t> counters;
  for (auto d : sent) {
    auto header = wire::decode_capsule_header(d);
    REQUIRE(header);
    auto body = std::span(d).subspan(wire::kCapsuleHeaderSize);
    auto n = receiver.open(wire::capsule_nonce(header.value().counter),
                           std::span(d).first(wire::kCapsuleHeaderSize), body, body);
    REQUIRE(n);  // sealed, with the right key and nonce
    CHECK(std::all_of(body.begin(), body.begin() + static_cast<long>(*n), [&](uint8_t b) {
      return b == static_cast<uint8_t>(header.value().counter);
    }));
    counters.push_back(header.value().counter);
  }
  std::sort(counters.begin(), counters.end());
  return counters;
}

TEST_CASE("unsealed capsules leave sealed through the TX worker, batches in order", "[node]") {
  tunnel::HandshakeKeys keys;
  keys.send_key.fill(7);
  keys.recv_key.fill(9);
  auto s = session(keys);
  RecordingTransport transport;
  TxWorker worker(transport);
  TxBatch batch;
  const size_t total = TxBatch::kSlots * 3 + TxWorker::kMinBatch;  // full ones hand off themselves
  for (uint64_t i = 0; i < total; ++i) add_capsule(batch, s, i, transport, &worker);
  batch.flush(transport, &worker);
  CHECK(batch.empty());
  const auto sent = transport.wait_for(total);
  REQUIRE(sent.size() == total);
  CHECK(worker.batches() == 4);
  const auto counters = open_all(sent, keys);
  for (uint64_t i = 0; i < total; ++i) CHECK(counters[i] == i);
  // One worker: the batches of one thread leave in the order they were made.
  auto first = wire::decode_capsule_header(sent.front());
  auto last = wire::decode_capsule_header(sent.back());
  CHECK(first.value().counter == 0);
  CHECK(last.value().counter == total - 1);
}

TEST_CASE("when the TX worker is behind, the committing thread seals and sends itself",
          "[node]") {
  tunnel::HandshakeKeys keys;
  keys.send_key.fill(3);
  auto s = session(keys);
  RecordingTransport transport;
  transport.hold(true);  // the worker blocks in its first send
  TxWorker worker(transport);
  TxBatch batch;
  // The worker takes one batch and blocks; kMaxQueued more wait; the next ones are refused and
  // must be sent by this thread - which blocks too while the transport is held, so a thread
  // releases it after a moment.
  const size_t batches = TxWorker::kMaxQueued + 3;
  std::thread release([&] {
    std::this_thread::sleep_for(200ms);
    transport.hold(false);
  });
  const size_t per_batch = TxWorker::kMinBatch;
  for (uint64_t b = 0; b < batches; ++b) {
    for (uint64_t i = 0; i < per_batch; ++i) add_capsule(batch, s, b * per_batch + i, transport, &worker);
    batch.flush(transport, &worker);
  }
  release.join();
  const auto sent = transport.wait_for(batches * per_batch);
  REQUIRE(sent.size() == batches * per_batch);
  CHECK(worker.batches() < batches);  // some went the inline way
  const auto counters = open_all(sent, keys);
  for (uint64_t i = 0; i < batches * per_batch; ++i) CHECK(counters[i] == i);
}

TEST_CASE("a small batch (a ping, a lone ACK) is sealed and sent at once, without the worker",
          "[node]") {
  tunnel::HandshakeKeys keys;
  keys.send_key.fill(5);
  auto s = session(keys);
  RecordingTransport transport;
  TxWorker worker(transport);
  TxBatch batch;
  add_capsule(batch, s, 42, transport, &worker);
  batch.flush(transport, &worker);
  CHECK(worker.batches() == 0);
  const auto sent = transport.wait_for(1);
  REQUIRE(sent.size() == 1);
  CHECK(open_all(sent, keys) == std::vector<uint64_t>{42});
}

}  // namespace
}  // namespace ntm::node
