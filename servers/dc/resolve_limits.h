// How the DC keeps resolve floods from amplifying (issue 13 item 7; docs/security.md "Floods"):
// a Resolve costs the DC a Direction to both ends (each retransmitted until acknowledged) and
// each end a relay binding, so the DC makes new directions sparingly:
//   - one pair, one direction at a time: a Resolve for a pair whose direction is still running
//     waits for it (its ResolveReply goes out with the first one's), and a Resolve within
//     `pair_interval` of the pair's last direction, while neither end has moved, is answered at
//     once from it ("coalesced") - so 300 resolves of one name make one direction, and a node
//     that asks twice at once (connecting by virtual address) gets both answers;
//   - new directions per requester and per target are token buckets (`requester_*`, `target_*`):
//     a Resolve over either is dropped (DcDrop::rate_limited) and the node's retransmission
//     (every 500 ms) tries again.
// Loop-thread state of the DC; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace ntm::servers {

struct ResolveLimitsConfig {
  double requester_per_second = 10;  // new directions a node may start
  double requester_burst = 30;
  double target_per_second = 10;  // new directions towards one node
  double target_burst = 30;
  std::chrono::milliseconds pair_interval{2000};
};

class ResolveLimits {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ResolveLimits(ResolveLimitsConfig config = {}) : config_(config) {}

  enum class Verdict {
    direct,     // make a new direction
    coalesce,   // answer from the pair's recent direction
    limited,    // over a requester's or target's rate: drop
  };
  // `ends`: a fingerprint of both ends' addresses (a new direction is due when it changed).
  // `failed_relay`: the relay (index) the requester reports dead; a recent direction through it
  // is not reused (one through another relay is: the other end reported it too).
  Verdict admit(uint64_t requester, uint64_t target, uint64_t ends, Clock::time_point now,
                std::optional<size_t> failed_relay = std::nullopt);
  // Records the direction made after Verdict::direct, and the relay (index) it assigned.
  void directed(uint64_t a, uint64_t b, uint64_t ends, Clock::time_point now,
                std::optional<size_t> relay = std::nullopt);
  // Forgets a pair's recent direction (the policy between them changed).
  void forget_pair(uint64_t a, uint64_t b) { pairs_.erase(key(a, b)); }
  // Forgets a node (it expired or was revoked).
  void forget(uint64_t node);
  // Drops pair records older than pair_interval and full buckets (once a second).
  void sweep(Clock::time_point now);
  size_t pairs() const { return pairs_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point at{};
    bool take(double rate, double burst, Clock::time_point now, bool dry_run);
  };
  struct Pair {
    uint64_t ends = 0;
    Clock::time_point at{};
    std::optional<size_t> relay;
  };
  static std::pair<uint64_t, uint64_t> key(uint64_t a, uint64_t b) {
    return a < b ? std::pair{a, b} : std::pair{b, a};
  }
  struct PairHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const noexcept {
      return std::hash<uint64_t>{}(k.first * 0x9e3779b97f4a7c15ull ^ k.second);
    }
  };

  ResolveLimitsConfig config_;
  std::unordered_map<uint64_t, Bucket> requesters_, targets_;
  std::unordered_map<std::pair<uint64_t, uint64_t>, Pair, PairHash> pairs_;
};

}  // namespace ntm::servers
