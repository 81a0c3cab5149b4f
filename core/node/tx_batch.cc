#include "node/tx_batch.h"

namespace ntm::node {

TxBatch::TxBatch() : slots_(kSlots * kSlotSize) {}

std::span<uint8_t> TxBatch::buffer(size_t size, io::Transport& transport) {
  if (size > kSlotSize) {
    oversize_.resize(size);
    building_oversize_ = true;
    return oversize_;
  }
  building_oversize_ = false;
  if (count_ == kSlots) flush(transport);
  return std::span(slots_).subspan(count_ * kSlotSize, kSlotSize);
}

void TxBatch::commit(const Endpoint& to, size_t offset, size_t length, bool defer,
                     io::Transport& transport, uint8_t hop_limit) {
  if (building_oversize_) {
    building_oversize_ = false;
    io::OutgoingDatagram one{to, std::span<const uint8_t>(oversize_).subspan(offset, length),
                             hop_limit};
    transport.send_batch(std::span(&one, 1));
    return;
  }
  pending_[count_] = {to,
                      std::span<const uint8_t>(slots_).subspan(count_ * kSlotSize + offset, length),
                      hop_limit};
  ++count_;
  if (!defer || count_ == kSlots) flush(transport);
}

void TxBatch::flush(io::Transport& transport) {
  if (count_ == 0) return;
  transport.send_batch(std::span(pending_).first(count_));
  count_ = 0;
}

}  // namespace ntm::node
