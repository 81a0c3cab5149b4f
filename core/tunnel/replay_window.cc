#include "tunnel/replay_window.h"

#include <algorithm>

#include "wire/constants.h"

namespace ntm::tunnel {

bool ReplayWindow::check(uint64_t counter) const noexcept {
  if (counter >= wire::kRejectAfterMessages) return false;
  if (counter > max_seen_) return true;
  if (max_seen_ - counter >= kReplayWindowSize) return false;
  return (ring_[slot(counter)] & bit(counter)) == 0;
}

bool ReplayWindow::check_and_update(uint64_t counter) noexcept {
  if (!check(counter)) return false;
  if (counter > max_seen_) {
    // Clear the blocks the window slides into; they still hold bits from a full ring ago.
    const uint64_t current_block = max_seen_ / kBlockBits;
    const uint64_t new_block = counter / kBlockBits;
    const uint64_t to_clear = std::min(new_block - current_block, kRingBlocks);
    for (uint64_t i = 1; i <= to_clear; ++i) {
      ring_[static_cast<size_t>((current_block + i) % kRingBlocks)] = 0;
    }
    max_seen_ = counter;
  }
  ring_[slot(counter)] |= bit(counter);
  return true;
}

void ReplayWindow::update(uint64_t counter) noexcept {
  (void)check_and_update(counter);
}

void ReplayWindow::reset() noexcept {
  max_seen_ = 0;
  ring_.fill(0);
}

}  // namespace ntm::tunnel
