// ntm-test-node: one ntmobile node (one per process) running one integration scenario in the
// server or client role. It reports what it saw as machine-readable lines on stdout
// ("READY ...", "RESULT key=value ...", "ERROR ...") and leaves every judgement to the driver
// (integration_tests.cc). Uses only ntm.h (plus the examples' option parser) and OpenSSL.
//
//   ntm-test-node SCENARIO [--role server|client] NODE-OPTIONS [--connect NAME:PORT] [-6]
//                 [--port N] [--bytes N] [--count N] [--bridge none|connect|socket|listen]
//                 [--restart-cipher aes|chacha] [--timeout SECONDS]
//
// Scenarios: tcp-transfer, duplex, tcp-many, udp, close-wakes, unreachable, restart, node-api,
// errors. Values never contain spaces except a trailing msg=..., which runs to the end of line.
#include <ntm.h>

#include "node_args.h"
#include "test_data.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace ntm_test;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Config {
  std::string scenario;
  std::string role = "client";
  node_args node{};
  std::string connect;
  int family = AF_INET;
  unsigned short port = 5000;
  uint64_t bytes = 16u << 20;
  int count = 1;
  std::string bridge = "none";
  std::string restart_cipher;
  unsigned timeout_s = 120;
};

const char *errno_name(int err) {
  const char *name = strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

// Fatal problems end the process at once (library threads may still run, so no destructors).
[[noreturn]] void die_errno(const std::string &what, int err) {
  emit("ERROR what=%s errno=%s msg=%s", what.c_str(), errno_name(err), strerror(err));
  std::_Exit(1);
}
[[noreturn]] void die_ntm(const std::string &what, int rc) {
  emit("ERROR what=%s rc=%d msg=%s", what.c_str(), rc, ntm_last_error());
  std::_Exit(1);
}
[[noreturn]] void die(const std::string &what) {
  emit("ERROR what=%s", what.c_str());
  std::_Exit(1);
}

long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// A stream connection: an ntm descriptor, or an OS descriptor from the real-fd bridge used with
// plain read()/write().
struct Conn {
  int fd = -1;
  bool os = false;
  ssize_t read(void *buf, size_t len) const {
    return os ? ::read(fd, buf, len) : ntm_recv(fd, buf, len, 0);
  }
  ssize_t write(const void *buf, size_t len) const {
    return os ? ::write(fd, buf, len) : ntm_send(fd, buf, len, MSG_NOSIGNAL);
  }
  int shutdown_write() const { return os ? ::shutdown(fd, SHUT_WR) : ntm_shutdown(fd, SHUT_WR); }
  int close() const { return os ? ::close(fd) : ntm_close(fd); }
};

constexpr size_t kChunk = 256 * 1024;

void write_all(const Conn &c, const unsigned char *data, size_t len, const char *what) {
  while (len > 0) {
    ssize_t n = c.write(data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno(what, errno);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
}

// Sends `bytes` of stream `seed` and returns its SHA-256.
std::string send_stream(const Conn &c, uint64_t seed, uint64_t bytes) {
  std::vector<unsigned char> buf(kChunk);
  Sha256 sha;
  for (uint64_t off = 0; off < bytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(bytes - off, kChunk));
    fill(seed, off, {buf.data(), n});
    sha.update({buf.data(), n});
    write_all(c, buf.data(), n, "send");
    off += n;
  }
  return sha.hex();
}

struct Received {
  uint64_t bytes = 0;
  std::string sha;
};

// Reads until end of stream; returns the byte count and SHA-256.
Received recv_stream(const Conn &c) {
  std::vector<unsigned char> buf(kChunk);
  Sha256 sha;
  for (;;) {
    ssize_t n = c.read(buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("recv", errno);
    }
    if (n == 0) break;
    sha.update({buf.data(), static_cast<size_t>(n)});
  }
  return {sha.bytes(), sha.hex()};
}

void start_node(Config &cfg) {
  int rc = ntm_start(&cfg.node.options);
  if (rc != NTM_OK) die_ntm("ntm_start", rc);
}

ntm_node_info node_info() {
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  int rc = ntm_get_node_info(&info);
  if (rc != NTM_OK) die_ntm("ntm_get_node_info", rc);
  return info;
}

void print_ready() {
  ntm_node_info info = node_info();
  emit("READY endpoint_v4=%s endpoint_v6=%s node_id=%s name=%s vip4=%s vip6=%s",
       info.endpoint_ipv4, info.endpoint_ipv6, info.node_id, info.name, info.virtual_ipv4,
       info.virtual_ipv6);
}

// One "PATH" line per tunnel: how it reaches the peer (direct or relay) and where.
void print_paths() {
  static const char *const kPaths[] = {"none", "direct", "relay"};
  ntm_tunnel_info *rows = nullptr;
  size_t count = 0;
  if (ntm_tunnels_snapshot(&rows, &count) != NTM_OK) return;
  for (size_t i = 0; i < count; ++i) {
    emit("PATH peer=%s path=%s endpoint=%s", rows[i].peer_name, kPaths[rows[i].path],
         rows[i].endpoint);
  }
  ntm_tunnels_free(rows);
}

socklen_t any_address(int family, unsigned short port, sockaddr_storage *out) {
  std::memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    auto *a = reinterpret_cast<sockaddr_in *>(out);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    return sizeof *a;
  }
  auto *a = reinterpret_cast<sockaddr_in6 *>(out);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(port);
  a->sin6_addr = in6addr_any;
  return sizeof *a;
}

std::string address_text(const sockaddr_storage &addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in &>(addr).sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 &>(addr).sin6_addr, text,
              sizeof text);
  }
  return text;
}

