#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <set>

#include "tunnel/replay_window.h"
#include "wire/constants.h"

using ntm::tunnel::ReplayWindow;
using ntm::wire::kRejectAfterMessages;

namespace {
constexpr uint64_t kW = ReplayWindow::kReplayWindowSize;
}

TEST_CASE("replay window is at least 2048 packets", "[tunnel][replay]") {
  STATIC_REQUIRE(kW >= 2048);
}

TEST_CASE("replay window accepts counter 0 as the first packet", "[tunnel][replay]") {
  ReplayWindow w;
  CHECK(w.check(0));
  CHECK(w.check_and_update(0));
  CHECK(w.max_seen() == 0);
  CHECK_FALSE(w.check(0));
  CHECK_FALSE(w.check_and_update(0));
}

TEST_CASE("replay window accepts counters in order", "[tunnel][replay]") {
  ReplayWindow w;
  for (uint64_t c = 0; c < 10000; ++c) {
    REQUIRE(w.check_and_update(c));
  }
  CHECK(w.max_seen() == 9999);
}

TEST_CASE("replay window rejects a duplicate counter", "[tunnel][replay]") {
  ReplayWindow w;
  REQUIRE(w.check_and_update(5));
  CHECK_FALSE(w.check(5));
  CHECK_FALSE(w.check_and_update(5));
  REQUIRE(w.check_and_update(6));
  CHECK_FALSE(w.check_and_update(5));
  CHECK_FALSE(w.check_and_update(6));
}

TEST_CASE("replay window accepts reordered counters within the window once each", "[tunnel][replay]") {
  ReplayWindow w;
  REQUIRE(w.check_and_update(1000));
  for (uint64_t c : {999, 1, 500, 998, 2, 0}) {
    CHECK(w.check_and_update(c));
    CHECK_FALSE(w.check_and_update(c));
  }
  CHECK(w.max_seen() == 1000);
  CHECK(w.check_and_update(1001));
  CHECK_FALSE(w.check_and_update(999));
}

TEST_CASE("replay window rejects a counter older than the window", "[tunnel][replay]") {
  ReplayWindow w;
  REQUIRE(w.check_and_update(10000));
  CHECK_FALSE(w.check(10000 - kW - 1));
  CHECK_FALSE(w.check_and_update(0));
  CHECK_FALSE(w.check_and_update(10000 - 5000));
}

TEST_CASE("replay window boundary: max-2047 is accepted once, max-2048 is rejected",
          "[tunnel][replay]") {
  ReplayWindow w;
  const uint64_t max = 100000;
  REQUIRE(w.check_and_update(max));
  CHECK_FALSE(w.check(max - kW));
  CHECK_FALSE(w.check_and_update(max - kW));
  CHECK(w.check(max - (kW - 1)));
  CHECK(w.check_and_update(max - (kW - 1)));
  CHECK_FALSE(w.check_and_update(max - (kW - 1)));
  // The boundary follows max: one step forward and max-2047 falls out.
  REQUIRE(w.check_and_update(max + 1));
  CHECK_FALSE(w.check(max - (kW - 1)));
  CHECK(w.check(max + 1 - (kW - 1)));
}

TEST_CASE("replay window boundary holds for every alignment within a block", "[tunnel][replay]") {
  for (uint64_t max = kW; max < kW + 130; ++max) {
    ReplayWindow w;
    REQUIRE(w.check_and_update(max));
    CHECK(w.check(max - (kW - 1)));
    CHECK_FALSE(w.check(max - kW));
  }
}

TEST_CASE("replay window after a big jump forward still accepts old counters in the window",
          "[tunnel][replay]") {
  ReplayWindow w;
  for (uint64_t c = 0; c < 100; ++c) REQUIRE(w.check_and_update(c));
  const uint64_t jump = 1'000'000;
  REQUIRE(w.check_and_update(jump));
  CHECK(w.check_and_update(jump - 1));
  CHECK(w.check_and_update(jump - 1000));
  CHECK(w.check_and_update(jump - (kW - 1)));
  CHECK_FALSE(w.check_and_update(jump - kW));
  CHECK_FALSE(w.check_and_update(50));
  CHECK_FALSE(w.check_and_update(jump - 1));
}

