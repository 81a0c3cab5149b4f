#include <catch2/catch.hpp>

#include "dc/path_decision.h"

using namespace ntm;
using namespace ntm::servers;
using control::DirectionMode;

namespace {

Endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  return Endpoint::v4({a, b, c, d}, port);
}
Endpoint v6(uint8_t last, uint16_t port) {
  return Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last}, port);
}

}  // namespace

TEST_CASE("path: two global IPv4 nodes go direct to each other's address", "[servers][path]") {
  const NodeEndpoints a{{v4(198, 51, 100, 1, 1000)}, v4(198, 51, 100, 1, 1000)};
  const NodeEndpoints b{{v4(198, 51, 100, 2, 2000)}, v4(198, 51, 100, 2, 2000)};
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a == std::vector<Endpoint>{v4(198, 51, 100, 2, 2000)});
  CHECK(d.candidates_for_b == std::vector<Endpoint>{v4(198, 51, 100, 1, 1000)});
  CHECK_FALSE(behind_nat(a));
}

TEST_CASE("path: NAT to NAT (different NATs) goes direct to the observed mappings only",
          "[servers][path]") {
  const NodeEndpoints a{{v4(10, 0, 0, 5, 1000)}, v4(203, 0, 113, 1, 40001)};
  const NodeEndpoints b{{v4(192, 168, 1, 7, 2000)}, v4(203, 0, 113, 2, 50002)};
  CHECK(behind_nat(a));
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a == std::vector<Endpoint>{v4(203, 0, 113, 2, 50002)});
  CHECK(d.candidates_for_b == std::vector<Endpoint>{v4(203, 0, 113, 1, 40001)});
}

TEST_CASE("path: global IPv4 and IPv4 behind NAT go direct", "[servers][path]") {
  const NodeEndpoints a{{v4(198, 51, 100, 1, 1000)}, v4(198, 51, 100, 1, 1000)};
  const NodeEndpoints b{{v4(10, 0, 0, 9, 2000)}, v4(203, 0, 113, 2, 50002)};
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a == std::vector<Endpoint>{v4(203, 0, 113, 2, 50002)});
  CHECK(d.candidates_for_b == std::vector<Endpoint>{v4(198, 51, 100, 1, 1000)});
}

TEST_CASE("path: both behind the same NAT try private endpoints first", "[servers][path]") {
  const NodeEndpoints a{{v4(10, 0, 0, 5, 1000)}, v4(203, 0, 113, 1, 40001)};
  const NodeEndpoints b{{v4(10, 0, 0, 6, 2000)}, v4(203, 0, 113, 1, 40002)};
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a ==
        std::vector<Endpoint>{v4(10, 0, 0, 6, 2000), v4(203, 0, 113, 1, 40002)});
  CHECK(d.candidates_for_b ==
        std::vector<Endpoint>{v4(10, 0, 0, 5, 1000), v4(203, 0, 113, 1, 40001)});
}

TEST_CASE("path: two IPv6-only nodes go direct", "[servers][path]") {
  const NodeEndpoints a{{v6(1, 1000)}, v6(1, 1000)};
  const NodeEndpoints b{{v6(2, 2000)}, v6(2, 2000)};
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a == std::vector<Endpoint>{v6(2, 2000)});
}

TEST_CASE("path: IPv4-only and IPv6-only need the relay", "[servers][path]") {
  const NodeEndpoints a{{v4(198, 51, 100, 1, 1000)}, v4(198, 51, 100, 1, 1000)};
  const NodeEndpoints b{{v6(2, 2000)}, v6(2, 2000)};
  auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::relay);
  CHECK(d.candidates_for_a.empty());
  CHECK(d.candidates_for_b.empty());
  // Behind a NAT changes nothing.
  const NodeEndpoints natted{{v4(10, 0, 0, 5, 1000)}, v4(203, 0, 113, 1, 40001)};
  CHECK(decide_path(natted, b).mode == DirectionMode::relay);
  CHECK(decide_path(b, natted).mode == DirectionMode::relay);
}

TEST_CASE("path: dual-stack nodes list the shared observed family first", "[servers][path]") {
  const NodeEndpoints a{{v4(198, 51, 100, 1, 1000), v6(1, 1000)}, v4(198, 51, 100, 1, 1000)};
  const NodeEndpoints b{{v4(198, 51, 100, 2, 2000), v6(2, 2000)}, v4(198, 51, 100, 2, 2000)};
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a == std::vector<Endpoint>{v4(198, 51, 100, 2, 2000), v6(2, 2000)});
}

TEST_CASE("path: a dual-stack node and an IPv6-only node meet over IPv6", "[servers][path]") {
  const NodeEndpoints a{{v4(10, 0, 0, 5, 1000), v6(1, 1000)}, v4(203, 0, 113, 1, 40001)};
  const NodeEndpoints b{{v6(2, 2000)}, v6(2, 2000)};
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a == std::vector<Endpoint>{v6(2, 2000)});
  CHECK(d.candidates_for_b == std::vector<Endpoint>{v6(1, 1000)});
}

TEST_CASE("path: nodes on one host (loopback) try private endpoints first", "[servers][path]") {
  const NodeEndpoints a{{v4(127, 0, 0, 1, 1000)}, v4(127, 0, 0, 1, 1000)};
  const NodeEndpoints b{{v4(127, 0, 0, 1, 2000)}, v4(127, 0, 0, 1, 2000)};
  const auto d = decide_path(a, b);
  CHECK(d.mode == DirectionMode::direct);
  CHECK(d.candidates_for_a == std::vector<Endpoint>{v4(127, 0, 0, 1, 2000)});
}

TEST_CASE("path: a node without any endpoint gets the relay", "[servers][path]") {
  const NodeEndpoints a{{v4(198, 51, 100, 1, 1000)}, v4(198, 51, 100, 1, 1000)};
  CHECK(decide_path(a, NodeEndpoints{}).mode == DirectionMode::relay);
}