int bound_socket(int family, int type, unsigned short port) {
  int fd = ntm_socket(family, type, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  int one = 1;
  if (family == AF_INET6) ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  sockaddr_storage addr;
  socklen_t len = any_address(family, port, &addr);
  if (ntm_bind(fd, reinterpret_cast<sockaddr *>(&addr), len) != 0) die_errno("ntm_bind", errno);
  return fd;
}

int listen_socket(int family, unsigned short port, int backlog) {
  int fd = bound_socket(family, SOCK_STREAM, port);
  if (ntm_listen(fd, backlog) != 0) die_errno("ntm_listen", errno);
  return fd;
}

// Resolves --connect NAME:PORT with ntm_getaddrinfo in the configured family.
socklen_t resolve(const Config &cfg, sockaddr_storage *out) {
  char host[256];
  const char *port = nullptr;
  if (node_args_split_host_port(cfg.connect.c_str(), host, sizeof host, &port) != 0) {
    die("bad --connect '" + cfg.connect + "'");
  }
  addrinfo hints{};
  hints.ai_family = cfg.family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  int rc = ntm_getaddrinfo(host, port, &hints, &res);
  if (rc != 0 || res == nullptr) {
    emit("ERROR what=ntm_getaddrinfo rc=%d msg=%s", rc, gai_strerror(rc));
    std::_Exit(1);
  }
  socklen_t len = res->ai_addrlen;
  std::memcpy(out, res->ai_addr, len);
  ntm_freeaddrinfo(res);
  return len;
}

Conn connect_conn(const Config &cfg) {
  sockaddr_storage addr;
  socklen_t len = resolve(cfg, &addr);
  const auto *sa = reinterpret_cast<const sockaddr *>(&addr);
  if (cfg.bridge == "connect" || cfg.bridge == "listen") {
    int fd = ntm_bridge_connect(sa, len);
    if (fd < 0) die_errno("ntm_bridge_connect", errno);
    return {fd, true};
  }
  int fd = ntm_socket(cfg.family, SOCK_STREAM, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  if (ntm_connect(fd, sa, len) != 0) die_errno("ntm_connect", errno);
  if (cfg.bridge == "socket") {
    int os_fd = ntm_bridge_socket(fd);
    if (os_fd < 0) die_errno("ntm_bridge_socket", errno);
    return {os_fd, true};
  }
  return {fd, false};
}

// The OS listener made by ntm_bridge_listen() (bridge mode "listen"), once made.
int g_os_listener = -1;

Conn accept_conn(const Config &cfg, int listen_fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (cfg.bridge == "listen") {
    if (g_os_listener < 0) {
      g_os_listener = ntm_bridge_listen(listen_fd);
      if (g_os_listener < 0) die_errno("ntm_bridge_listen", errno);
    }
    // The OS descriptor works with the OS's own readiness calls.
    pollfd p{g_os_listener, POLLIN, 0};
    int r = ::poll(&p, 1, 30000);
    if (r != 1 || !(p.revents & POLLIN)) die("poll on the bridged listener: no connection in 30 s");
    int fd = ntm_bridge_accept_listener(g_os_listener, reinterpret_cast<sockaddr *>(&addr), &len);
    if (fd < 0) die_errno("ntm_bridge_accept_listener", errno);
    emit("ACCEPTED from=%s", address_text(addr).c_str());
    return {fd, true};
  }
  if (cfg.bridge == "connect") {
    int fd = ntm_bridge_accept(listen_fd, reinterpret_cast<sockaddr *>(&addr), &len);
    if (fd < 0) die_errno("ntm_bridge_accept", errno);
    return {fd, true};
  }
  int fd = ntm_accept(listen_fd, reinterpret_cast<sockaddr *>(&addr), &len);
  if (fd < 0) die_errno("ntm_accept", errno);
  if (cfg.bridge == "socket") {
    int os_fd = ntm_bridge_socket(fd);
    if (os_fd < 0) die_errno("ntm_bridge_socket", errno);
    return {os_fd, true};
  }
  return {fd, false};
}

void stop_node() {
  int rc = ntm_stop();
  if (rc != NTM_OK) die_ntm("ntm_stop", rc);
}

// ---- tcp-transfer: client sends `bytes`, half-closes, then receives `bytes` back. ----

void transfer_client(const Config &cfg, int index, const char *tag) {
  Conn c = connect_conn(cfg);
  std::string sent = send_stream(c, kClientToServerSeed + index, cfg.bytes);
  if (c.shutdown_write() != 0) die_errno("shutdown", errno);
  Received got = recv_stream(c);
  c.close();
  emit("RESULT %s sent_bytes=%llu sent_sha256=%s recv_bytes=%llu recv_sha256=%s", tag,
       static_cast<unsigned long long>(cfg.bytes), sent.c_str(),
       static_cast<unsigned long long>(got.bytes), got.sha.c_str());
  print_paths();
}

int tcp_transfer(Config &cfg) {
  start_node(cfg);
  if (cfg.role == "client") {
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
          write_all(c, buf.data(), static_cast<size_t>(n), "echo send");
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

// ---- udp: stop-and-wait request/reply datagrams, tolerant of rare loss, bounded in time. ----

// Waits up to `timeout` for a datagram; returns its length, or -1 on timeout.
ssize_t recv_datagram(int fd, unsigned char *buf, size_t len, milliseconds timeout,
                      sockaddr_storage *from, socklen_t *from_len) {
  pollfd p{fd, POLLIN, 0};
  int r = ntm_poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) die_errno("ntm_poll", errno);
  if (r == 0) return -1;
  *from_len = sizeof *from;
  ssize_t n = ntm_recvfrom(fd, buf, len, MSG_DONTWAIT, reinterpret_cast<sockaddr *>(from), from_len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    die_errno("ntm_recvfrom", errno);
  }
  return n;
}

int udp(Config &cfg) {
  start_node(cfg);
  int fd = bound_socket(cfg.family, SOCK_DGRAM, cfg.role == "server" ? cfg.port : 0);
  unsigned char buf[2048];
  unsigned char out[2048];
  sockaddr_storage from;
  socklen_t from_len = 0;
  std::vector<bool> seen(static_cast<size_t>(cfg.count), false);
  int unique = 0;
  int bad = 0;

  if (cfg.role == "server") {
    print_ready();
    std::string first_source = "-";
    auto last = Clock::now();
    bool got_any = false;
    bool fin = false;
    // Ends on FIN, or 10 s after the last datagram (30 s before the first).
    while (!fin && ms_since(last) < (got_any ? 10000 : 30000)) {
      ssize_t n = recv_datagram(fd, buf, sizeof buf, milliseconds(100), &from, &from_len);
      if (n < 0) continue;
      last = Clock::now();
      if (!got_any) first_source = address_text(from);
      got_any = true;
      uint32_t magic = 0;
      uint32_t seq = 0;
      if (n == 8) std::memcpy(&magic, buf, 4);
      size_t reply_len;
      if (magic == kUdpMagicFin) {
        fin = true;
        reply_len = udp_build(0, kUdpMagicFin, 0, out);
      } else if (udp_valid(kUdpRequestSeed, buf, static_cast<size_t>(n), &seq) &&
                 seq < seen.size()) {
        if (!seen[seq]) ++unique;
        seen[seq] = true;
        reply_len = udp_build(kUdpReplySeed, kUdpMagicData, seq, out);
      } else {
        ++bad;
        continue;
      }
      if (ntm_sendto(fd, out, reply_len, 0, reinterpret_cast<sockaddr *>(&from), from_len) < 0) {
        die_errno("ntm_sendto", errno);
      }
    }
    emit("RESULT received_unique=%d bad=%d fin=%d source=%s", unique, bad, fin ? 1 : 0,
         first_source.c_str());
  } else {
    sockaddr_storage to;
    socklen_t to_len = resolve(cfg, &to);
    int resends = 0;
    auto send_to_server = [&](size_t n) {
      if (ntm_sendto(fd, out, n, 0, reinterpret_cast<sockaddr *>(&to), to_len) < 0) {
        die_errno("ntm_sendto", errno);
      }
    };
    for (int s = 0; s < cfg.count; ++s) {
      auto seq = static_cast<uint32_t>(s);
      size_t n = udp_build(kUdpRequestSeed, kUdpMagicData, seq, out);
      // The first datagram also waits for the tunnel handshake.
      auto give_up = Clock::now() + milliseconds(s == 0 ? 3000 : 1000);
      send_to_server(n);
      while (!seen[seq] && Clock::now() < give_up) {
        ssize_t r = recv_datagram(fd, buf, sizeof buf, milliseconds(100), &from, &from_len);
        if (r < 0) {
          send_to_server(n);
          ++resends;
          continue;
        }
        uint32_t got = 0;
        if (udp_valid(kUdpReplySeed, buf, static_cast<size_t>(r), &got) && got < seen.size()) {
          if (!seen[got]) ++unique;
          seen[got] = true;
        } else {
          ++bad;
        }
      }
    }
    bool fin_acked = false;
    size_t n = udp_build(0, kUdpMagicFin, 0, out);
    for (int i = 0; i < 10 && !fin_acked; ++i) {
      send_to_server(n);
      auto give_up = Clock::now() + milliseconds(100);
      while (!fin_acked && Clock::now() < give_up) {
        ssize_t r = recv_datagram(fd, buf, sizeof buf, milliseconds(100), &from, &from_len);
        uint32_t magic = 0;
        if (r == 8) std::memcpy(&magic, buf, 4);
        fin_acked = magic == kUdpMagicFin;
      }
    }
    emit("RESULT sent=%d replies_unique=%d bad=%d resends=%d fin_acked=%d", cfg.count, unique, bad,
         resends, fin_acked ? 1 : 0);
  }
  ntm_close(fd);
  stop_node();
  return 0;
}

// ---- close-wakes: ntm_close() from another thread wakes a call blocked on the socket. ----

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

int close_wakes(Config &cfg) {
  start_node(cfg);
  if (cfg.role == "server") {
    int listen_fd = listen_socket(cfg.family, cfg.port, 4);
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

// ---- restart: exchange, ntm_stop(), ntm_start() again, exchange again, in one process. ----

int restart(Config &cfg) {
  start_node(cfg);
  transfer_client(cfg, 0, "round=0");
  auto stop_started = Clock::now();
  stop_node();
  emit("STOPPED is_running=%d stop_ms=%lld", ntm_is_running(), ms_since(stop_started));
  if (cfg.restart_cipher == "chacha") {
    cfg.node.options.cipher = NTM_CIPHER_CHACHA20_POLY1305;
  }
  start_node(cfg);
  ntm_node_info info = node_info();
  emit("RESTARTED is_running=%d endpoint_v4=%s endpoint_v6=%s", ntm_is_running(),
       info.endpoint_ipv4, info.endpoint_ipv6);
  transfer_client(cfg, 1, "round=1");
  stop_node();
  return 0;
}

// ---- node-api: node info, tunnel table, stats and events around one transfer. ----

struct EventLog {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<int, std::string>> events;
  bool wait_for(int type, milliseconds timeout) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] {
      for (auto &e : events)
        if (e.first == type) return true;
      return false;
    });
  }
};

void on_event(const ntm_event *event, void *user_data) {
  auto *log = static_cast<EventLog *>(user_data);
  {
    std::lock_guard lock(log->mutex);
    log->events.emplace_back(static_cast<int>(event->type),
                             event->peer_name != nullptr ? event->peer_name : "(null)");
  }
  log->cv.notify_all();
}

void print_stats(const char *phase) {
  ntm_stats s{};
  s.version = NTM_STATS_VERSION;
  int rc = ntm_get_stats(&s);
  if (rc != NTM_OK) die_ntm("ntm_get_stats", rc);
  emit("STATS phase=%s packets_sent=%llu packets_received=%llu bytes_sent=%llu "
       "bytes_received=%llu dropped_malformed=%llu dropped_unknown_path=%llu dropped_auth=%llu "
       "dropped_replay=%llu dropped_no_tunnel=%llu handshakes_completed=%llu "
       "handshakes_failed=%llu",
       phase, (unsigned long long)s.packets_sent, (unsigned long long)s.packets_received,
       (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_received,
       (unsigned long long)s.dropped_malformed, (unsigned long long)s.dropped_unknown_path,
       (unsigned long long)s.dropped_auth, (unsigned long long)s.dropped_replay,
       (unsigned long long)s.dropped_no_tunnel, (unsigned long long)s.handshakes_completed,
       (unsigned long long)s.handshakes_failed);
}

int node_api(Config &cfg) {
  EventLog log;
  cfg.node.options.event_cb = on_event;
  cfg.node.options.event_user_data = &log;
  emit("BEFORE is_running=%d", ntm_is_running());
  start_node(cfg);
  ntm_node_info info = node_info();
  emit("INFO is_running=%d node_id=%s name=%s public_key=%s vip4=%s vip6=%s endpoint_v4=%s "
       "endpoint_v6=%s mtu=%u",
       ntm_is_running(), info.node_id, info.name, info.public_key, info.virtual_ipv4,
       info.virtual_ipv6, info.endpoint_ipv4, info.endpoint_ipv6, info.mtu);
  print_stats("before");
  transfer_client(cfg, 0, "conn=0");
  emit("WAITED tunnel_up=%d", log.wait_for(NTM_EVENT_TUNNEL_UP, milliseconds(2000)) ? 1 : 0);
  ntm_tunnel_info *rows = nullptr;
  size_t count = 0;
  int rc = ntm_tunnels_snapshot(&rows, &count);
  if (rc != NTM_OK) die_ntm("ntm_tunnels_snapshot", rc);
  emit("TUNNELS count=%zu", count);
  for (size_t i = 0; i < count; ++i) {
    const ntm_tunnel_info &t = rows[i];
    emit("TUNNEL peer=%s node_id=%s vip4=%s vip6=%s state=%d path=%d endpoint=%s "
         "local_path_id=%u bytes_sent=%llu bytes_received=%llu packets_sent=%llu "
         "packets_received=%llu last_activity_ms=%lld session_age_ms=%lld",
         t.peer_name, t.peer_node_id, t.virtual_ipv4, t.virtual_ipv6, static_cast<int>(t.state),
         static_cast<int>(t.path), t.endpoint, static_cast<unsigned>(t.local_path_id),
         (unsigned long long)t.bytes_sent, (unsigned long long)t.bytes_received,
         (unsigned long long)t.packets_sent, (unsigned long long)t.packets_received,
         (long long)t.last_activity_ms, (long long)t.session_age_ms);
  }
  ntm_tunnels_free(rows);
  print_stats("after");
  auto stop_started = Clock::now();
  rc = ntm_stop();
  emit("STOP rc=%d stop_ms=%lld", rc, ms_since(stop_started));
  log.wait_for(NTM_EVENT_STOPPING, milliseconds(1000));
  {
    std::lock_guard lock(log.mutex);
    for (size_t i = 0; i < log.events.size(); ++i) {
      emit("EVENT index=%zu type=%d peer=%s", i, log.events[i].first,
           log.events[i].second.c_str());
    }
  }
  ntm_node_info after{};
  after.version = NTM_NODE_INFO_VERSION;
  ntm_stats stats{};
  stats.version = NTM_STATS_VERSION;
  emit("AFTER_STOP is_running=%d info_rc=%d stats_rc=%d", ntm_is_running(),
       ntm_get_node_info(&after), ntm_get_stats(&stats));
  return 0;
}

// ---- errors: bad options, wrong state, unknown names. ----

void report_case(const char *id, int rc) {
  emit("CASE id=%s rc=%d msg=%s", id, rc, ntm_last_error());
}

int errors(Config &cfg) {
  const ntm_options good = cfg.node.options;
  int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  emit("CASE id=socket_before_start rc=%d errno=%s", fd, fd < 0 ? errno_name(errno) : "-");
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  report_case("node_info_before_start", ntm_get_node_info(&info));
  report_case("stop_before_start", ntm_stop());
  ntm_options o{};
  report_case("options_init_bad_version", ntm_options_init(&o, 999));
  report_case("options_init_null", ntm_options_init(nullptr, NTM_OPTIONS_VERSION));

  auto try_start = [&](const char *id, const std::function<void(ntm_options &)> &change) {
    ntm_options bad = good;
    change(bad);
    int rc = ntm_start(&bad);
    report_case(id, rc);
    if (rc == NTM_OK) ntm_stop();  // reported as a failure by the driver; keep going
  };
  try_start("start_bad_private_key", [](ntm_options &x) { x.private_key = "not-a-key"; });
  try_start("start_missing_name", [](ntm_options &x) { x.name = nullptr; });
  try_start("start_bad_virtual_ipv4", [](ntm_options &x) { x.virtual_ipv4 = "100.64.0.300"; });
  try_start("start_bad_virtual_ipv6", [](ntm_options &x) { x.virtual_ipv6 = "fd00::zz::1"; });
  try_start("start_no_virtual_address", [](ntm_options &x) {
    x.virtual_ipv4 = nullptr;
    x.virtual_ipv6 = nullptr;
  });
  try_start("start_bad_listen_ipv4", [](ntm_options &x) { x.listen_ipv4 = "127.0.0.1:notaport"; });
  ntm_static_peer bad_peer{};
  if (good.peer_count > 0) bad_peer = good.peers[0];
  bad_peer.public_key = "c2hvcnQ=";
  try_start("start_bad_peer_public_key", [&](ntm_options &x) {
    x.peers = &bad_peer;
    x.peer_count = 1;
  });
  emit("CASE id=running_after_failed_starts rc=%d", ntm_is_running());

  report_case("start_good", ntm_start(&good));
  report_case("start_twice", ntm_start(&good));

  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  int gai = ntm_getaddrinfo("nobody.invalid", "80", &hints, &res);
  emit("CASE id=getaddrinfo_unknown rc=%d is_eai_noname=%d", gai, gai == EAI_NONAME ? 1 : 0);
  if (gai == 0) ntm_freeaddrinfo(res);
  res = nullptr;
  gai = ntm_getaddrinfo(good.name, "80", &hints, &res);
  std::string self = gai == 0 && res != nullptr
                         ? address_text(*reinterpret_cast<sockaddr_storage *>(res->ai_addr))
                         : "-";
  emit("CASE id=getaddrinfo_self rc=%d address=%s", gai, self.c_str());
  if (gai == 0) ntm_freeaddrinfo(res);
  res = nullptr;
  gai = ntm_getaddrinfo(good.peer_count > 0 ? good.peers[0].name : "none", "80", &hints, &res);
  std::string peer = gai == 0 && res != nullptr
                         ? address_text(*reinterpret_cast<sockaddr_storage *>(res->ai_addr))
                         : "-";
  emit("CASE id=getaddrinfo_peer rc=%d address=%s", gai, peer.c_str());
  if (gai == 0) ntm_freeaddrinfo(res);

  report_case("stop", ntm_stop());
  report_case("stop_twice", ntm_stop());
  fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  emit("CASE id=socket_after_stop rc=%d errno=%s", fd, fd < 0 ? errno_name(errno) : "-");
  return 0;
}

void usage(FILE *out) {
  fputs("usage: ntm-test-node SCENARIO [--role server|client] NODE-OPTIONS [--connect NAME:PORT]\n"
        "         [-6] [--port N] [--bytes N] [--count N] [--bridge none|connect|socket|listen]\n"
        "         [--restart-cipher aes|chacha] [--timeout SECONDS]\n"
        "scenarios: tcp-transfer duplex tcp-many udp close-wakes unreachable restart node-api "
        "errors\n\n",
        out);
  fputs(node_args_usage(), out);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    usage(stderr);
    return 2;
  }
  Config cfg;
  cfg.scenario = argv[1];
  if (node_args_init(&cfg.node) != 0) return 2;
  const char *program = "ntm-test-node";
  for (int i = 2; i < argc;) {
    int used = node_args_consume(&cfg.node, program, argc, argv, &i);
    if (used < 0) return 2;
    if (used > 0) continue;
    std::string opt = argv[i];
    if (opt == "-6") {
      cfg.family = AF_INET6;
      ++i;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "%s: unknown option or missing value: %s\n", program, argv[i]);
      usage(stderr);
      return 2;
    }
    std::string value = argv[i + 1];
    i += 2;
    if (opt == "--role") {
      cfg.role = value;
    } else if (opt == "--connect") {
      cfg.connect = value;
    } else if (opt == "--port") {
      cfg.port = static_cast<unsigned short>(std::stoul(value));
    } else if (opt == "--bytes") {
      cfg.bytes = std::stoull(value);
    } else if (opt == "--count") {
      cfg.count = std::stoi(value);
    } else if (opt == "--bridge") {
      cfg.bridge = value;
    } else if (opt == "--restart-cipher") {
      cfg.restart_cipher = value;
    } else if (opt == "--timeout") {
      cfg.timeout_s = static_cast<unsigned>(std::stoul(value));
    } else {
      fprintf(stderr, "%s: unknown option %s\n", program, opt.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (node_args_check(&cfg.node, program) != 0) return 2;
  // A hung scenario must not outlive its test: SIGALRM's default action ends the process.
  alarm(cfg.timeout_s);
  signal(SIGPIPE, SIG_IGN);

  const std::pair<const char *, int (*)(Config &)> scenarios[] = {
      {"tcp-transfer", tcp_transfer}, {"duplex", duplex},   {"tcp-many", tcp_many},
      {"udp", udp},                   {"close-wakes", close_wakes}, {"unreachable", unreachable},
      {"restart", restart},           {"node-api", node_api}, {"errors", errors}};
  for (const auto &[name, run] : scenarios) {
    if (cfg.scenario == name) {
      int rc = run(cfg);
      emit("DONE");
      node_args_free(&cfg.node);
      return rc;
    }
  }
  fprintf(stderr, "%s: unknown scenario '%s'\n", program, cfg.scenario.c_str());
  usage(stderr);
  return 2;
}
