#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "io/udp_transport.h"

using namespace std::chrono_literals;
using ntm::Endpoint;
using ntm::io::OutgoingDatagram;
using ntm::io::ReceiveSlot;
using ntm::io::Transport;
using ntm::io::UdpOptions;
using ntm::io::UdpTransport;
using Clock = std::chrono::steady_clock;

namespace {

UdpOptions loopback_v4() {
  UdpOptions o;
  o.bind_v4 = Endpoint::parse("127.0.0.1:0");
  o.enable_v6 = false;
  return o;
}

UdpOptions loopback_v6() {
  UdpOptions o;
  o.bind_v6 = Endpoint::parse("[::1]:0");
  o.enable_v4 = false;
  return o;
}

bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

// Datagram `index` of a test: its first byte is the index, the rest a pattern derived from it.
std::vector<uint8_t> payload(size_t index, size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t j = 0; j < size; ++j) bytes[j] = static_cast<uint8_t>(index * 7 + j);
  if (size > 0) bytes[0] = static_cast<uint8_t>(index);
  return bytes;
}

struct Received {
  Endpoint from;
  std::vector<uint8_t> bytes;
};

// Receives until `count` datagrams arrived or `limit` passed.
std::vector<Received> receive_n(Transport& t, size_t count, std::chrono::milliseconds limit = 5s,
                                size_t slot_bytes = 2048) {
  std::vector<std::vector<uint8_t>> buffers(128, std::vector<uint8_t>(slot_bytes));
  std::vector<ReceiveSlot> slots(buffers.size());
  std::vector<Received> out;
  const auto deadline = Clock::now() + limit;
  while (out.size() < count && Clock::now() < deadline) {
    for (size_t i = 0; i < slots.size(); ++i) slots[i] = ReceiveSlot{buffers[i], 0, {}};
    size_t n = t.receive(slots, 100ms);
    for (size_t i = 0; i < n; ++i) {
      out.push_back({slots[i].from, std::vector<uint8_t>(slots[i].buffer.begin(),
                                                         slots[i].buffer.begin() +
                                                             static_cast<long>(slots[i].length))});
    }
  }
  return out;
}

// Sends 100 datagrams of 1..1500 bytes from `a` to `b` and checks every one arrived intact.
void exchange_100(UdpTransport& a, UdpTransport& b) {
  const Endpoint to = b.local_endpoints().at(0);
  const Endpoint from = a.local_endpoints().at(0);
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t i = 0; i < 100; ++i) {
    size_t size = i == 0 ? 1 : i == 99 ? 1500 : 1 + (i * 613) % 1500;
    payloads.push_back(payload(i, size));
  }
  std::vector<OutgoingDatagram> batch;
  for (const auto& p : payloads) batch.push_back({to, p});
  a.send_batch(batch);

  auto got = receive_n(b, 100);
  REQUIRE(got.size() == 100);
  std::set<size_t> seen;
  for (const auto& r : got) {
    CHECK(r.from == from);
    REQUIRE(!r.bytes.empty());
    size_t index = r.bytes[0];
    REQUIRE(index < 100);
    CHECK(r.bytes == payloads[index]);
    seen.insert(index);
  }
  CHECK(seen.size() == 100);
}

}  // namespace

TEST_CASE("UDP transports on IPv4 loopback exchange 100 datagrams of 1 to 1500 bytes intact",
          "[io]") {
  auto a = UdpTransport::open(loopback_v4());
  auto b = UdpTransport::open(loopback_v4());
  REQUIRE(a->local_endpoints().size() == 1);
  CHECK(a->local_endpoints()[0].to_string().rfind("127.0.0.1:", 0) == 0);
  CHECK(a->local_endpoints()[0].port != 0);
  exchange_100(*a, *b);
  exchange_100(*b, *a);
}

TEST_CASE("UDP transports on IPv6 loopback exchange 100 datagrams of 1 to 1500 bytes intact",
          "[io]") {
  if (!ipv6_loopback_available()) {
    WARN("::1 is not available on this machine; skipping the IPv6 exchange");
    return;
  }
  auto a = UdpTransport::open(loopback_v6());
  auto b = UdpTransport::open(loopback_v6());
  REQUIRE(a->local_endpoints().size() == 1);
  CHECK(a->local_endpoints()[0].is_v6());
  exchange_100(*a, *b);
  exchange_100(*b, *a);
}

