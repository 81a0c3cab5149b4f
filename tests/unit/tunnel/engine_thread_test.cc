// The tunnel engine under concurrent use: several threads send, receive and tick at once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "engine_harness.h"
#include "tunnel/engine.h"

namespace ntm::tunnel::test {
namespace {

// A sink several threads may use at once: each thread builds datagrams in its own buffer.
class ConcurrentSink final : public EngineSink {
 public:
  std::span<uint8_t> datagram_buffer(size_t size) override {
    Bytes& buffer = thread_buffer();
    buffer.assign(size, 0);
    return buffer;
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    Bytes& buffer = thread_buffer();
    std::lock_guard lock(mutex_);
    if (offset + length > buffer.size()) {  // no Catch assertions off the main thread
      ++overruns;
      return;
    }
    auto first = buffer.begin() + static_cast<ptrdiff_t>(offset);
    sent.push_back({to, Bytes(first, first + static_cast<ptrdiff_t>(length))});
  }
  void deliver(std::span<const uint8_t> inner) override {
    std::lock_guard lock(mutex_);
    delivered.emplace_back(inner.begin(), inner.end());
  }
  void event(const EngineEvent& e) override {
    std::lock_guard lock(mutex_);
    events.push_back(e);
  }

  std::vector<SentDatagram> sent;
  std::vector<Bytes> delivered;
  std::vector<EngineEvent> events;
  size_t overruns = 0;

 private:
  static Bytes& thread_buffer() {
    thread_local Bytes buffer;
    return buffer;
  }
  std::mutex mutex_;
};

constexpr uint32_t kThreads = 4;
constexpr uint32_t kPerThread = 400;  // 1600 in all: reordering stays inside the replay window

// Sends kThreads * kPerThread packets from as many threads; returns them, and in `failures`
// how many send_inner() did not report as sent. (No Catch assertions here: this runs off the
// main thread.)
std::vector<Bytes> send_from_threads(Node& node, ConcurrentSink& sink, const Ipv4& src,
                                     const Ipv4& dst, TimePoint now, int& failures) {
  std::vector<Bytes> expected;
  for (uint32_t t = 0; t < kThreads; ++t) {
    for (uint32_t i = 0; i < kPerThread; ++i) {
      expected.push_back(ipv4_packet(src, dst, 16 + i % 200, t * kPerThread + i));
    }
  }
  std::vector<std::thread> threads;
  std::vector<int> failed(kThreads, 0);
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t i = 0; i < kPerThread; ++i) {
        const Bytes& inner = expected[t * kPerThread + i];
        auto buffer = sink.datagram_buffer(kDatagramHeadroom + inner.size() + kDatagramTailroom);
        std::copy(inner.begin(), inner.end(), buffer.begin() + kDatagramHeadroom);
        if (node.engine.send_inner(buffer, inner.size(), sink, now) != SendResult::sent) {
          ++failed[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  failures = 0;
  for (int f : failed) failures += f;
  return expected;
}

void receive_from_threads(Node& node, ConcurrentSink& sink, const std::vector<SentDatagram>& in,
                          const Endpoint& from, TimePoint now) {
  std::vector<std::thread> threads;
  for (uint32_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < in.size(); i += kThreads) {
        Bytes copy = in[i].bytes;
        node.engine.receive(copy, from, sink, now);
      }
    });
  }
  for (auto& th : threads) th.join();
}

TEST_CASE("engine delivers every packet when many threads send and receive at once",
          "[tunnel]") {
  EnginePair p;
  p.establish(kT0);
  ConcurrentSink sink_a, sink_b;
  const TimePoint now = kT0 + 1s;

  std::vector<Bytes> a_to_b, b_to_a;
  std::thread ticker([&] {
    for (int i = 0; i < 50; ++i) {
      p.a.engine.tick(sink_a, now);
      p.b.engine.tick(sink_b, now);
    }
  });
  int failures_a = 0, failures_b = 0;
  std::thread from_a(
      [&] { a_to_b = send_from_threads(p.a, sink_a, p.a.vip4, p.b.vip4, now, failures_a); });
  std::thread from_b(
      [&] { b_to_a = send_from_threads(p.b, sink_b, p.b.vip4, p.a.vip4, now, failures_b); });
  from_a.join();
  from_b.join();
  ticker.join();
  CHECK(failures_a == 0);
  CHECK(failures_b == 0);

  const auto sent_a = sink_a.sent;
  const auto sent_b = sink_b.sent;
  std::thread into_b([&] { receive_from_threads(p.b, sink_b, sent_a, p.a.endpoint, now); });
  std::thread into_a([&] { receive_from_threads(p.a, sink_a, sent_b, p.b.endpoint, now); });
  into_b.join();
  into_a.join();

  auto sorted = [](std::vector<Bytes> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  CHECK(sink_a.overruns + sink_b.overruns == 0);
  CHECK(sorted(sink_b.delivered) == sorted(a_to_b));
  CHECK(sorted(sink_a.delivered) == sorted(b_to_a));
  CHECK(p.a.engine.stats().dropped_replay + p.b.engine.stats().dropped_replay == 0);
  CHECK(p.a.engine.stats().dropped_auth + p.b.engine.stats().dropped_auth == 0);
}

}  // namespace
}  // namespace ntm::tunnel::test
