// A real TCP listener with its own accept thread: each accepted connection is handed to
// `on_accept` on a new thread (which may block: connecting to a peer, a proxy handshake). The
// destructor stops accepting (and waits for the accept thread, not for the connections).
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "address.h"

namespace ntm::cli {

class RealListener {
 public:
  using Handler = std::function<void(int fd, const SockAddr& from)>;
  // Binds and listens on `at`. Throws ConfigError.
  RealListener(const SockAddr& at, Handler on_accept, std::string what);
  ~RealListener();
  RealListener(const RealListener&) = delete;
  RealListener& operator=(const RealListener&) = delete;
  SockAddr local() const;

 private:
  void run();
  int fd_;
  int stop_fd_;  // eventfd: wakes the accept loop
  Handler on_accept_;
  std::string what_;
  std::thread thread_;
};

}  // namespace ntm::cli
