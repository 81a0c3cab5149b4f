// ntm-test-node's TCP scenarios: tcp-transfer, duplex, tcp-many, close-wakes, unreachable and
// refused (test_node.cc lists them all).
#include "test_node.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ntm_test {

// ---- tcp-transfer: client sends `bytes`, half-closes, then receives `bytes` back. ----

int tcp_transfer(Config &cfg) {
  start_node(cfg);
  if (cfg.role == "client") {
    // In control-plane mode the AS and DC assign the name and addresses: report them.
    if (cfg.node.options.server != nullptr) print_ready();
    transfer_client(cfg, 0, "conn=0");
    stop_node();
    return 0;
  }
  int listen_fd = listen_socket(cfg.family, cfg.port, 16);
  print_ready();
  for (int i = 0; i < cfg.count; ++i) {
    Conn c = accept_conn(cfg, listen_fd);
    Received got = recv_stream(c);
    std::string sent = send_stream(c, kServerToClientSeed + i, cfg.bytes);
    if (c.shutdown_write() != 0) die_errno("shutdown", errno);
    c.close();
    emit("RESULT conn=%d recv_bytes=%llu recv_sha256=%s sent_bytes=%llu sent_sha256=%s", i,
         static_cast<unsigned long long>(got.bytes), got.sha.c_str(),
         static_cast<unsigned long long>(cfg.bytes), sent.c_str());
  }
  if (g_os_listener >= 0) {
    ::close(g_os_listener);  // owns listen_fd now
  } else {
    ntm_close(listen_fd);
  }
  stop_node();
  return 0;
}

// ---- duplex: a writer thread and a reader thread on one socket, both directions at once. ----

int duplex(Config &cfg) {
  start_node(cfg);
  Conn c;
  int listen_fd = -1;
  uint64_t seed = kClientToServerSeed;
  if (cfg.role == "server") {
    listen_fd = listen_socket(cfg.family, cfg.port, 4);
    print_ready();
    c = accept_conn(cfg, listen_fd);
    seed = kServerToClientSeed;
  } else {
    c = connect_conn(cfg);
  }
  std::string sent;
  std::thread writer([&] {
    sent = send_stream(c, seed, cfg.bytes);
    if (c.shutdown_write() != 0) die_errno("shutdown", errno);
  });
  Received got = recv_stream(c);
  writer.join();
  c.close();
  if (listen_fd >= 0) ntm_close(listen_fd);
  emit("RESULT sent_bytes=%llu sent_sha256=%s recv_bytes=%llu recv_sha256=%s",
       static_cast<unsigned long long>(cfg.bytes), sent.c_str(),
       static_cast<unsigned long long>(got.bytes), got.sha.c_str());
  stop_node();
  return 0;
}

// ---- tcp-many: `count` connections open at once, each echoing `bytes`. ----

