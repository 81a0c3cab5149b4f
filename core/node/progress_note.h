// Says at info level that start-up is still waiting for a server, once it has waited a second
// ("waiting for the AS at 192.0.2.1:7800 (login) ..."), so a slow or silent AS/DC does not look
// like a hung program. RAII: the note is cancelled (and its thread joined) when the step ends.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace ntm::node {

class ProgressNote {
 public:
  explicit ProgressNote(std::string waiting_for);
  ~ProgressNote();
  ProgressNote(const ProgressNote&) = delete;
  ProgressNote& operator=(const ProgressNote&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cond_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace ntm::node
