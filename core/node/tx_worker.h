// The node's TX worker: a thread that seals and sends the batches lwIP's output gathered, so the
// thread that runs lwIP (the receiver, processing ACKs; an application thread in ntm_send) goes
// on with the stack while another core does the AEAD and the sendmmsg. Batches from one thread
// leave in order. When the worker is behind by kMaxQueued batches, submit() refuses and the
// calling thread seals and sends itself: the queue stays bounded and no core idles.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "io/transport.h"
#include "node/tx_batch.h"

namespace ntm::node {

class TxWorker {
 public:
  static constexpr size_t kMaxQueued = 8;
  // Smaller batches are sealed and sent by the thread that made them (TxBatch::flush).
  static constexpr size_t kMinBatch = 8;

  explicit TxWorker(io::Transport& transport);
  ~TxWorker();  // sends what is queued, then joins
  TxWorker(const TxWorker&) = delete;
  TxWorker& operator=(const TxWorker&) = delete;

  // Takes the batch's storage (it gets an empty one) for the worker to seal and send. False
  // when the queue is full: the batch is untouched.
  bool submit(TxBatch& batch);

  uint64_t batches() const;  // submitted so far (tests, stats)

 private:
  void run();

  io::Transport& transport_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<TxBatch::Storage>> queue_;
  std::vector<std::unique_ptr<TxBatch::Storage>> free_;
  bool stopping_ = false;
  uint64_t batches_ = 0;
  std::thread thread_;  // last: started after the state it uses
};

}  // namespace ntm::node
