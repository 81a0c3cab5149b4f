// Outgoing datagrams of one thread, gathered while that thread holds lwIP's core lock and sent
// with one batched system call when it lets go (or when the batch is full). Built in place: the
// engine writes each capsule straight into its slot, so nothing is copied again. Capsules may
// be committed unsealed (their counter taken, the AEAD not yet run): whoever sends the batch -
// the node's TX worker on another core, or this thread - seals them first.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "io/transport.h"
#include "tunnel/engine.h"

namespace ntm::node {

class TxWorker;

class TxBatch {
 public:
  static constexpr size_t kSlots = 64;
  static constexpr size_t kSlotSize = 4096;

  // The slots and what is committed in them; moves between a thread's batch and the TX worker.
  struct Storage {
    Storage() : bytes(kSlots * kSlotSize) {}
    std::vector<uint8_t> bytes;
    std::array<io::OutgoingDatagram, kSlots> out{};
    std::array<tunnel::UnsealedCapsule, kSlots> unsealed{};  // session null: sealed already
    size_t count = 0;
    bool any_unsealed = false;
    // Seals what is not sealed yet, sends everything, and empties the storage.
    void seal_and_send(io::Transport& transport);
  };

  TxBatch();
  // A buffer for the next datagram. Sizes above kSlotSize use a side buffer sent on commit.
  std::span<uint8_t> buffer(size_t size, io::Transport& transport, TxWorker* worker);
  // Commits bytes [offset, offset + length) of the last buffer() as a (sealed) datagram.
  // `defer` keeps it for flush(). `hop_limit`: see io::OutgoingDatagram.
  void commit(const Endpoint& to, size_t offset, size_t length, bool defer,
              io::Transport& transport, TxWorker* worker, uint8_t hop_limit = 0);
  // Commits a capsule to seal later, kept for flush(). False (nothing done) for a datagram in
  // the side buffer: the caller seals and commits it itself.
  bool commit_unsealed(const Endpoint& to, size_t offset, size_t length,
                       tunnel::UnsealedCapsule capsule, io::Transport& transport,
                       TxWorker* worker);
  // Sends what is gathered: through the worker when there is one, capsules wait for their seal
  // and there are at least TxWorker::kMinBatch datagrams (it seals and sends on its core), else
  // here.
  void flush(io::Transport& transport, TxWorker* worker);
  bool empty() const { return storage_->count == 0; }

  // For the worker: takes the gathered storage, leaving `fresh` (empty) in its place.
  std::unique_ptr<Storage> swap_storage(std::unique_ptr<Storage> fresh);

 private:
  std::unique_ptr<Storage> storage_;
  std::vector<uint8_t> oversize_;
  bool building_oversize_ = false;
};

}  // namespace ntm::node
