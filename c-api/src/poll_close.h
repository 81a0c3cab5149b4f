// Internal to the C ABI: keeps lwIP from ever polling a socket that is being closed
// (poll_close.cc explains why).
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace ntm::capi {

// ntm_poll(), before lwIP's poll: open[i] tells whether fds[i] is an open ntm socket (the
// others are not passed to lwIP: POLLNVAL); the open ones count this call as a poller.
void begin_poll(const int* fds, size_t count, std::vector<bool>& open);
// After lwIP's poll: closed_meanwhile[i] for the open ones the application closed during the
// wait (POLLNVAL); closes those whose last poller this was.
void end_poll(const int* fds, size_t count, const std::vector<bool>& open,
              std::vector<bool>& closed_meanwhile);
// Closes fd, already out of the registry: at once if no ntm_poll() waits on it, else wakes the
// pollers and leaves the close to the last of them. 0, or -1 and errno (lwIP's close).
int close_unless_polled(int fd);
// ntm_stop(), once it closed every socket: waits (bounded) for the closes left to pollers.
void wait_for_deferred_closes(std::chrono::milliseconds bound);

}  // namespace ntm::capi
