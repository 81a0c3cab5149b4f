#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "io/memory_transport.h"

using namespace std::chrono_literals;
using ntm::Endpoint;
using ntm::io::MemoryNetwork;
using ntm::io::MemoryTransport;
using ntm::io::OutgoingDatagram;
using ntm::io::ReceiveSlot;
using Clock = std::chrono::steady_clock;

namespace {

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

struct Received {
  Endpoint from;
  std::vector<uint8_t> bytes;
};

// One receive() call with up to `max` slots of `slot_bytes` each.
std::vector<Received> receive_once(MemoryTransport& t, std::chrono::milliseconds timeout = 0ms,
                                   size_t max = 16, size_t slot_bytes = 2048) {
  std::vector<std::vector<uint8_t>> buffers(max, std::vector<uint8_t>(slot_bytes));
  std::vector<ReceiveSlot> slots;
  for (auto& b : buffers) slots.push_back(ReceiveSlot{b, 0, {}});
  size_t n = t.receive(slots, timeout);
  std::vector<Received> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back({slots[i].from, std::vector<uint8_t>(buffers[i].begin(),
                                                       buffers[i].begin() +
                                                           static_cast<long>(slots[i].length))});
  }
  return out;
}

void send_one(MemoryTransport& t, const Endpoint& to, const std::vector<uint8_t>& bytes) {
  t.send_batch(std::vector<OutgoingDatagram>{{to, bytes}});
}

}  // namespace

TEST_CASE("memory network delivers copies with the sender's endpoint as source", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  auto b = net->attach(ep("[2001:db8::2]:2000"));
  std::vector<uint8_t> one{1, 2, 3};
  std::vector<uint8_t> two{4, 5};
  a->send_batch(std::vector<OutgoingDatagram>{{b->local(), one}, {b->local(), two}});
  one[0] = 99;  // the network holds its own copy
  auto got = receive_once(*b);
  REQUIRE(got.size() == 2);
  CHECK(got[0].from == a->local());
  CHECK(got[0].bytes == std::vector<uint8_t>{1, 2, 3});
  CHECK(got[1].bytes == two);
  CHECK(net->stats().delivered == 2);
  CHECK(a->local_endpoints() == std::vector<Endpoint>{ep("10.0.0.1:1000")});
}

TEST_CASE("memory network filter can drop datagrams", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  auto b = net->attach(ep("10.0.0.2:2000"));
  net->set_filter([](const Endpoint&, const Endpoint&, std::vector<uint8_t>& bytes) {
    return bytes.at(0) == 0xff ? MemoryNetwork::Verdict::drop : MemoryNetwork::Verdict::deliver;
  });
  send_one(*a, b->local(), {0xff, 1});
  send_one(*a, b->local(), {0x01, 2});
  auto got = receive_once(*b);
  REQUIRE(got.size() == 1);
  CHECK(got[0].bytes == std::vector<uint8_t>{0x01, 2});
  CHECK(net->stats().dropped_by_filter == 1);

  net->set_filter(nullptr);
  send_one(*a, b->local(), {0xff, 3});
  CHECK(receive_once(*b).size() == 1);
}

TEST_CASE("memory network filter can tamper with datagram bytes", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  auto b = net->attach(ep("10.0.0.2:2000"));
  net->set_filter([](const Endpoint&, const Endpoint&, std::vector<uint8_t>& bytes) {
    bytes.at(1) ^= 0x80;
    bytes.push_back(7);
    return MemoryNetwork::Verdict::deliver;
  });
  send_one(*a, b->local(), {1, 2, 3});
  auto got = receive_once(*b);
  REQUIRE(got.size() == 1);
  CHECK(got[0].bytes == std::vector<uint8_t>{1, 0x82, 3, 7});
}

TEST_CASE("memory network replays recorded datagrams through inject", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  auto b = net->attach(ep("10.0.0.2:2000"));
  struct Recorded {
    Endpoint from, to;
    std::vector<uint8_t> bytes;
  };
  std::vector<Recorded> recorded;
  net->set_filter([&recorded](const Endpoint& from, const Endpoint& to,
                              std::vector<uint8_t>& bytes) {
    recorded.push_back({from, to, bytes});
    return MemoryNetwork::Verdict::deliver;
  });
  send_one(*a, b->local(), {10, 11});
  send_one(*a, b->local(), {12});
  CHECK(receive_once(*b).size() == 2);
  REQUIRE(recorded.size() == 2);

  for (const auto& r : recorded) CHECK(net->inject(r.from, r.to, r.bytes));
  auto replayed = receive_once(*b);
  REQUIRE(replayed.size() == 2);
  CHECK(replayed[0].from == a->local());
  CHECK(replayed[0].bytes == std::vector<uint8_t>{10, 11});
  CHECK(replayed[1].bytes == std::vector<uint8_t>{12});
  CHECK(recorded.size() == 2);  // inject bypasses the filter

  // A forged source works too.
  CHECK(net->inject(ep("192.0.2.9:9"), b->local(), std::vector<uint8_t>{1}));
  auto forged = receive_once(*b);
  REQUIRE(forged.size() == 1);
  CHECK(forged[0].from == ep("192.0.2.9:9"));
}