TEST_CASE("a dual-stack UDP transport talks to IPv4 and IPv6 peers, and sends v4-mapped as IPv4",
          "[io]") {
  if (!ipv6_loopback_available()) {
    WARN("::1 is not available on this machine; skipping");
    return;
  }
  UdpOptions both;
  both.bind_v4 = Endpoint::parse("127.0.0.1:0");
  both.bind_v6 = Endpoint::parse("[::1]:0");
  auto t = UdpTransport::open(both);
  auto p4 = UdpTransport::open(loopback_v4());
  auto p6 = UdpTransport::open(loopback_v6());
  auto locals = t->local_endpoints();
  REQUIRE(locals.size() == 2);
  const Endpoint t4 = locals[0].is_v4() ? locals[0] : locals[1];
  const Endpoint t6 = locals[0].is_v6() ? locals[0] : locals[1];
  REQUIRE(t4.is_v4());
  REQUIRE(t6.is_v6());

  auto hello4 = payload(4, 40);
  auto hello6 = payload(6, 60);
  p4->send_batch(std::vector<OutgoingDatagram>{{t4, hello4}});
  p6->send_batch(std::vector<OutgoingDatagram>{{t6, hello6}});
  auto got = receive_n(*t, 2);
  REQUIRE(got.size() == 2);
  for (const auto& r : got) {
    if (r.from == p4->local_endpoints()[0]) {
      CHECK(r.bytes == hello4);
    } else {
      CHECK(r.from == p6->local_endpoints()[0]);
      CHECK(r.bytes == hello6);
    }
  }
  CHECK(got[0].from != got[1].from);

  // Replies interleaved across families, one of them to the v4-mapped form of p4's address.
  const Endpoint p4_ep = p4->local_endpoints()[0];
  const Endpoint p4_mapped = *Endpoint::parse("[::ffff:127.0.0.1]:" + std::to_string(p4_ep.port));
  std::vector<std::vector<uint8_t>> replies;
  for (size_t i = 0; i < 6; ++i) replies.push_back(payload(i, 100 + i));
  t->send_batch(std::vector<OutgoingDatagram>{{p4_ep, replies[0]},
                                              {p6->local_endpoints()[0], replies[1]},
                                              {p4_mapped, replies[2]},
                                              {p6->local_endpoints()[0], replies[3]},
                                              {p4_ep, replies[4]},
                                              {p6->local_endpoints()[0], replies[5]}});
  auto at4 = receive_n(*p4, 3);
  auto at6 = receive_n(*p6, 3);
  REQUIRE(at4.size() == 3);
  REQUIRE(at6.size() == 3);
  // Order is kept within a family.
  CHECK(at4[0].bytes == replies[0]);
  CHECK(at4[1].bytes == replies[2]);
  CHECK(at4[2].bytes == replies[4]);
  CHECK(at6[0].bytes == replies[1]);
  CHECK(at6[1].bytes == replies[3]);
  CHECK(at6[2].bytes == replies[5]);
  for (const auto& r : at4) CHECK(r.from == t4);
  for (const auto& r : at6) CHECK(r.from == t6);
}

TEST_CASE("UDP transport with default options binds both families to one reported port", "[io]") {
  auto t = UdpTransport::open();
  auto locals = t->local_endpoints();
  REQUIRE(!locals.empty());
  CHECK(locals[0].to_string().rfind("0.0.0.0:", 0) == 0);
  CHECK(locals[0].port != 0);
  if (locals.size() == 2) {
    CHECK(locals[1].to_string().rfind("[::]:", 0) == 0);
    CHECK(locals[1].port == locals[0].port);
  } else {
    WARN("no IPv6 socket: the transport runs IPv4-only here");
  }
  CHECK(t->max_batch() == UdpTransport::kMaxBatch);
}

TEST_CASE("UDP receive returns 0 after the timeout when nothing arrives", "[io]") {
  auto t = UdpTransport::open(loopback_v4());
  std::vector<uint8_t> buffer(2048);
  std::vector<ReceiveSlot> slots{ReceiveSlot{buffer, 0, {}}};
  auto start = Clock::now();
  CHECK(t->receive(slots, 100ms) == 0);
  auto elapsed = Clock::now() - start;
  CHECK(elapsed >= 95ms);
  CHECK(elapsed < 1s);
  start = Clock::now();
  CHECK(t->receive(slots, 0ms) == 0);
  CHECK(Clock::now() - start < 50ms);
}

