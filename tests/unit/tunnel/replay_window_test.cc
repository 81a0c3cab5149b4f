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
constexpr uint64_t kRing = ReplayWindow::kRingCounters;
}

TEST_CASE("replay window is at least 8192 packets (WireGuard's figure)", "[tunnel][replay]") {
  STATIC_REQUIRE(kW >= 8192);
  STATIC_REQUIRE(sizeof(ReplayWindow) <= 1100);  // 1 KiB of bits per session
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
  REQUIRE(w.check_and_update(100000));
  CHECK_FALSE(w.check(100000 - kW - 1));
  CHECK_FALSE(w.check_and_update(0));
  CHECK_FALSE(w.check_and_update(100000 - 50000));
}

TEST_CASE("replay window boundary: max-(W-1) is accepted once, max-W is rejected",
          "[tunnel][replay]") {
  ReplayWindow w;
  const uint64_t max = 100000;
  REQUIRE(w.check_and_update(max));
  CHECK_FALSE(w.check(max - kW));
  CHECK_FALSE(w.check_and_update(max - kW));
  CHECK(w.check(max - (kW - 1)));
  CHECK(w.check_and_update(max - (kW - 1)));
  CHECK_FALSE(w.check_and_update(max - (kW - 1)));
  // The boundary follows max: one step forward and max-(W-1) falls out.
  REQUIRE(w.check_and_update(max + 1));
  CHECK_FALSE(w.check(max - (kW - 1)));
  CHECK(w.check(max + 1 - (kW - 1)));
}

TEST_CASE("replay window boundary holds for every alignment within a block", "[tunnel][replay]") {
  for (uint64_t max = kW - 1; max < kW + 130; ++max) {
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
  for (uint64_t jump : {kRing, kW, uint64_t{64}, kRing + 64, 2 * kRing, kRing - 64}) {
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

TEST_CASE("replay window accepts a whole window delivered in reverse, each counter once",
          "[tunnel][replay]") {
  // The worst reordering a multi-queue path produces: the newest first, then every older one.
  ReplayWindow w;
  const uint64_t max = 3 * kW + 17;  // not block-aligned
  REQUIRE(w.check_and_update(max));
  for (uint64_t back = 1; back < kW; ++back) REQUIRE(w.check_and_update(max - back));
  for (uint64_t back = 0; back < kW; ++back) REQUIRE_FALSE(w.check(max - back));
  CHECK_FALSE(w.check(max - kW));
  CHECK(w.max_seen() == max);
}

TEST_CASE("replay window edges after forward jumps of W-1, W and W+1", "[tunnel][replay]") {
  for (uint64_t jump : {kW - 1, kW, kW + 1}) {
    INFO("jump " << jump);
    ReplayWindow w;
    const uint64_t start = 5 * kW + 3;
    for (uint64_t c = start - 100; c <= start; ++c) REQUIRE(w.check_and_update(c));
    REQUIRE(w.check_and_update(start + jump));
    // Old counters still inside the new window stay recorded; older ones fall out.
    const uint64_t oldest_inside = start + jump - (kW - 1);
    CHECK_FALSE(w.check(start));  // recorded, or fallen out of the window: a replay either way
    for (uint64_t c = start - 100; c < start; ++c) {
      INFO("counter " << c);
      CHECK_FALSE(w.check(c));  // recorded (inside) or too old (outside): rejected either way
    }
    // Never-seen counters between the old max and the jump are acceptable once.
    for (uint64_t c = start + 1; c < start + jump; ++c) {
      if (c < oldest_inside) continue;
      REQUIRE(w.check_and_update(c));
      REQUIRE_FALSE(w.check(c));
    }
  }
}

TEST_CASE("replay window: counter 0 stays acceptable until the window moves past it",
          "[tunnel][replay]") {
  ReplayWindow w;
  REQUIRE(w.check_and_update(kW - 1));  // 0 is exactly at the far edge
  CHECK(w.check_and_update(0));
  CHECK_FALSE(w.check(0));
  ReplayWindow v;
  REQUIRE(v.check_and_update(kW));  // one further: 0 has fallen out
  CHECK_FALSE(v.check(0));
  CHECK(v.check(1));
}
