#include "pump.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ntm.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <system_error>
#include <thread>

namespace ntm::cli {

namespace {

constexpr size_t kChunk = 64 * 1024;

struct Connection {
  int os_fd;
  int ntm_fd;
  ConnectionLimit* limit;
  std::atomic<int> finished{0};
  std::atomic<bool> aborted{false};

  // Aborts both directions: the blocked real-side read returns at once (shutdown), the
  // virtual side is reset by closing it with linger 0 when both pumps are done.
  void abort() {
    if (aborted.exchange(true)) return;
    ::shutdown(os_fd, SHUT_RDWR);
    ntm_shutdown(ntm_fd, SHUT_RDWR);
  }
  // The second pump to finish closes both descriptors.
  void done() {
    if (finished.fetch_add(1) != 1) return;
    if (aborted.load()) {
      linger off{1, 0};  // pass the reset on to the real program
      ::setsockopt(os_fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
    }
    ::close(os_fd);
    ntm_close(ntm_fd);
    limit->release();
  }
};

// Real -> virtual.
void pump_to_virtual(std::shared_ptr<Connection> c) {
  std::unique_ptr<char[]> buffer(new char[kChunk]);
  for (;;) {
    const ssize_t n = ::recv(c->os_fd, buffer.get(), kChunk, 0);
    if (n > 0) {
      if (!write_all_ntm(c->ntm_fd, {buffer.get(), static_cast<size_t>(n)})) {
        c->abort();
        break;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || c->aborted.load()) {
      c->abort();
      break;
    }
    ntm_shutdown(c->ntm_fd, SHUT_WR);  // the real program finished sending: send FIN
    break;
  }
  c->done();
}

// Virtual -> real. A receive timeout lets it notice an abort from the other direction.
void pump_to_real(std::shared_ptr<Connection> c) {
  std::unique_ptr<char[]> buffer(new char[kChunk]);
  for (;;) {
    const ssize_t n = ntm_recv(c->ntm_fd, buffer.get(), kChunk, 0);
    if (n > 0) {
      if (!write_all_os(c->os_fd, {buffer.get(), static_cast<size_t>(n)})) {
        c->abort();
        break;
      }
      continue;
    }
    if (n == 0) {
      ::shutdown(c->os_fd, SHUT_WR);  // the peer finished sending: pass the FIN on
      break;
    }
    if ((errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && !c->aborted.load()) continue;
    c->abort();  // reset by the peer, node stopping, or aborted by the other direction
    break;
  }
  c->done();
}

}  // namespace

bool ConnectionLimit::try_acquire() {
  size_t now = active_.load();
  do {
    if (now >= limit_.load()) return false;
  } while (!active_.compare_exchange_weak(now, now + 1));
  return true;
}

void ConnectionLimit::release() { active_.fetch_sub(1); }

bool write_all_os(int fd, std::span<const char> data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

bool write_all_ntm(int fd, std::span<const char> data) {
  while (!data.empty()) {
    const ssize_t n = ntm_send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    data = data.subspan(static_cast<size_t>(n));
  }
  return true;
}

void tune_virtual_stream(int ntm_fd) {
  const int one = 1;
  ntm_setsockopt(ntm_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

bool start_pump(int os_fd, int ntm_fd, ConnectionLimit& limit) {
  // The virtual read wakes every 200 ms to see whether the other direction aborted.
  timeval tv{0, 200 * 1000};
  ntm_setsockopt(ntm_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const int one = 1;
  ::setsockopt(os_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto c = std::make_shared<Connection>();
  c->os_fd = os_fd;
  c->ntm_fd = ntm_fd;
  c->limit = &limit;
  try {
    std::thread(pump_to_real, c).detach();
  } catch (const std::system_error&) {
    ::close(os_fd);
    ntm_close(ntm_fd);
    limit.release();
    return false;
  }
  try {
    std::thread(pump_to_virtual, c).detach();
  } catch (const std::system_error&) {
    c->abort();
    c->done();  // the running pump finishes the connection
    return false;
  }
  return true;
}

}  // namespace ntm::cli