TEST_CASE("UDP wake from another thread makes a blocked receive return promptly", "[io]") {
  auto t = UdpTransport::open(loopback_v4());
  std::vector<uint8_t> buffer(2048);
  std::vector<ReceiveSlot> slots{ReceiveSlot{buffer, 0, {}}};
  std::atomic<bool> entered{false};
  size_t got = 99;
  Clock::time_point returned;
  std::thread receiver([&] {
    entered = true;
    got = t->receive(slots, 10s);
    returned = Clock::now();
  });
  while (!entered) std::this_thread::yield();
  // Give the thread time to block; the check below holds whether or not it already has.
  std::this_thread::sleep_for(50ms);
  const auto woke = Clock::now();
  t->wake();
  receiver.join();
  CHECK(got == 0);
  CHECK(returned - woke < 1s);
}

TEST_CASE("UDP wake before receive makes only the next receive return early", "[io]") {
  auto t = UdpTransport::open(loopback_v4());
  std::vector<uint8_t> buffer(2048);
  std::vector<ReceiveSlot> slots{ReceiveSlot{buffer, 0, {}}};
  t->wake();
  t->wake();
  auto start = Clock::now();
  CHECK(t->receive(slots, 5s) == 0);
  CHECK(Clock::now() - start < 1s);
  // Both wakes were consumed together: the following receive waits for its timeout.
  start = Clock::now();
  CHECK(t->receive(slots, 60ms) == 0);
  CHECK(Clock::now() - start >= 55ms);
}

TEST_CASE("UDP sending to a closed loopback port does not break later receives", "[io]") {
  auto a = UdpTransport::open(loopback_v4());
  auto b = UdpTransport::open(loopback_v4());
  Endpoint closed;
  {
    auto gone = UdpTransport::open(loopback_v4());
    closed = gone->local_endpoints()[0];
  }
  // The kernel answers these with ICMP port unreachable.
  std::vector<uint8_t> probe(64, 0xab);
  for (int i = 0; i < 5; ++i) a->send_batch(std::vector<OutgoingDatagram>{{closed, probe}});
  std::vector<uint8_t> buffer(2048);
  std::vector<ReceiveSlot> slots{ReceiveSlot{buffer, 0, {}}};
  CHECK(a->receive(slots, 20ms) == 0);

  auto hello = payload(1, 300);
  b->send_batch(std::vector<OutgoingDatagram>{{a->local_endpoints()[0], hello}});
  auto got = receive_n(*a, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].bytes == hello);
  CHECK(got[0].from == b->local_endpoints()[0]);

  // And a keeps sending fine after the ICMP errors.
  a->send_batch(std::vector<OutgoingDatagram>{{closed, probe}, {b->local_endpoints()[0], hello}});
  auto back = receive_n(*b, 1);
  REQUIRE(back.size() == 1);
  CHECK(back[0].bytes == hello);
}

TEST_CASE("UDP send drops datagrams that cannot go out and sends the rest of the batch", "[io]") {
  auto a = UdpTransport::open(loopback_v4());
  auto b = UdpTransport::open(loopback_v4());
  const Endpoint to = b->local_endpoints()[0];
  auto first = payload(1, 10);
  auto oversized = payload(2, 70000);  // larger than any UDP datagram: EMSGSIZE
  auto last = payload(3, 20);
  a->send_batch(std::vector<OutgoingDatagram>{
      {to, first},
      {to, oversized},
      {*Endpoint::parse("[::1]:9"), first},  // no IPv6 socket on this transport
      {Endpoint{}, first},                    // no address at all
      {to, last}});
  auto got = receive_n(*b, 2);
  REQUIRE(got.size() == 2);
  CHECK(got[0].bytes == first);
  CHECK(got[1].bytes == last);
  CHECK(receive_n(*b, 1, 50ms).empty());
}

TEST_CASE("UDP receive drops a datagram larger than its slot and keeps the others", "[io]") {
  auto a = UdpTransport::open(loopback_v4());
  auto b = UdpTransport::open(loopback_v4());
  auto small1 = payload(1, 50);
  auto big = payload(2, 1000);
  auto small2 = payload(3, 60);
  a->send_batch(std::vector<OutgoingDatagram>{
      {b->local_endpoints()[0], small1}, {b->local_endpoints()[0], big},
      {b->local_endpoints()[0], small2}});
  auto got = receive_n(*b, 2, 2s, 100);
  REQUIRE(got.size() == 2);
  CHECK(got[0].bytes == small1);
  CHECK(got[1].bytes == small2);
}

