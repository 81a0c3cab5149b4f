#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <thread>
#include <vector>

#include "node/pinger.h"

using namespace std::chrono_literals;
using ntm::node::Pinger;
using ntm::node::internet_checksum;

namespace {

// What the peer's stack does with an echo request: swap the addresses, turn it into a reply.
std::vector<uint8_t> answer(std::vector<uint8_t> p) {
  if ((p[0] >> 4) == 4) {
    std::swap_ranges(p.begin() + 12, p.begin() + 16, p.begin() + 16);
    p[20] = 0;  // echo reply
  } else {
    std::swap_ranges(p.begin() + 8, p.begin() + 24, p.begin() + 24);
    p[40] = 129;
  }
  return p;
}

const std::array<uint8_t, 4> kSelf4{100, 64, 0, 1}, kPeer4{100, 64, 0, 2};

}  // namespace

TEST_CASE("internet checksum matches RFC 1071's example", "[node][ping]") {
  const std::vector<uint8_t> data{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(internet_checksum(data) == static_cast<uint16_t>(~0xddf2 & 0xffff));
}

TEST_CASE("an IPv4 echo request is well formed: header and ICMP checksums verify", "[node][ping]") {
  Pinger pinger;
  uint16_t seq = 0;
  const auto p = pinger.request(kSelf4, kPeer4, &seq);
  REQUIRE(p.size() == 20 + 8 + 16);
  CHECK(p[0] == 0x45);
  CHECK(p[9] == 1);
  CHECK(internet_checksum(std::span(p).first(20)) == 0);
  CHECK(internet_checksum(std::span(p).subspan(20)) == 0);
  CHECK(p[20] == 8);
}

TEST_CASE("the answer to our echo request is taken and timed; others are left alone", "[node][ping]") {
  Pinger pinger;
  uint16_t seq = 0;
  const auto request = pinger.request(kSelf4, kPeer4, &seq);
  // A request (not a reply) and another program's reply are not ours.
  CHECK_FALSE(pinger.on_inner(request));
  auto foreign = answer(request);
  foreign[24] ^= 0xff;  // another identifier
  CHECK_FALSE(pinger.on_inner(foreign));
  std::thread peer([&] {
    std::this_thread::sleep_for(5ms);
    CHECK(pinger.on_inner(answer(request)));
  });
  const auto rtt = pinger.wait(seq, 5s);
  peer.join();
  REQUIRE(rtt);
  CHECK(*rtt >= 5ms);
  CHECK(*rtt < 5s);
}

TEST_CASE("an unanswered ping times out; a late answer is still consumed", "[node][ping]") {
  Pinger pinger;
  uint16_t seq = 0;
  const auto request = pinger.request(kSelf4, kPeer4, &seq);
  CHECK_FALSE(pinger.wait(seq, 20ms));
  CHECK(pinger.on_inner(answer(request)));  // ours, too late: dropped, not given to lwIP
}

TEST_CASE("IPv6 echo requests carry a valid ICMPv6 checksum and their answers are matched",
          "[node][ping]") {
  Pinger pinger;
  std::array<uint8_t, 16> self{0xfd, 0, 0x6e, 0x74, 0, 0x6d}, peer = self;
  self[15] = 1;
  peer[15] = 2;
  uint16_t seq = 0;
  const auto p = pinger.request(self, peer, &seq);
  REQUIRE(p.size() == 40 + 8 + 16);
  CHECK(p[6] == 58);
  // Pseudo-header sum + ICMPv6 message: the checksum makes it all-ones.
  uint32_t sum = 0;
  for (size_t i = 8; i < 40; i += 2) sum += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
  sum += 24 + 58;
  CHECK(internet_checksum(std::span(p).subspan(40), sum) == 0);
  CHECK(pinger.on_inner(answer(p)));
  CHECK(pinger.wait(seq, 1s));
}
