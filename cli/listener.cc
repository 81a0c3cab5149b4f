#include "listener.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "log.h"

namespace ntm::cli {

RealListener::RealListener(const SockAddr& at, Handler on_accept, std::string what)
    : fd_(bind_real(at, SOCK_STREAM)),
      stop_fd_(::eventfd(0, EFD_CLOEXEC)),
      on_accept_(std::move(on_accept)),
      what_(std::move(what)) {
  thread_ = std::thread([this] { run(); });
}

RealListener::~RealListener() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
  ::close(stop_fd_);
}

SockAddr RealListener::local() const {
  SockAddr a;
  a.length = sizeof(a.storage);
  ::getsockname(fd_, a.get(), &a.length);
  return a;
}

void RealListener::run() {
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      CLI_ERROR("%s: poll: %s", what_.c_str(), std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    SockAddr from;
    from.length = sizeof(from.storage);
    const int fd = ::accept4(fd_, from.get(), &from.length, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        CLI_WARN("%s: accept: %s", what_.c_str(), std::strerror(errno));
        // Out of descriptors: back off briefly instead of spinning.
        if (errno == EMFILE || errno == ENFILE) ::poll(nullptr, 0, 100);
      }
      continue;
    }
    try {
      std::thread([handler = on_accept_, fd, from] { handler(fd, from); }).detach();
    } catch (const std::system_error&) {
      CLI_WARN("%s: no thread for a new connection; closing it", what_.c_str());
      ::close(fd);
    }
  }
}

}  // namespace ntm::cli
