// An in-memory network for tests: transports attached to one MemoryNetwork exchange datagrams by
// endpoint, with hooks to drop, tamper with, record and re-inject traffic. No sockets involved.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "io/transport.h"

namespace ntm::io {

class MemoryTransport;

class MemoryNetwork : public std::enable_shared_from_this<MemoryNetwork> {
 public:
  enum class Verdict { deliver, drop };
  // Sees every sent datagram before delivery and may change its bytes. Calls are serialized;
  // a filter may call inject() but not set_filter().
  using Filter =
      std::function<Verdict(const Endpoint& from, const Endpoint& to, std::vector<uint8_t>& bytes)>;

  struct Stats {
    size_t delivered = 0;
    size_t dropped_by_filter = 0;
    size_t dropped_no_route = 0;    // no transport attached at the destination
    size_t dropped_queue_full = 0;  // the destination's queue was at its limit
  };

  static constexpr size_t kDefaultQueueLimit = 4096;

  static std::shared_ptr<MemoryNetwork> create();

  // Use create(); the key keeps construction inside this class.
  class Key {
    friend class MemoryNetwork;
    Key() = default;
  };
  explicit MemoryNetwork(Key) {}

  // Attaches a transport at `local`. Port 0 picks a free port from 49152 up. Throws
  // std::invalid_argument if `local` has no family or is already attached. The transport
  // detaches when destroyed; it keeps the network alive.
  std::unique_ptr<MemoryTransport> attach(Endpoint local, size_t queue_limit = kDefaultQueueLimit);

  // Replaces the filter; an empty function removes it.
  void set_filter(Filter filter);

  // Delivers a datagram as if `from` had sent it to `to`, bypassing the filter (replay, forgery).
  // Returns whether it was queued.
  bool inject(const Endpoint& from, const Endpoint& to, std::span<const uint8_t> bytes);

  Stats stats() const;

 private:
  friend class MemoryTransport;

  struct Datagram {
    Endpoint from;
    std::vector<uint8_t> bytes;
  };
  // One attached transport's receive queue.
  struct Mailbox {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<Datagram> queue;
    size_t limit = kDefaultQueueLimit;
    bool woken = false;
  };

  // Runs the filter, then delivers. Called by MemoryTransport::send_batch.
  void send(const Endpoint& from, const Endpoint& to, std::span<const uint8_t> bytes);
  bool deliver(const Endpoint& from, const Endpoint& to, std::vector<uint8_t> bytes);
  void detach(const Endpoint& local);

  mutable std::mutex mutex_;  // guards mailboxes_, stats_, next_port_
  std::unordered_map<Endpoint, std::shared_ptr<Mailbox>, EndpointHash> mailboxes_;
  Stats stats_;
  uint16_t next_port_ = 49152;

  std::mutex filter_mutex_;  // serializes filter calls and guards filter_
  Filter filter_;
};

class MemoryTransport final : public Transport {
 public:
  // Use MemoryNetwork::attach(); the key keeps construction there.
  class Key {
    friend class MemoryNetwork;
    Key() = default;
  };
  MemoryTransport(Key, std::shared_ptr<MemoryNetwork> network, Endpoint local,
                  std::shared_ptr<MemoryNetwork::Mailbox> mailbox);
  ~MemoryTransport() override;
  MemoryTransport(const MemoryTransport&) = delete;
  MemoryTransport& operator=(const MemoryTransport&) = delete;

  // Each datagram is copied, filtered and queued at its destination (or dropped).
  void send_batch(std::span<const OutgoingDatagram> datagrams) override;
  // Datagrams larger than their slot's buffer are dropped, as with UdpTransport.
  size_t receive(std::span<ReceiveSlot> slots, std::chrono::milliseconds timeout) override;
  void wake() override;
  std::vector<Endpoint> local_endpoints() const override { return {local_}; }

  const Endpoint& local() const { return local_; }

 private:

  std::shared_ptr<MemoryNetwork> network_;
  Endpoint local_;
  std::shared_ptr<MemoryNetwork::Mailbox> mailbox_;
};

}  // namespace ntm::io
