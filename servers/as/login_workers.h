// The AS's pool for the slow part of a login (the password hash, by design tens of ms of CPU
// and ~19 MiB each). Network I/O never runs here: the event loop hands over a decoded request
// and gets the answer back, so a slow client never holds a worker.
//
// Admission: the pool knows how long a job takes on average (moving average of the last jobs)
// and so how long a new job would wait. The AS answers "busy, retry in N ms" instead of queueing
// a login that would wait longer than the client's patience.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ntm::servers {

class LoginWorkers {
 public:
  using Job = std::function<void()>;

  // `threads` workers (at least 1); at most `max_queued` jobs waiting.
  LoginWorkers(unsigned threads, size_t max_queued);
  ~LoginWorkers();
  LoginWorkers(const LoginWorkers&) = delete;
  LoginWorkers& operator=(const LoginWorkers&) = delete;

  // How long a job submitted now would wait before it finishes (queue and jobs in progress
  // divided among the workers, times the average job time).
  std::chrono::milliseconds estimated_wait() const;
  // Queues `job`; false (job not taken) when the queue is full or the pool stopped.
  bool submit(Job job);
  // Drops queued jobs, waits for the running ones and joins the threads. Idempotent.
  void stop();

 private:
  void run();

  const unsigned threads_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  unsigned running_ = 0;
  double average_ms_ = 50.0;  // until measured: a typical password hash
  bool stopping_ = false;
  std::vector<std::thread> pool_;
};

}  // namespace ntm::servers
