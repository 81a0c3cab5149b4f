// Anti-replay sliding window over capsule counters (RFC 6479: a ring of 64-bit blocks).
//
// Exact boundary: with M = max_seen(), a counter c < M is acceptable iff M - c < kReplayWindowSize
// (i.e. c >= M - 8191 for 8192, WireGuard's figure) and c has not been seen. So M - 8191 is
// accepted once, M - 8192 is rejected. Any c > M is acceptable. Counters >=
// wire::kRejectAfterMessages are always rejected. A fresh window accepts counter 0.
//
// Usage on the receive path: check() before decrypting (cheap drop of replays), then, once the
// AEAD tag has been verified, check_and_update() (or update()) to record the counter. Never record
// a counter from a packet that failed authentication.
//
// Not thread-safe: one window per receiving session, guarded by that session's lock.
// Fixed size (1 KiB of bits, no allocation), O(1) per packet apart from clearing at most
// kRingBlocks blocks on a forward jump.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ntm::tunnel {

class ReplayWindow {
 public:
  // How far behind the newest counter a packet may arrive and still be accepted.
  static constexpr uint64_t kReplayWindowSize = 8192;

  // Would this counter be accepted now? Does not modify the window.
  bool check(uint64_t counter) const noexcept;
  // Accepts and records the counter, or rejects it (returns false) without changing anything.
  bool check_and_update(uint64_t counter) noexcept;
  // Records a counter; meant for a counter that passed check() and then authenticated. If the
  // counter is no longer acceptable (e.g. the same counter was recorded in between), does nothing.
  void update(uint64_t counter) noexcept;

  // The newest counter recorded; 0 while nothing has been recorded.
  uint64_t max_seen() const noexcept { return max_seen_; }
  // Back to the fresh state (e.g. on a new session key).
  void reset() noexcept;

 private:
  static constexpr uint64_t kBlockBits = 64;
  // The window plus the partly filled newest block: any kReplayWindowSize consecutive counters
  // span at most this many blocks, and consecutive blocks map to distinct slots. Not a power of
  // two (that would double the size); the modulo by a constant compiles to a multiplication.
  static constexpr uint64_t kRingBlocks = kReplayWindowSize / kBlockBits + 1;
  static_assert(kReplayWindowSize % kBlockBits == 0);

 public:
  // Counters whose bits the ring holds at once (tests use it to provoke aliasing).
  static constexpr uint64_t kRingCounters = kRingBlocks * kBlockBits;

 private:
  static constexpr size_t slot(uint64_t counter) noexcept {
    return static_cast<size_t>((counter / kBlockBits) % kRingBlocks);
  }
  static constexpr uint64_t bit(uint64_t counter) noexcept {
    return uint64_t{1} << (counter % kBlockBits);
  }

  uint64_t max_seen_ = 0;
  std::array<uint64_t, kRingBlocks> ring_{};
};

}  // namespace ntm::tunnel