TEST_CASE("memory network drops datagrams to an endpoint nobody is attached at", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  send_one(*a, ep("10.0.0.3:3000"), {1});
  CHECK(net->stats().dropped_no_route == 1);
  CHECK_FALSE(net->inject(a->local(), ep("10.0.0.3:3000"), std::vector<uint8_t>{1}));
  {
    auto gone = net->attach(ep("10.0.0.4:4000"));
  }
  send_one(*a, ep("10.0.0.4:4000"), {1});
  CHECK(net->stats().dropped_no_route == 3);
  CHECK(net->stats().delivered == 0);
}

TEST_CASE("memory transport queue drops datagrams beyond its limit", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  auto b = net->attach(ep("10.0.0.2:2000"), 8);
  for (uint8_t i = 0; i < 10; ++i) send_one(*a, b->local(), {i});
  auto got = receive_once(*b);
  REQUIRE(got.size() == 8);
  CHECK(got.back().bytes == std::vector<uint8_t>{7});
  CHECK(net->stats().dropped_queue_full == 2);
}

TEST_CASE("memory transport drops a datagram larger than its slot", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  auto b = net->attach(ep("10.0.0.2:2000"));
  send_one(*a, b->local(), std::vector<uint8_t>(100, 1));
  send_one(*a, b->local(), std::vector<uint8_t>(10, 2));
  auto got = receive_once(*b, 0ms, 16, 50);
  REQUIRE(got.size() == 1);
  CHECK(got[0].bytes == std::vector<uint8_t>(10, 2));
}

TEST_CASE("memory network attach picks free ports and refuses a taken endpoint", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:0"));
  auto b = net->attach(ep("10.0.0.1:0"));
  CHECK(a->local().port != 0);
  CHECK(b->local().port != 0);
  CHECK(a->local() != b->local());
  CHECK_THROWS_AS(net->attach(a->local()), std::invalid_argument);
  CHECK_THROWS_AS(net->attach(Endpoint{}), std::invalid_argument);
  const Endpoint freed = b->local();
  b.reset();
  CHECK(net->attach(freed) != nullptr);
}

TEST_CASE("memory transport receive waits for a datagram sent from another thread", "[io]") {
  auto net = MemoryNetwork::create();
  auto a = net->attach(ep("10.0.0.1:1000"));
  auto b = net->attach(ep("10.0.0.2:2000"));
  std::thread sender([&] { send_one(*a, b->local(), {42}); });
  std::vector<Received> got;
  const auto deadline = Clock::now() + 5s;
  while (got.empty() && Clock::now() < deadline) got = receive_once(*b, 1s);
  sender.join();
  REQUIRE(got.size() == 1);
  CHECK(got[0].bytes == std::vector<uint8_t>{42});
}

TEST_CASE("memory transport receive times out with 0 when nothing arrives", "[io]") {
  auto net = MemoryNetwork::create();
  auto b = net->attach(ep("10.0.0.2:2000"));
  auto start = Clock::now();
  CHECK(receive_once(*b, 50ms).empty());
  CHECK(Clock::now() - start >= 45ms);
}

TEST_CASE("memory transport wake from another thread makes a blocked receive return promptly",
          "[io]") {
  auto net = MemoryNetwork::create();
  auto b = net->attach(ep("10.0.0.2:2000"));
  std::atomic<bool> entered{false};
  size_t got = 99;
  Clock::time_point returned;
  std::thread receiver([&] {
    entered = true;
    got = receive_once(*b, 10s).size();
    returned = Clock::now();
  });
  while (!entered) std::this_thread::yield();
  std::this_thread::sleep_for(50ms);  // likely blocked by now; the check holds either way
  const auto woke = Clock::now();
  b->wake();
  receiver.join();
  CHECK(got == 0);
  CHECK(returned - woke < 1s);

  // A wake is consumed by the receive it interrupted.
  auto start = Clock::now();
  CHECK(receive_once(*b, 50ms).empty());
  CHECK(Clock::now() - start >= 45ms);
}
