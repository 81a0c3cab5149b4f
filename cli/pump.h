// Moves a TCP connection's bytes between a real (kernel) socket and a virtual (ntm) socket: one
// thread per direction, each with a fixed 64 KiB buffer (so memory per connection is bounded and
// a slow reader slows the writer through TCP's own flow control). An end of stream on one side
// is passed on as a half-close (shutdown SHUT_WR) on the other, and the other direction keeps
// flowing until it ends too; a reset or error on either side aborts both (a reset is passed on
// to the real socket as RST).
#pragma once

#include <atomic>
#include <cstddef>
#include <span>

namespace ntm::cli {

// Counts proxied connections against a limit (max-connections) and lets shutdown wait for them.
class ConnectionLimit {
 public:
  explicit ConnectionLimit(size_t limit) : limit_(limit) {}
  bool try_acquire();
  void release();
  size_t active() const { return active_.load(); }
  void set_limit(size_t limit) { limit_.store(limit); }

 private:
  std::atomic<size_t> limit_;
  std::atomic<size_t> active_{0};
};

// Starts the two pumps; takes ownership of both descriptors (closed when both directions have
// ended) and of one unit of `limit` (released then). `limit` must outlive the pumps.
// Returns false (both descriptors closed, unit released) if the threads could not start.
bool start_pump(int os_fd, int ntm_fd, ConnectionLimit& limit);

// Writes all of `data` to a real / virtual socket. False on error.
bool write_all_os(int fd, std::span<const char> data);
bool write_all_ntm(int fd, std::span<const char> data);

// Tunes a fresh connected virtual socket for proxying (TCP_NODELAY: the real program already
// decided how to batch its writes).
void tune_virtual_stream(int ntm_fd);

}  // namespace ntm::cli
