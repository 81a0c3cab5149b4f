// Outgoing datagrams of one thread, gathered while that thread holds lwIP's core lock and sent
// with one batched system call when it lets go (or when the batch is full). Built in place:
// the engine seals each capsule straight into its slot, so nothing is copied again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "io/transport.h"

namespace ntm::node {

class TxBatch {
 public:
  static constexpr size_t kSlots = 64;
  static constexpr size_t kSlotSize = 4096;

  TxBatch();
  // A buffer for the next datagram. Sizes above kSlotSize use a side buffer sent on commit.
  std::span<uint8_t> buffer(size_t size, io::Transport& transport);
  // Commits bytes [offset, offset + length) of the last buffer() as a datagram. `defer` keeps
  // it for flush(). `hop_limit`: see io::OutgoingDatagram.
  void commit(const Endpoint& to, size_t offset, size_t length, bool defer,
              io::Transport& transport, uint8_t hop_limit = 0);
  void flush(io::Transport& transport);
  bool empty() const { return count_ == 0; }

 private:
  std::vector<uint8_t> slots_;
  std::array<io::OutgoingDatagram, kSlots> pending_{};
  size_t count_ = 0;
  std::vector<uint8_t> oversize_;
  bool building_oversize_ = false;
};

}  // namespace ntm::node