TEST_CASE("replay window forgets bits that alias after the ring wraps", "[tunnel][replay]") {
  // A jump of exactly the ring size lands in the same ring slot as the old counters.
  for (uint64_t jump : {uint64_t{4096}, uint64_t{2048}, uint64_t{64}, uint64_t{4096 + 64}}) {
    ReplayWindow w;
    for (uint64_t c = 0; c < 64; ++c) REQUIRE(w.check_and_update(c));
    REQUIRE(w.check_and_update(jump + 63));
    for (uint64_t c = jump; c < jump + 63; ++c) {
      CHECK(w.check_and_update(c));
    }
  }
}

TEST_CASE("replay window rejects counters at or beyond the reject-after limit", "[tunnel][replay]") {
  ReplayWindow w;
  CHECK_FALSE(w.check(kRejectAfterMessages));
  CHECK_FALSE(w.check_and_update(kRejectAfterMessages));
  CHECK_FALSE(w.check_and_update(UINT64_MAX));
  CHECK(w.max_seen() == 0);
  CHECK(w.check_and_update(kRejectAfterMessages - 1));
  CHECK(w.max_seen() == kRejectAfterMessages - 1);
  CHECK_FALSE(w.check_and_update(kRejectAfterMessages));
}

TEST_CASE("replay window check does not record and update records", "[tunnel][replay]") {
  ReplayWindow w;
  CHECK(w.check(7));
  CHECK(w.check(7));
  CHECK(w.max_seen() == 0);
  w.update(7);
  CHECK(w.max_seen() == 7);
  CHECK_FALSE(w.check(7));
  w.update(7);  // no longer acceptable: a no-op
  CHECK(w.max_seen() == 7);
  w.update(3);
  CHECK_FALSE(w.check(3));
  CHECK(w.check(4));
}

TEST_CASE("replay window reset returns to the fresh state", "[tunnel][replay]") {
  ReplayWindow w;
  REQUIRE(w.check_and_update(0));
  REQUIRE(w.check_and_update(5000));
  w.reset();
  CHECK(w.max_seen() == 0);
  CHECK(w.check_and_update(0));
  CHECK(w.check_and_update(5000));
  CHECK(w.check_and_update(4000));
}

TEST_CASE("replay window matches a reference model on random traffic", "[tunnel][replay]") {
  std::mt19937_64 rng(0x6e746d);  // fixed seed: deterministic
  ReplayWindow w;
  std::set<uint64_t> seen;
  uint64_t max = 0;
  uint64_t next = 0;
  for (int i = 0; i < 200000; ++i) {
    // Mostly near the front, with reordering, duplicates and occasional big jumps.
    uint64_t c;
    const unsigned kind = static_cast<unsigned>(rng() % 100);
    if (kind < 60) {
      c = next++;
    } else if (kind < 90) {
      const uint64_t back = rng() % (kW + 200);
      c = next > back ? next - back : 0;
    } else if (kind < 99) {
      c = next + rng() % 3000;
    } else {
      next += rng() % 20000;
      c = next;
    }
    const bool expected = c < kRejectAfterMessages &&
                          (c > max || (max - c < kW && !seen.count(c)));
    REQUIRE(w.check(c) == expected);
    REQUIRE(w.check_and_update(c) == expected);
    if (expected) {
      seen.insert(c);
      if (c > max) max = c;
    }
    REQUIRE(w.max_seen() == max);
    if (seen.size() > 20000) {  // keep the model small: drop what is far outside the window
      seen.erase(seen.begin(), seen.lower_bound(max > 2 * kW ? max - 2 * kW : 0));
    }
  }
}
