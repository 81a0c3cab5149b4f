#include "io/memory_transport.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ntm::io {

std::shared_ptr<MemoryNetwork> MemoryNetwork::create() {
  return std::make_shared<MemoryNetwork>(Key{});
}

std::unique_ptr<MemoryTransport> MemoryNetwork::attach(Endpoint local, size_t queue_limit) {
  if (!local.valid()) throw std::invalid_argument("memory network: endpoint has no address family");
  auto mailbox = std::make_shared<Mailbox>();
  mailbox->limit = queue_limit;
  {
    std::lock_guard lock(mutex_);
    if (local.port == 0) {
      for (uint32_t tries = 0; tries < 65536; ++tries) {
        local.port = next_port_;
        next_port_ = next_port_ == 65535 ? 49152 : static_cast<uint16_t>(next_port_ + 1);
        if (!mailboxes_.contains(local)) break;
      }
    }
    if (!mailboxes_.emplace(local, mailbox).second) {
      throw std::invalid_argument("memory network: " + local.to_string() + " is already attached");
    }
  }
  return std::make_unique<MemoryTransport>(MemoryTransport::Key{}, shared_from_this(), local,
                                           std::move(mailbox));
}

void MemoryNetwork::set_filter(Filter filter) {
  std::lock_guard lock(filter_mutex_);
  filter_ = std::move(filter);
}

bool MemoryNetwork::inject(const Endpoint& from, const Endpoint& to,
                           std::span<const uint8_t> bytes) {
  return deliver(from, to, std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

MemoryNetwork::Stats MemoryNetwork::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void MemoryNetwork::send(const Endpoint& from, const Endpoint& to,
                         std::span<const uint8_t> bytes) {
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  {
    std::lock_guard lock(filter_mutex_);
    if (filter_ && filter_(from, to, copy) == Verdict::drop) {
      std::lock_guard stats_lock(mutex_);
      ++stats_.dropped_by_filter;
      return;
    }
  }
  deliver(from, to, std::move(copy));
}

bool MemoryNetwork::deliver(const Endpoint& from, const Endpoint& to, std::vector<uint8_t> bytes) {
  std::shared_ptr<Mailbox> mailbox;
  {
    std::lock_guard lock(mutex_);
    auto it = mailboxes_.find(to);
    if (it == mailboxes_.end()) {
      ++stats_.dropped_no_route;
      return false;
    }
    mailbox = it->second;
  }
  bool queued = false;
  {
    std::lock_guard lock(mailbox->mutex);
    if (mailbox->queue.size() < mailbox->limit) {
      mailbox->queue.push_back(Datagram{from, std::move(bytes)});
      queued = true;
    }
  }
  if (queued) mailbox->ready.notify_one();
  std::lock_guard lock(mutex_);
  ++(queued ? stats_.delivered : stats_.dropped_queue_full);
  return queued;
}

void MemoryNetwork::detach(const Endpoint& local) {
  std::lock_guard lock(mutex_);
  mailboxes_.erase(local);
}

MemoryTransport::MemoryTransport(Key, std::shared_ptr<MemoryNetwork> network, Endpoint local,
                                 std::shared_ptr<MemoryNetwork::Mailbox> mailbox)
    : network_(std::move(network)), local_(local), mailbox_(std::move(mailbox)) {}

MemoryTransport::~MemoryTransport() { network_->detach(local_); }

void MemoryTransport::send_batch(std::span<const OutgoingDatagram> datagrams) {
  for (const auto& d : datagrams) network_->send(local_, d.to, d.bytes);
}

size_t MemoryTransport::receive(std::span<ReceiveSlot> slots, std::chrono::milliseconds timeout) {
  if (slots.empty()) return 0;
  auto& box = *mailbox_;
  std::unique_lock lock(box.mutex);
  // Clamped so that now() + timeout cannot overflow.
  const auto wait = std::clamp<std::chrono::milliseconds>(timeout, std::chrono::milliseconds(0),
                                                          std::chrono::hours(24 * 365));
  box.ready.wait_for(lock, wait,
                     [&box] { return !box.queue.empty() || box.woken; });
  box.woken = false;
  size_t filled = 0;
  while (filled < slots.size() && !box.queue.empty()) {
    MemoryNetwork::Datagram d = std::move(box.queue.front());
    box.queue.pop_front();
    ReceiveSlot& slot = slots[filled];
    if (d.bytes.size() > slot.buffer.size()) continue;  // would be truncated: drop
    std::copy(d.bytes.begin(), d.bytes.end(), slot.buffer.begin());
    slot.length = d.bytes.size();
    slot.from = d.from;
    ++filled;
  }
  return filled;
}

void MemoryTransport::wake() {
  {
    std::lock_guard lock(mailbox_->mutex);
    mailbox_->woken = true;
  }
  mailbox_->ready.notify_all();
}

}  // namespace ntm::io
