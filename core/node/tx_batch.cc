#include "node/tx_batch.h"

#include "node/tx_worker.h"

namespace ntm::node {

void TxBatch::Storage::seal_and_send(io::Transport& transport) {
  if (any_unsealed) {
    for (size_t i = 0; i < count; ++i) {
      auto& c = unsealed[i];
      if (!c.session) continue;
      tunnel::seal_capsule(c, std::span(bytes).subspan(i * kSlotSize, kSlotSize));
      c.session.reset();
    }
    any_unsealed = false;
  }
  if (count > 0) transport.send_batch(std::span(out).first(count));
  count = 0;
}

TxBatch::TxBatch() : storage_(std::make_unique<Storage>()) {}

std::span<uint8_t> TxBatch::buffer(size_t size, io::Transport& transport, TxWorker* worker) {
  if (size > kSlotSize) {
    oversize_.resize(size);
    building_oversize_ = true;
    return oversize_;
  }
  building_oversize_ = false;
  if (storage_->count == kSlots) flush(transport, worker);
  return std::span(storage_->bytes).subspan(storage_->count * kSlotSize, kSlotSize);
}

void TxBatch::commit(const Endpoint& to, size_t offset, size_t length, bool defer,
                     io::Transport& transport, TxWorker* worker, uint8_t hop_limit) {
  if (building_oversize_) {
    building_oversize_ = false;
    io::OutgoingDatagram one{to, std::span<const uint8_t>(oversize_).subspan(offset, length),
                             hop_limit};
    transport.send_batch(std::span(&one, 1));
    return;
  }
  Storage& s = *storage_;
  s.out[s.count] = {to,
                    std::span<const uint8_t>(s.bytes).subspan(s.count * kSlotSize + offset, length),
                    hop_limit};
  ++s.count;
  if (!defer || s.count == kSlots) flush(transport, worker);
}

bool TxBatch::commit_unsealed(const Endpoint& to, size_t offset, size_t length,
                              tunnel::UnsealedCapsule capsule, io::Transport& transport,
                              TxWorker* worker) {
  if (building_oversize_) return false;
  Storage& s = *storage_;
  s.unsealed[s.count] = std::move(capsule);
  s.any_unsealed = true;
  s.out[s.count] = {to, std::span<const uint8_t>(s.bytes).subspan(s.count * kSlotSize + offset,
                                                                  length)};
  ++s.count;
  if (s.count == kSlots) flush(transport, worker);
  return true;
}

void TxBatch::flush(io::Transport& transport, TxWorker* worker) {
  if (storage_->count == 0) return;
  // A few datagrams (a ping, a lone ACK) go at once from here: a thread hop would only add
  // latency. Bursts (lwIP's output after a batch of ACKs, a large ntm_send) go to the worker.
  if (worker != nullptr && storage_->any_unsealed && storage_->count >= TxWorker::kMinBatch &&
      worker->submit(*this)) {
    return;
  }
  storage_->seal_and_send(transport);  // no worker, a small batch, or the worker is behind
}

std::unique_ptr<TxBatch::Storage> TxBatch::swap_storage(std::unique_ptr<Storage> fresh) {
  std::swap(storage_, fresh);
  return fresh;
}

}  // namespace ntm::node