TEST_CASE("UDP send_batch may be called from several threads at once", "[io]") {
  auto a = UdpTransport::open(loopback_v4());
  auto b = UdpTransport::open(loopback_v4());
  const Endpoint to = b->local_endpoints()[0];
  constexpr size_t kThreads = 4;
  constexpr size_t kPerThread = 50;
  std::vector<std::thread> senders;
  for (size_t th = 0; th < kThreads; ++th) {
    senders.emplace_back([&, th] {
      for (size_t batch = 0; batch < kPerThread / 10; ++batch) {
        std::vector<std::vector<uint8_t>> payloads;
        std::vector<OutgoingDatagram> out;
        for (size_t i = 0; i < 10; ++i) {
          payloads.push_back(payload(th * kPerThread + batch * 10 + i, 200));
        }
        for (const auto& p : payloads) out.push_back({to, p});
        a->send_batch(out);
      }
    });
  }
  auto got = receive_n(*b, kThreads * kPerThread);
  for (auto& s : senders) s.join();
  REQUIRE(got.size() == kThreads * kPerThread);
  std::set<size_t> seen;
  for (const auto& r : got) {
    REQUIRE(r.bytes.size() == 200);
    CHECK(r.bytes == payload(r.bytes[0], 200));
    seen.insert(r.bytes[0]);
  }
  CHECK(seen.size() == kThreads * kPerThread);
}

TEST_CASE("UDP GSO sends equal-size runs to one endpoint as separate datagrams", "[io]") {
  UdpOptions o = loopback_v4();
  o.use_gso = true;
  auto a = UdpTransport::open(o);
  if (!a->gso_active()) {
    WARN("UDP GSO is not supported by this kernel; skipping");
    return;
  }
  auto b = UdpTransport::open(loopback_v4());
  auto c = UdpTransport::open(loopback_v4());
  const Endpoint to_b = b->local_endpoints()[0];
  const Endpoint to_c = c->local_endpoints()[0];
  // 40 x 1200 bytes + a shorter tail to b, then a datagram to c, then 3 more to b.
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<OutgoingDatagram> batch;
  for (size_t i = 0; i < 40; ++i) payloads.push_back(payload(i, 1200));
  payloads.push_back(payload(40, 500));
  payloads.push_back(payload(41, 1200));
  for (size_t i = 42; i < 45; ++i) payloads.push_back(payload(i, 1200));
  for (size_t i = 0; i < payloads.size(); ++i) {
    batch.push_back({i == 41 ? to_c : to_b, payloads[i]});
  }
  a->send_batch(batch);

  auto at_b = receive_n(*b, 44);
  auto at_c = receive_n(*c, 1);
  REQUIRE(at_b.size() == 44);
  REQUIRE(at_c.size() == 1);
  CHECK(at_c[0].bytes == payloads[41]);
  size_t k = 0;
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (i == 41) continue;
    CHECK(at_b[k].bytes == payloads[i]);
    CHECK(at_b[k].from == a->local_endpoints()[0]);
    ++k;
  }
  CHECK(a->gso_active());
}

TEST_CASE("UDP open fails with an error naming the address when it is in use", "[io]") {
  auto a = UdpTransport::open(loopback_v4());
  const Endpoint taken = a->local_endpoints()[0];
  UdpOptions o = loopback_v4();
  o.bind_v4 = taken;
  try {
    UdpTransport::open(o);
    FAIL("binding to an address in use succeeded");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::address_in_use);
    CHECK_THAT(e.what(), Catch::Contains(taken.to_string()));
  }

  if (ipv6_loopback_available()) {
    auto a6 = UdpTransport::open(loopback_v6());
    UdpOptions o6 = loopback_v6();
    o6.bind_v6 = a6->local_endpoints()[0];
    try {
      UdpTransport::open(o6);
      FAIL("binding to an IPv6 address in use succeeded");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::address_in_use);
      CHECK_THAT(e.what(), Catch::Contains(o6.bind_v6->to_string()));
    }
  }
}

TEST_CASE("UDP open rejects options with no family or a bind address of the wrong family",
          "[io]") {
  UdpOptions none;
  none.enable_v4 = false;
  none.enable_v6 = false;
  CHECK_THROWS_AS(UdpTransport::open(none), std::system_error);
  UdpOptions wrong = loopback_v4();
  wrong.bind_v4 = Endpoint::parse("[::1]:0");
  CHECK_THROWS_AS(UdpTransport::open(wrong), std::system_error);
}
