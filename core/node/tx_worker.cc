#include "node/tx_worker.h"

namespace ntm::node {

TxWorker::TxWorker(io::Transport& transport)
    : transport_(transport), thread_([this] { run(); }) {}

TxWorker::~TxWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

bool TxWorker::submit(TxBatch& batch) {
  std::unique_ptr<TxBatch::Storage> fresh;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= kMaxQueued) return false;
    if (!free_.empty()) {
      fresh = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!fresh) fresh = std::make_unique<TxBatch::Storage>();  // at most kMaxQueued + 1 per thread
  auto full = batch.swap_storage(std::move(fresh));
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(full));
    ++batches_;
  }
  ready_.notify_one();
  return true;
}

uint64_t TxWorker::batches() const {
  std::lock_guard lock(mutex_);
  return batches_;
}

void TxWorker::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    auto storage = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    storage->seal_and_send(transport_);
    lock.lock();
    free_.push_back(std::move(storage));
  }
}

}  // namespace ntm::node
