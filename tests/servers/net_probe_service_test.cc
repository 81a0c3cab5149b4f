#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "common/udp_service.h"
#include "control/net_probe.h"
#include "test_client.h"

using namespace ntm;
using namespace ntm::servers;
using namespace std::chrono_literals;

TEST_CASE("UDP services answer net probes themselves and pass everything else to their owner",
          "[servers]") {
  std::atomic<int> owner_saw{0};
  std::atomic<int> owner_saw_probe{0};
  UdpService service(
      UdpServiceOptions{.name = "test", .listen = {Endpoint::v4({127, 0, 0, 1}, 0)}},
      [&](std::span<const io::ReceiveSlot> received, UdpService::Clock::time_point) {
        for (const auto& slot : received) {
          ++owner_saw;
          if (slot.length > 0 && slot.buffer[0] == control::kNetProbeType) ++owner_saw_probe;
        }
      },
      [](UdpService::Clock::time_point) {});
  service.start();
  const Endpoint server = service.local_endpoints().at(0);
  test::UdpSocket client;

  // Probes interleaved with other datagrams, so they land in the same receive batches.
  for (uint64_t nonce = 1; nonce <= 5; ++nonce) {
    client.send_to(server, control::Bytes{0x99, 1, 2, 3});
    client.send_to(server, control::encode(control::NetProbe{nonce, 200}));
  }
  std::set<uint64_t> answered;
  for (int i = 0; i < 5; ++i) {
    auto d = client.receive(2s);
    REQUIRE(d);
    auto r = control::decode_net_probe_reply(d->bytes);
    REQUIRE(r.ok());
    CHECK(r->observed == client.local());
    CHECK(r->received_size == 200);
    answered.insert(r->nonce);
  }
  CHECK(answered == std::set<uint64_t>{1, 2, 3, 4, 5});
  // A malformed probe (non-zero padding) is not answered and goes to the owner like any datagram.
  auto bad = control::encode(control::NetProbe{6, 64});
  bad.back() = 1;
  client.send_to(server, bad);
  CHECK_FALSE(client.receive(300ms));
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (owner_saw < 6 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  CHECK(owner_saw == 6);
  CHECK(owner_saw_probe == 1);
  service.stop();
}
