// Failed-login rate limiting per source address: a token bucket per address (burst `burst`
// failures, refilled at one per `refill`). Thread-safe. Memory is bounded: when the table holds
// more than `max_entries` addresses, the full (idle) buckets are dropped.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
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

// Failed logins per account, from any address (a guesser with many addresses gets no more
// tries than one with a single address). After `free_failures` failures in a row the account
// is locked for `base`, twice as long after each further failure, up to `max`; a success
// resets it, and so does a day without failures. Locked means every login for the account is
// refused with rate_limited - the right password too, so the answer tells a guesser nothing.
// Unknown account names are tracked alike (they must look the same). Thread-safe; at most
// `max_entries` accounts are tracked (unlocked ones are dropped first).
class AccountBackoff {
 public:
  using Clock = std::chrono::steady_clock;

  AccountBackoff(unsigned free_failures, std::chrono::milliseconds base,
                 std::chrono::milliseconds max, size_t max_entries = 65536)
      : free_(free_failures), base_(base), max_(max), max_entries_(max_entries) {}

  // True when the account may try now; otherwise `retry_after` says for how long it may not.
  bool allowed(std::string_view account, Clock::time_point now,
               std::chrono::milliseconds& retry_after);
  void record_failure(std::string_view account, Clock::time_point now);
  void record_success(std::string_view account);

 private:
  struct Entry {
    unsigned failures = 0;
    Clock::time_point last_failure{};
    Clock::time_point locked_until{};
  };

  unsigned free_;
  std::chrono::milliseconds base_;
  std::chrono::milliseconds max_;
  size_t max_entries_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace ntm::servers