namespace {

// A one-shot barrier whose wait gives up after a deadline (a failed thread still arrives).
class Barrier {
 public:
  explicit Barrier(int count) : count_(count) {}
  bool arrive_and_wait(milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (++arrived_ >= count_) cv_.notify_all();
    return cv_.wait_for(lock, timeout, [&] { return arrived_ >= count_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_;
  int arrived_ = 0;
};

}  // namespace

int tcp_many(Config &cfg) {
  start_node(cfg);
  if (cfg.role == "server") {
    int listen_fd = listen_socket(cfg.family, cfg.port, 128);
    print_ready();
    std::atomic<int> active{0};
    std::atomic<int> max_active{0};
    std::atomic<uint64_t> echoed{0};
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < cfg.count; ++i) {
      int fd = ntm_accept(listen_fd, nullptr, nullptr);
      if (fd < 0) die_errno("ntm_accept", errno);
      threads.emplace_back([&, fd] {
        int now = ++active;
        for (int seen = max_active.load(); now > seen && !max_active.compare_exchange_weak(seen, now);) {
        }
        Conn c{fd, false};
        std::vector<unsigned char> buf(65536);
        for (;;) {
          ssize_t n = c.read(buf.data(), buf.size());
          if (n <= 0) {
            if (n < 0) ++errors;
            break;
          }
          c.write_all(buf.data(), static_cast<size_t>(n), "echo send");
          echoed += static_cast<uint64_t>(n);
        }
        --active;
        c.close();
      });
    }
    for (auto &t : threads) t.join();
    ntm_close(listen_fd);
    emit("RESULT connections=%d bytes_echoed=%llu max_concurrent=%d recv_errors=%d", cfg.count,
         static_cast<unsigned long long>(echoed.load()), max_active.load(), errors.load());
    stop_node();
    return 0;
  }

  sockaddr_storage addr;
  socklen_t len = resolve(cfg, &addr);
  Barrier connected(cfg.count);
  Barrier verified(cfg.count);
  std::atomic<int> ok{0};
  std::atomic<int> barrier_timeouts{0};
  std::mutex error_mutex;
  std::string first_error;
  auto record = [&](const std::string &e) {
    std::lock_guard lock(error_mutex);
    if (first_error.empty()) first_error = e;
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < cfg.count; ++i) {
    threads.emplace_back([&, i] {
      int fd = ntm_socket(cfg.family, SOCK_STREAM, 0);
      bool good = fd >= 0;
      if (!good) record(std::string("ntm_socket:") + errno_name(errno));
      if (good && ntm_connect(fd, reinterpret_cast<sockaddr *>(&addr), len) != 0) {
        record(std::string("ntm_connect:") + errno_name(errno));
        good = false;
      }
      if (!connected.arrive_and_wait(milliseconds(60000))) ++barrier_timeouts;
      if (good) {
        std::vector<unsigned char> out(cfg.bytes);
        std::vector<unsigned char> in(cfg.bytes);
        fill(kClientToServerSeed + i, 0, out);
        size_t sent = 0;
        while (good && sent < out.size()) {
          ssize_t n = ntm_send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
          if (n < 0) {
            record(std::string("ntm_send:") + errno_name(errno));
            good = false;
          } else {
            sent += static_cast<size_t>(n);
          }
        }
        size_t got = 0;
        while (good && got < in.size()) {
          ssize_t n = ntm_recv(fd, in.data() + got, in.size() - got, 0);
          if (n <= 0) {
            record(n == 0 ? std::string("early-eof") : std::string("ntm_recv:") + errno_name(errno));
            good = false;
          } else {
            got += static_cast<size_t>(n);
          }
        }
        if (good && in != out) {
          record("echo-mismatch");
          good = false;
        }
      }
      if (!verified.arrive_and_wait(milliseconds(60000))) ++barrier_timeouts;
      if (fd >= 0) ntm_close(fd);
      if (good) ++ok;
    });
  }
  for (auto &t : threads) t.join();
  emit("RESULT ok=%d failed=%d barrier_timeouts=%d first_error=%s", ok.load(),
       cfg.count - ok.load(), barrier_timeouts.load(),
       first_error.empty() ? "-" : first_error.c_str());
  stop_node();
  return 0;
}

// ---- close-wakes: ntm_close() from another thread wakes a call blocked on the socket. ----

namespace {

void blocked_call_woken_by_close(const char *kind, int fd, const std::function<ssize_t()> &call) {
  std::mutex m;
  std::condition_variable cv;
  bool entered = false;
  bool done = false;
  ssize_t ret = 0;
  int err = 0;
  Clock::time_point returned;
  std::thread blocked([&] {
    {
      std::lock_guard lock(m);
      entered = true;
    }
    cv.notify_all();
    ssize_t r = call();
    int e = errno;
    std::lock_guard lock(m);
    ret = r;
    err = e;
    returned = Clock::now();
    done = true;
    cv.notify_all();
  });
  std::unique_lock lock(m);
  if (!cv.wait_for(lock, milliseconds(5000), [&] { return entered; })) die("thread did not start");
  // The call must still be blocked 300 ms later (nothing can arrive); this is the check, not a
  // sleep: returning early is reported as early=1.
  bool early = cv.wait_for(lock, milliseconds(300), [&] { return done; });
  auto closed_at = Clock::now();
  int close_rc = ntm_close(fd);
  int close_errno = errno;
  if (!cv.wait_for(lock, milliseconds(5000), [&] { return done; })) {
    emit("RESULT kind=%s early=0 close_rc=%d ret=timeout wake_ms=5000", kind, close_rc);
    std::_Exit(0);  // the blocked thread cannot be joined; the driver fails the scenario
  }
  long long wake_ms = std::chrono::duration_cast<milliseconds>(returned - closed_at).count();
  emit("RESULT kind=%s early=%d close_rc=%d close_errno=%s ret=%zd errno=%s wake_ms=%lld", kind,
       early ? 1 : 0, close_rc, close_rc == 0 ? "-" : errno_name(close_errno), ret,
       ret < 0 ? errno_name(err) : "-", early ? -1LL : wake_ms);
  lock.unlock();
  blocked.join();
}

}  // namespace

int close_wakes(Config &cfg) {
  start_node(cfg);
  if (cfg.role == "server") {
    // Backlog 1: the client's second connection waits in it (never accepted), so its third
    // connection attempt gets no answer and stays blocked in ntm_connect.
    int listen_fd = listen_socket(cfg.family, cfg.port, 1);
    print_ready();
    int fd = ntm_accept(listen_fd, nullptr, nullptr);
    if (fd < 0) die_errno("ntm_accept", errno);
    char buf[64];
    ssize_t n = ntm_recv(fd, buf, sizeof buf, 0);  // the client's close ends it
    emit("RESULT server_recv=%zd errno=%s", n, n < 0 ? errno_name(errno) : "-");
    ntm_close(fd);
    ntm_close(listen_fd);
    stop_node();
    return 0;
  }
  Conn c = connect_conn(cfg);
  char buf[64];
  Conn polled = connect_conn(cfg);
  blocked_call_woken_by_close("tcp-poll", polled.fd, [&] {
    pollfd p{polled.fd, POLLIN, 0};
    return static_cast<ssize_t>(ntm_poll(&p, 1, -1));
  });
  int udp_polled = bound_socket(cfg.family, SOCK_DGRAM, 0);
  blocked_call_woken_by_close("udp-poll", udp_polled, [&] {
    pollfd p{udp_polled, POLLIN, 0};
    return static_cast<ssize_t>(ntm_poll(&p, 1, -1));
  });
  sockaddr_storage server_addr{};
  socklen_t server_len = resolve(cfg, &server_addr);
  int unanswered = ntm_socket(cfg.family, SOCK_STREAM, 0);
  if (unanswered < 0) die_errno("ntm_socket", errno);
  blocked_call_woken_by_close("connect", unanswered, [&] {
    return static_cast<ssize_t>(
        ntm_connect(unanswered, reinterpret_cast<sockaddr *>(&server_addr), server_len));
  });
  blocked_call_woken_by_close("tcp-recv", c.fd, [&] { return ntm_recv(c.fd, buf, sizeof buf, 0); });
  int udp_fd = bound_socket(cfg.family, SOCK_DGRAM, 0);
  blocked_call_woken_by_close("udp-recvfrom", udp_fd, [&] {
    return ntm_recvfrom(udp_fd, buf, sizeof buf, 0, nullptr, nullptr);
  });
  int listen_fd = listen_socket(cfg.family, static_cast<unsigned short>(cfg.port + 1), 4);
  blocked_call_woken_by_close("accept", listen_fd, [&] {
    return static_cast<ssize_t>(ntm_accept(listen_fd, nullptr, nullptr));
  });
  stop_node();
  return 0;
}

// ---- unreachable: a virtual address no peer owns fails at once with EHOSTUNREACH. ----

int unreachable(Config &cfg) {
  start_node(cfg);
  struct Target {
    int family;
    const char *address;
  };
  for (Target t : {Target{AF_INET, "100.64.9.9"}, Target{AF_INET6, "fd00:6e74:6d::99"}}) {
    sockaddr_storage addr{};
    socklen_t len = any_address(t.family, 80, &addr);
    void *raw = t.family == AF_INET
                    ? static_cast<void *>(&reinterpret_cast<sockaddr_in &>(addr).sin_addr)
                    : static_cast<void *>(&reinterpret_cast<sockaddr_in6 &>(addr).sin6_addr);
    inet_pton(t.family, t.address, raw);
    int fd = ntm_socket(t.family, SOCK_STREAM, 0);
    if (fd < 0) die_errno("ntm_socket", errno);
    auto start = Clock::now();
    int rc = ntm_connect(fd, reinterpret_cast<sockaddr *>(&addr), len);
    int err = errno;
    emit("RESULT family=%d target=%s ret=%d errno=%s elapsed_ms=%lld",
         t.family == AF_INET ? 4 : 6, t.address, rc, rc < 0 ? errno_name(err) : "-",
         ms_since(start));
    ntm_close(fd);
  }
  stop_node();
  return 0;
}

// ---- refused: connecting to the peer's port P + 1, where nothing listens, fails with
// ECONNREFUSED both blocking and non-blocking (SO_ERROR); then the usual transfer on port P. ----

int refused(Config &cfg) {
  start_node(cfg);
  sockaddr_storage addr{};
  socklen_t len = resolve(cfg, &addr);
  auto &port = addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in &>(addr).sin_port
                                         : reinterpret_cast<sockaddr_in6 &>(addr).sin6_port;
  port = htons(static_cast<uint16_t>(ntohs(port) + 1));
  int fd = ntm_socket(addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  int rc = ntm_connect(fd, reinterpret_cast<sockaddr *>(&addr), len);
  emit("RESULT mode=blocking ret=%d errno=%s", rc, rc < 0 ? errno_name(errno) : "-");
  ntm_close(fd);

  fd = ntm_socket(addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  ntm_fcntl(fd, F_SETFL, O_NONBLOCK);
  rc = ntm_connect(fd, reinterpret_cast<sockaddr *>(&addr), len);
  int first = rc < 0 ? errno : 0;
  pollfd p{fd, POLLOUT, 0};
  int ready = ntm_poll(&p, 1, 10000);
  int so_error = 0;
  socklen_t so_len = sizeof so_error;
  ntm_getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &so_len);
  emit("RESULT mode=nonblocking connect_errno=%s ready=%d so_error=%s", errno_name(first), ready,
       so_error != 0 ? errno_name(so_error) : "0");
  ntm_close(fd);
  transfer_client(cfg, 0, "conn=0");
  stop_node();
  return 0;
}

}  // namespace ntm_test
