// Failed-login rate limiting per source address: a token bucket per address (burst `burst`
// failures, refilled at one per `refill`). Thread-safe. Memory is bounded: when the table holds
// more than `max_entries` addresses, the full (idle) buckets are dropped.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "util/endpoint.h"

namespace ntm::servers {

class FailureRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  FailureRateLimiter(unsigned burst, std::chrono::milliseconds refill, size_t max_entries = 65536)
      : burst_(burst), refill_(refill), max_entries_(max_entries) {}

  // True when the address may try (has at least one failure left). When it may not,
  // `retry_after` is how long until it may.
  bool allowed(const Endpoint& from, Clock::time_point now, std::chrono::seconds& retry_after);
  // Records one failed attempt.
  void record_failure(const Endpoint& from, Clock::time_point now);

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  struct AddressKey {
    Endpoint::Family family;
    std::array<uint8_t, 16> address;
    friend bool operator==(const AddressKey&, const AddressKey&) = default;
  };
  struct KeyHash {
    size_t operator()(const AddressKey& k) const noexcept;
  };
  static AddressKey key_of(const Endpoint& e) { return {e.family, e.address}; }
  void refill(Bucket& b, Clock::time_point now) const;

  unsigned burst_;
  std::chrono::milliseconds refill_;
  size_t max_entries_;
  std::mutex mu_;
  std::unordered_map<AddressKey, Bucket, KeyHash> buckets_;
};

}  // namespace ntm::servers
