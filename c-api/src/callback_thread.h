// Runs the application's callbacks (events, log lines) on one library thread, in order, so that
// the library's own threads never wait inside foreign code (a JVM, an interpreter). This is what
// lets a process exit while a callback is stuck: at exit the library stops delivering and leaves
// a busy callback thread behind instead of joining it (see exit_guard.cc).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace ntm::capi {

class CallbackThread {
 public:
  explicit CallbackThread(const char* name);
  // Joins (after delivering what is queued), unless abandon() was called before.
  ~CallbackThread();
  CallbackThread(const CallbackThread&) = delete;
  CallbackThread& operator=(const CallbackThread&) = delete;

  // Queues a call; dropped once the process is exiting or after close()/abandon().
  void post(std::function<void()> call);
  // Returns once everything posted before has run (at once on the callback thread itself).
  void flush();
  // Delivers what is queued, then ends the thread and joins it.
  void close();
  // Process exit: stop delivering and never wait. The object must then be leaked (the thread
  // may be stuck in a callback of a dying runtime and still refer to it).
  void abandon();
  bool on_thread() const;

 private:
  void run();

  const char* name_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  unsigned long long posted_ = 0, done_ = 0;
  bool closing_ = false;
  bool abandoned_ = false;
  std::thread thread_;
};

// True once the process has begun exiting (static destruction of libntm): no callback into the
// application may start any more.
bool process_exiting();

}  // namespace ntm::capi
