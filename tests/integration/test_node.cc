// ntm-test-node: one ntmobile node (one per process) running one integration scenario in the
// server or client role. It reports what it saw as machine-readable lines on stdout
// ("READY ...", "RESULT key=value ...", "ERROR ...") and leaves every judgement to the driver
// (integration_tests.cc). Uses only ntm.h (plus the examples' option parser) and OpenSSL.
//
//   ntm-test-node SCENARIO [--role server|client] NODE-OPTIONS [--connect NAME:PORT] [-6]
//                 [--port N] [--bytes N] [--count N]
//                 [--bridge none|connect|socket|listen|datagram]
//                 [--restart-cipher aes|chacha] [--timeout SECONDS]
//
// Scenarios: tcp-transfer, duplex, tcp-many, udp, close-wakes, unreachable, restart, node-api,
// errors, mobile-transfer. Values never contain spaces except a trailing msg=..., which runs to
// the end of line.
#include <ntm.h>

#include "node_args.h"
#include "test_data.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstddef>
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
  bool print_events = false;  // --print-events: "EVENT type=N msg=..." lines (scenarios without
                              // their own event handler)
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

void print_event(const ntm_event *e, void *) {
  emit("EVENT type=%d msg=%s", static_cast<int>(e->type),
       e->message != nullptr && *e->message != '\0' ? e->message : "-");
}

void start_node(Config &cfg) {
  if (cfg.print_events && cfg.node.options.event_cb == nullptr) {
    cfg.node.options.event_cb = print_event;
  }
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
// The udp scenario's datagram bridge (--bridge datagram): receives come from this OS descriptor.
int g_datagram_bridge = -1;

ssize_t recv_bridged_datagram(unsigned char *buf, size_t len, milliseconds timeout,
                              sockaddr_storage *from, socklen_t *from_len) {
  pollfd p{g_datagram_bridge, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) die_errno("poll", errno);
  if (r == 0) return -1;
  *from_len = sizeof *from;
  ssize_t n = ntm_bridge_recvfrom(g_datagram_bridge, buf, len, MSG_DONTWAIT,
                                  reinterpret_cast<sockaddr *>(from), from_len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    die_errno("ntm_bridge_recvfrom", errno);
  }
  return n;
}

ssize_t recv_datagram(int fd, unsigned char *buf, size_t len, milliseconds timeout,
                      sockaddr_storage *from, socklen_t *from_len) {
  if (g_datagram_bridge >= 0) return recv_bridged_datagram(buf, len, timeout, from, from_len);
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
  if (cfg.bridge == "datagram") {
    g_datagram_bridge = ntm_bridge_datagram(fd);
    if (g_datagram_bridge < 0) die_errno("ntm_bridge_datagram", errno);
  }
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
  if (g_datagram_bridge >= 0) {
    // ntm_close() returned once the bridge ended: its descriptor is at end-of-file now.
    pollfd p{g_datagram_bridge, POLLIN, 0};
    int ready = ::poll(&p, 1, 0);
    errno = 0;
    ssize_t n = ntm_bridge_recvfrom(g_datagram_bridge, buf, sizeof buf, MSG_DONTWAIT, nullptr,
                                    nullptr);
    emit("BRIDGE_END readable=%d result=%zd errno=%d", ready, n, errno);
    ::close(g_datagram_bridge);
  }
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

// ---- self-udp: a datagram to the node's own virtual address comes back at once (in control-
// plane mode too, where an address no tunnel knows is otherwise looked up at the DC). ----

int self_udp(Config &cfg) {
  start_node(cfg);
  print_ready();
  ntm_node_info info = node_info();
  for (int family : {AF_INET, AF_INET6}) {
    const char *own = family == AF_INET ? info.virtual_ipv4 : info.virtual_ipv6;
    if (own[0] == '\0') continue;
    int fd = bound_socket(family, SOCK_DGRAM, cfg.port);
    sockaddr_storage to{};
    socklen_t len = any_address(family, cfg.port, &to);
    void *raw = family == AF_INET
                    ? static_cast<void *>(&reinterpret_cast<sockaddr_in &>(to).sin_addr)
                    : static_cast<void *>(&reinterpret_cast<sockaddr_in6 &>(to).sin6_addr);
    inet_pton(family, own, raw);
    const char message[] = "to myself";
    auto start = Clock::now();
    if (ntm_sendto(fd, message, sizeof message, 0, reinterpret_cast<sockaddr *>(&to), len) < 0) {
      die_errno("ntm_sendto", errno);
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ntm_poll(&p, 1, 10000);
    char buf[64];
    ssize_t n = ready == 1 ? ntm_recv(fd, buf, sizeof buf, 0) : -1;
    emit("RESULT family=%d delivered=%d elapsed_ms=%lld", family == AF_INET ? 4 : 6,
         n == static_cast<ssize_t>(sizeof message) && std::memcmp(buf, message, sizeof message) == 0,
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
       "handshakes_failed=%llu handshakes_initiated=%llu dropped_spoofed=%llu "
       "registrations=%llu logins=%llu tcp_connections=%llu",
       phase, (unsigned long long)s.packets_sent, (unsigned long long)s.packets_received,
       (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_received,
       (unsigned long long)s.dropped_malformed, (unsigned long long)s.dropped_unknown_path,
       (unsigned long long)s.dropped_auth, (unsigned long long)s.dropped_replay,
       (unsigned long long)s.dropped_no_tunnel, (unsigned long long)s.handshakes_completed,
       (unsigned long long)s.handshakes_failed, (unsigned long long)s.handshakes_initiated,
       (unsigned long long)s.dropped_spoofed, (unsigned long long)s.registrations,
       (unsigned long long)s.logins, (unsigned long long)s.tcp_connections);
  // A caller built against header 0.2 passes a version 1 struct: filled, nothing past it.
  struct {
    ntm_stats v1;
    unsigned char guard[8];
  } old_caller;
  std::memset(&old_caller, 0xa5, sizeof(old_caller));
  old_caller.v1.version = 1;
  rc = ntm_get_stats(&old_caller.v1);
  const size_t v1_end = offsetof(ntm_stats, dropped_spoofed);
  const auto *raw = reinterpret_cast<const unsigned char *>(&old_caller);
  bool untouched = true;
  for (size_t i = v1_end; i < sizeof(old_caller); ++i) untouched = untouched && raw[i] == 0xa5;
  emit("STATS_V1 phase=%s rc=%d packets_sent=%llu tail_untouched=%d", phase, rc,
       (unsigned long long)old_caller.v1.packets_sent, untouched ? 1 : 0);
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
         "packets_received=%llu last_activity_ms=%lld session_age_ms=%lld rtt_us=%lld "
         "path_mtu=%u",
         t.peer_name, t.peer_node_id, t.virtual_ipv4, t.virtual_ipv6, static_cast<int>(t.state),
         static_cast<int>(t.path), t.endpoint, static_cast<unsigned>(t.local_path_id),
         (unsigned long long)t.bytes_sent, (unsigned long long)t.bytes_received,
         (unsigned long long)t.packets_sent, (unsigned long long)t.packets_received,
         (long long)t.last_activity_ms, (long long)t.session_age_ms, (long long)t.rtt_us,
         t.path_mtu);
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
  try_start("start_bad_memory_limit", [](ntm_options &x) { x.memory_limit = 1024; });
  try_start("start_bad_max_sockets", [](ntm_options &x) { x.max_sockets = 3; });
  try_start("start_bad_max_socket_buffer", [](ntm_options &x) { x.max_socket_buffer = 100; });
  try_start("start_bad_keepalive_interval", [](ntm_options &x) { x.keepalive_interval_ms = 5; });
  try_start("start_bad_control_socket", [](ntm_options &x) { x.control_socket = ""; });
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

// ---- mobile-transfer: a long, paced TCP transfer (checksummed both ways, ONE connection) plus a
// UDP stream both ways, meant to keep running while the real addresses change underneath
// (tests/netns/test_mobility.py, bench/mobility.py). All times are CLOCK_MONOTONIC seconds
// (t=...): the clock of Python's time.monotonic(), shared by every network namespace of a host,
// so a driver can compare them with the moment it configured a new address.
//
//   client -> server  the raw stream kClientToServerSeed, --bytes long, paced at --rate-mbps;
//   server -> client  frames {u32 magic, u32 length, u64 acked} followed by `length` bytes of
//                     kServerToClientSeed (--bytes in all, paced); `acked` = client bytes the
//                     server has read so far, sent at once (a frame without payload) whenever it
//                     grows: the application-level ACK the client times;
//   UDP               numbered datagrams (udp_build) every --udp-interval-ms each way, to port
//                     --port + 1; the server sends to wherever the client's datagrams come from.
//
// Lines: CONNECTED; ACK t= acked= gap_ms= (client: an increase of `acked` that follows >= 2 ms
// without one is always printed, others at most every 10 ms; gap_ms = time since the previous
// increase); PROGRESS t= ... every --progress-ms; EVENT t= type= peer= endpoint= path= msg=...
// (node events); PATHNOW t= peer= state= path= endpoint= (the tunnel table whenever it changes);
// NETLINK t= kt= ev= (this host's address and default-route changes, seen by the test program);
// RESULT (digests, counters); PATH (the table at the end); STATS. No progress for --stall-timeout s
// ends the run with "ERROR what=stalled". The connection is never re-made: a broken one is an
// ERROR, so one RESULT with connections=1 means the application never reconnected.

struct MobileOptions {
  double rate_mbps = 20.0;        // per direction; 0 = unpaced
  unsigned progress_ms = 100;     // PROGRESS period
  unsigned udp_interval_ms = 10;  // 0 = no UDP stream
  unsigned stall_s = 20;          // no progress for this long = failure
};
MobileOptions g_mobile;

bool mobile_option(const std::string &opt, const std::string &value) {
  if (opt == "--rate-mbps") {
    g_mobile.rate_mbps = std::stod(value);
  } else if (opt == "--progress-ms") {
    g_mobile.progress_ms = static_cast<unsigned>(std::max(1ul, std::stoul(value)));
  } else if (opt == "--udp-interval-ms") {
    g_mobile.udp_interval_ms = static_cast<unsigned>(std::stoul(value));
  } else if (opt == "--stall-timeout") {
    g_mobile.stall_s = static_cast<unsigned>(std::max(1ul, std::stoul(value)));
  } else {
    return false;
  }
  return true;
}

double mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// emit() for several threads: one locked write per line, so lines never interleave.
std::mutex g_mobile_out;
void mline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mline(const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > static_cast<int>(sizeof buf) - 2) n = static_cast<int>(sizeof buf) - 2;
  buf[n++] = '\n';
  std::lock_guard lock(g_mobile_out);
  fwrite(buf, 1, static_cast<size_t>(n), stdout);
  fflush(stdout);
}

const char *mobile_path_name(int path) {
  static const char *const kNames[] = {"none", "direct", "relay"};
  return path >= 0 && path <= 2 ? kNames[path] : "?";
}

const char *mobile_event_name(int type) {
  switch (type) {
    case NTM_EVENT_STARTED: return "started";
    case NTM_EVENT_STOPPING: return "stopping";
    case NTM_EVENT_TUNNEL_UP: return "tunnel_up";
    case NTM_EVENT_TUNNEL_DOWN: return "tunnel_down";
    case NTM_EVENT_PATH_CHANGED: return "path_changed";
    case NTM_EVENT_REGISTERED: return "registered";
    default: return "other";
  }
}

const char *or_dash(const char *s) { return s != nullptr && *s != '\0' ? s : "-"; }

void mobile_on_event(const ntm_event *e, void *) {
  mline("EVENT t=%.6f type=%s peer=%s endpoint=%s path=%s msg=%s", mono_now(),
        mobile_event_name(static_cast<int>(e->type)), or_dash(e->peer_name), or_dash(e->endpoint),
        mobile_path_name(static_cast<int>(e->path)), e->message != nullptr ? e->message : "");
}

// The tunnel table as lines starting with `word`; returns a key that changes when a row does.
std::string mobile_paths(const char *word, bool print) {
  ntm_tunnel_info *rows = nullptr;
  size_t count = 0;
  if (ntm_tunnels_snapshot(&rows, &count) != NTM_OK) return "?";
  std::string key;
  double t = mono_now();
  for (size_t i = 0; i < count; ++i) {
    const ntm_tunnel_info &r = rows[i];
    key += std::string(r.peer_name) + "|" + std::to_string(r.state) + "|" +
           std::to_string(r.path) + "|" + r.endpoint + ";";
    if (print) {
      mline("%s t=%.6f peer=%s state=%d path=%s endpoint=%s", word, t, or_dash(r.peer_name),
            static_cast<int>(r.state), mobile_path_name(static_cast<int>(r.path)),
            or_dash(r.endpoint));
    }
  }
  ntm_tunnels_free(rows);
  return key;
}

// Paces a stream at --rate-mbps without catching up after a stall (at most 20 ms of burst).
class MobilePacer {
 public:
  MobilePacer() : bytes_per_s_(g_mobile.rate_mbps * 1e6 / 8.0), next_(mono_now()) {}
  size_t chunk() const {
    if (bytes_per_s_ <= 0) return 64 * 1024;
    return static_cast<size_t>(std::clamp(bytes_per_s_ * 0.002, 1024.0, 65536.0));
  }
  double next() const { return bytes_per_s_ <= 0 ? 0.0 : next_; }
  bool due() const { return mono_now() >= next(); }
  void wait() const {
    double left = next() - mono_now();
    if (left > 0) std::this_thread::sleep_for(std::chrono::duration<double>(left));
  }
  void sent(size_t n) {
    if (bytes_per_s_ <= 0) return;
    next_ = std::max(next_, mono_now() - 0.020) + static_cast<double>(n) / bytes_per_s_;
  }

 private:
  double bytes_per_s_;
  double next_;
};

constexpr uint32_t kMobileFrameMagic = 0x4E544D41;  // "NTMA"
constexpr size_t kMobileHeader = 16;

struct MobileState {
  std::atomic<uint64_t> sent{0};      // stream bytes written
  std::atomic<uint64_t> received{0};  // stream bytes read
  std::atomic<uint64_t> acked{0};     // client: the server's count of our bytes
  std::atomic<uint64_t> frames{0};
  std::atomic<double> last_progress_t{0};
  std::atomic<bool> finished{false};  // the TCP part is over (progress/stall watch ends)
  // UDP
  std::atomic<bool> udp_stop{false};
  std::atomic<uint64_t> udp_sent{0}, udp_send_errors{0}, udp_received{0}, udp_dup{0}, udp_bad{0};
  std::atomic<double> udp_first_rx_t{0}, udp_last_rx_t{0};
  double udp_max_gap = 0, udp_max_gap_at = 0;  // written by the receiver thread only
  std::mutex peer_mutex;
  sockaddr_storage udp_peer{};
  socklen_t udp_peer_len = 0;
};

void mobile_udp_receiver(int fd, uint64_t seed, MobileState &st, bool learn_peer) {
  std::vector<uint8_t> seen;
  unsigned char buf[2048];
  while (!st.udp_stop.load()) {
    sockaddr_storage from;
    socklen_t from_len = 0;
    ssize_t n = recv_datagram(fd, buf, sizeof buf, milliseconds(50), &from, &from_len);
    if (n < 0) continue;
    uint32_t seq = 0;
    if (!udp_valid(seed, buf, static_cast<size_t>(n), &seq) || seq >= (1u << 24)) {
      ++st.udp_bad;
      continue;
    }
    double t = mono_now();
    if (learn_peer) {
      std::lock_guard lock(st.peer_mutex);
      std::memcpy(&st.udp_peer, &from, from_len);
      st.udp_peer_len = from_len;
    }
    if (seq >= seen.size()) seen.resize(seq + 1024, 0);
    if (seen[seq]) {
      ++st.udp_dup;
      continue;
    }
    seen[seq] = 1;
    double last = st.udp_last_rx_t.load();
    if (last > 0 && t - last > st.udp_max_gap) {
      st.udp_max_gap = t - last;
      st.udp_max_gap_at = last;
    }
    if (st.udp_first_rx_t.load() == 0) st.udp_first_rx_t = t;
    st.udp_last_rx_t = t;
    ++st.udp_received;
  }
}

void mobile_udp_sender(int fd, uint64_t seed, MobileState &st) {
  unsigned char out[2048];
  uint32_t seq = 0;
  auto next = Clock::now();
  while (!st.udp_stop.load()) {
    sockaddr_storage to;
    socklen_t to_len;
    {
      std::lock_guard lock(st.peer_mutex);
      to = st.udp_peer;
      to_len = st.udp_peer_len;
    }
    if (to_len > 0) {
      size_t n = udp_build(seed, kUdpMagicData, seq, out);
      if (ntm_sendto(fd, out, n, 0, reinterpret_cast<sockaddr *>(&to), to_len) < 0) {
        ++st.udp_send_errors;  // tolerated: the path may be down during a move
      } else {
        ++st.udp_sent;
      }
      ++seq;
    }
    next += milliseconds(g_mobile.udp_interval_ms);
    auto now = Clock::now();
    if (next < now) next = now;  // no catching up after a stall
    std::this_thread::sleep_until(next);
  }
}

// PROGRESS lines, PATHNOW lines on changes, and the stall watch.
void mobile_progress(const Config &cfg, MobileState &st) {
  std::string last_paths;
  double last_path_check = 0;
  double last_print = 0;
  while (!st.finished.load()) {
    std::this_thread::sleep_for(milliseconds(std::min(g_mobile.progress_ms, 50u)));
    double t = mono_now();
    if (t - last_print >= g_mobile.progress_ms / 1000.0) {
      last_print = t;
      mline("PROGRESS t=%.6f sent=%llu received=%llu acked=%llu udp_sent=%llu udp_received=%llu",
            t, (unsigned long long)st.sent.load(), (unsigned long long)st.received.load(),
            (unsigned long long)st.acked.load(), (unsigned long long)st.udp_sent.load(),
            (unsigned long long)st.udp_received.load());
    }
    if (t - last_path_check >= 0.05) {
      last_path_check = t;
      std::string key = mobile_paths("PATHNOW", false);
      if (key != last_paths) {
        last_paths = mobile_paths("PATHNOW", true);
      }
    }
    if (!st.finished.load() && t - st.last_progress_t.load() > g_mobile.stall_s) {
      mobile_paths("PATHNOW", true);
      mline("ERROR what=stalled t=%.6f role=%s since=%.6f sent=%llu received=%llu acked=%llu",
            t, cfg.role.c_str(), st.last_progress_t.load(), (unsigned long long)st.sent.load(),
            (unsigned long long)st.received.load(), (unsigned long long)st.acked.load());
      std::_Exit(1);
    }
  }
}

void mobile_read_exact(const Conn &c, unsigned char *p, size_t len, const char *what) {
  while (len > 0) {
    ssize_t n = c.read(p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno(what, errno);
    }
    if (n == 0) die(std::string(what) + ": end of stream inside a frame");
    p += n;
    len -= static_cast<size_t>(n);
  }
}

// Watches the node host's addresses and default routes on its own netlink socket (not the
// library's) and prints "NETLINK t=... kt=... ev=newaddr|deladdr|newroute|delroute ..." lines:
// t = when this thread read the message, kt = the kernel's receive timestamp of it (converted
// to CLOCK_MONOTONIC; 0 if the kernel gave none). A driver uses the new default route as "the
// moment the new address was configured", observed on the node's own host.
void mobile_netlink_watch() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    mline("NETLINK ev=error errno=%s", errno_name(errno));
    return;
  }
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  if (::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) != 0) {
    mline("NETLINK ev=error errno=%s", errno_name(errno));
    ::close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  std::thread([fd] {
    alignas(nlmsghdr) char buf[32768];
    alignas(cmsghdr) char control[256];
    for (;;) {
      iovec iov{buf, sizeof buf};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      ssize_t n = ::recvmsg(fd, &msg, 0);
      double t = mono_now();
      if (n < 0 && (errno == EINTR || errno == ENOBUFS)) continue;
      if (n <= 0) return;
      double kt = 0;
      for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts{};
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          timespec real{};
          clock_gettime(CLOCK_REALTIME, &real);
          double now_mono = mono_now();
          double age = (static_cast<double>(real.tv_sec) + real.tv_nsec * 1e-9) -
                       (static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9);
          kt = now_mono - age;
        }
      }
      int len = static_cast<int>(n);
      for (auto *h = reinterpret_cast<nlmsghdr *>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        const char *ev = nullptr;
        char text[INET6_ADDRSTRLEN] = "-";
        int family = 0;
        int prefix = 0;
        int ifindex = 0;
        if (h->nlmsg_type == RTM_NEWADDR || h->nlmsg_type == RTM_DELADDR) {
          auto *ifa = static_cast<ifaddrmsg *>(NLMSG_DATA(h));
          ev = h->nlmsg_type == RTM_NEWADDR ? "newaddr" : "deladdr";
          family = ifa->ifa_family;
          prefix = ifa->ifa_prefixlen;
          ifindex = static_cast<int>(ifa->ifa_index);
          int alen = static_cast<int>(IFA_PAYLOAD(h));
          for (auto *a = IFA_RTA(ifa); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            if (a->rta_type == IFA_ADDRESS || a->rta_type == IFA_LOCAL) {
              inet_ntop(family, RTA_DATA(a), text, sizeof text);
            }
          }
        } else if (h->nlmsg_type == RTM_NEWROUTE || h->nlmsg_type == RTM_DELROUTE) {
          auto *rt = static_cast<rtmsg *>(NLMSG_DATA(h));
          if (rt->rtm_table != RT_TABLE_MAIN || rt->rtm_dst_len != 0) continue;  // defaults only
          ev = h->nlmsg_type == RTM_NEWROUTE ? "newroute" : "delroute";
          family = rt->rtm_family;
          int alen = static_cast<int>(RTM_PAYLOAD(h));
          for (auto *a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
            if (a->rta_type == RTA_GATEWAY) inet_ntop(family, RTA_DATA(a), text, sizeof text);
            if (a->rta_type == RTA_OIF) std::memcpy(&ifindex, RTA_DATA(a), sizeof ifindex);
          }
        } else {
          continue;
        }
        mline("NETLINK t=%.6f kt=%.6f ev=%s family=%d addr=%s prefix=%d ifindex=%d", t, kt, ev,
              family == AF_INET6 ? 6 : 4, text, prefix, ifindex);
      }
    }
  }).detach();
}

int mobile_transfer(Config &cfg) {
  mobile_netlink_watch();
  cfg.node.options.event_cb = mobile_on_event;
  cfg.node.options.event_user_data = nullptr;
  start_node(cfg);
  MobileState st;
  st.last_progress_t = mono_now();
  const unsigned short udp_port = static_cast<unsigned short>(cfg.port + 1);
  const double started = mono_now();

  if (cfg.role == "server") {
    int listen_fd = listen_socket(cfg.family, cfg.port, 4);
    int udp_fd = g_mobile.udp_interval_ms > 0 ? bound_socket(cfg.family, SOCK_DGRAM, udp_port) : -1;
    print_ready();
    std::thread udp_rx, udp_tx;
    if (udp_fd >= 0) {
      udp_rx = std::thread(mobile_udp_receiver, udp_fd, kUdpRequestSeed, std::ref(st), true);
      udp_tx = std::thread(mobile_udp_sender, udp_fd, kUdpReplySeed, std::ref(st));
    }
    Conn c = accept_conn(cfg, listen_fd);
    mline("CONNECTED t=%.6f", mono_now());
    st.last_progress_t = mono_now();
    std::thread progress(mobile_progress, std::cref(cfg), std::ref(st));

    std::mutex m;
    std::condition_variable cv;
    bool reader_done = false;
    std::string recv_sha;
    std::thread reader([&] {
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
        st.received += static_cast<uint64_t>(n);
        st.last_progress_t = mono_now();
        std::lock_guard lock(m);
        cv.notify_all();
      }
      std::lock_guard lock(m);
      recv_sha = sha.hex();
      reader_done = true;
      cv.notify_all();
    });

    MobilePacer pacer;
    const size_t chunk = pacer.chunk();
    std::vector<unsigned char> frame(kMobileHeader + chunk);
    Sha256 sent_sha;
    uint64_t payload_off = 0;
    uint64_t acked_sent = 0;
    for (;;) {
      bool rdone;
      {
        std::unique_lock lock(m);
        auto pred = [&] {
          return st.received.load() != acked_sent || reader_done ||
                 (payload_off < cfg.bytes && pacer.due());
        };
        if (!pred()) {
          double next = payload_off < cfg.bytes ? pacer.next() : mono_now() + 0.05;
          double wait = std::clamp(next - mono_now(), 0.0, 0.05);
          cv.wait_for(lock, std::chrono::duration<double>(wait), pred);
        }
        rdone = reader_done;
      }
      uint64_t rec = st.received.load();
      bool ack_due = rec != acked_sent;
      bool data_due = payload_off < cfg.bytes && pacer.due();
      if (!ack_due && !data_due) {
        if (rdone && payload_off >= cfg.bytes) break;
        if (rdone) pacer.wait();  // nothing more to read: only the payload's pace remains
        continue;
      }
      uint32_t n = data_due ? static_cast<uint32_t>(std::min<uint64_t>(cfg.bytes - payload_off, chunk)) : 0;
      std::memcpy(frame.data(), &kMobileFrameMagic, 4);
      std::memcpy(frame.data() + 4, &n, 4);
      std::memcpy(frame.data() + 8, &rec, 8);
      if (n > 0) {
        fill(kServerToClientSeed, payload_off, {frame.data() + kMobileHeader, n});
        sent_sha.update({frame.data() + kMobileHeader, n});
      }
      write_all(c, frame.data(), kMobileHeader + n, "send");
      if (rdone) st.last_progress_t = mono_now();  // only our own stream is left to send
      ++st.frames;
      acked_sent = rec;
      if (n > 0) {
        payload_off += n;
        st.sent = payload_off;
        pacer.sent(n);
      }
    }
    if (c.shutdown_write() != 0) die_errno("shutdown", errno);
    reader.join();
    c.close();
    st.finished = true;
    progress.join();
    // A second connection would mean the client reconnected.
    pollfd p{listen_fd, POLLIN, 0};
    int extra = ntm_poll(&p, 1, 0) > 0 && (p.revents & POLLIN) ? 1 : 0;
    st.udp_stop = true;
    if (udp_rx.joinable()) udp_rx.join();
    if (udp_tx.joinable()) udp_tx.join();
    mline("RESULT role=server accepted=1 extra_connections=%d recv_bytes=%llu recv_sha256=%s "
          "sent_bytes=%llu sent_sha256=%s frames=%llu duration_s=%.3f udp_sent=%llu "
          "udp_send_errors=%llu udp_received=%llu udp_dup=%llu udp_bad=%llu "
          "udp_first_rx_t=%.6f udp_last_rx_t=%.6f udp_max_gap_ms=%.1f udp_max_gap_at=%.6f",
          extra, (unsigned long long)st.received.load(), recv_sha.c_str(),
          (unsigned long long)payload_off, sent_sha.hex().c_str(),
          (unsigned long long)st.frames.load(), mono_now() - started,
          (unsigned long long)st.udp_sent.load(), (unsigned long long)st.udp_send_errors.load(),
          (unsigned long long)st.udp_received.load(), (unsigned long long)st.udp_dup.load(),
          (unsigned long long)st.udp_bad.load(), st.udp_first_rx_t.load(),
          st.udp_last_rx_t.load(), st.udp_max_gap * 1000.0, st.udp_max_gap_at);
    mobile_paths("PATH", true);
    print_stats("end");
    if (udp_fd >= 0) ntm_close(udp_fd);
    ntm_close(listen_fd);
    stop_node();
    return 0;
  }

  // ---- client ----
  Conn c = connect_conn(cfg);
  mline("CONNECTED t=%.6f", mono_now());
  st.last_progress_t = mono_now();
  int udp_fd = -1;
  std::thread udp_rx, udp_tx;
  if (g_mobile.udp_interval_ms > 0) {
    udp_fd = bound_socket(cfg.family, SOCK_DGRAM, 0);
    sockaddr_storage to;
    socklen_t to_len = resolve(cfg, &to);
    if (to.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in &>(to).sin_port = htons(udp_port);
    } else {
      reinterpret_cast<sockaddr_in6 &>(to).sin6_port = htons(udp_port);
    }
    st.udp_peer = to;
    st.udp_peer_len = to_len;
    udp_rx = std::thread(mobile_udp_receiver, udp_fd, kUdpReplySeed, std::ref(st), false);
    udp_tx = std::thread(mobile_udp_sender, udp_fd, kUdpRequestSeed, std::ref(st));
  }
  std::thread progress(mobile_progress, std::cref(cfg), std::ref(st));
  std::string sent_sha;
  std::thread writer([&] {
    MobilePacer pacer;
    std::vector<unsigned char> buf(pacer.chunk());
    Sha256 sha;
    for (uint64_t off = 0; off < cfg.bytes;) {
      pacer.wait();
      size_t n = static_cast<size_t>(std::min<uint64_t>(cfg.bytes - off, buf.size()));
      fill(kClientToServerSeed, off, {buf.data(), n});
      sha.update({buf.data(), n});
      write_all(c, buf.data(), n, "send");
      off += n;
      st.sent = off;
      pacer.sent(n);
    }
    sent_sha = sha.hex();
    if (c.shutdown_write() != 0) die_errno("shutdown", errno);
  });

  Sha256 recv_sha;
  std::vector<unsigned char> payload(65536);
  double last_increase = mono_now();
  double last_print = 0;
  uint64_t acked = 0;
  for (;;) {
    unsigned char header[kMobileHeader];
    ssize_t n = c.read(header, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("recv", errno);
    }
    if (n == 0) break;  // the server's end of stream
    mobile_read_exact(c, header + 1, kMobileHeader - 1, "recv");
    uint32_t magic, len;
    uint64_t server_acked;
    std::memcpy(&magic, header, 4);
    std::memcpy(&len, header + 4, 4);
    std::memcpy(&server_acked, header + 8, 8);
    if (magic != kMobileFrameMagic || len > payload.size()) die("recv: bad frame header");
    if (len > 0) {
      mobile_read_exact(c, payload.data(), len, "recv");
      recv_sha.update({payload.data(), len});
      st.received += len;
      st.last_progress_t = mono_now();
    }
    ++st.frames;
    if (server_acked > acked) {
      double t = mono_now();
      double gap = t - last_increase;
      if (gap >= 0.002 || t - last_print >= 0.010) {
        mline("ACK t=%.6f acked=%llu gap_ms=%.3f", t, (unsigned long long)server_acked,
              gap * 1000.0);
        last_print = t;
      }
      last_increase = t;
      acked = server_acked;
      st.acked = acked;
      st.last_progress_t = t;
    }
  }
  writer.join();
  c.close();
  st.finished = true;
  progress.join();
  // Let the last datagrams arrive, then stop the UDP stream.
  std::this_thread::sleep_for(milliseconds(200));
  st.udp_stop = true;
  if (udp_rx.joinable()) udp_rx.join();
  if (udp_tx.joinable()) udp_tx.join();
  mline("RESULT role=client connections=1 sent_bytes=%llu sent_sha256=%s recv_bytes=%llu "
        "recv_sha256=%s acked_bytes=%llu frames=%llu duration_s=%.3f udp_sent=%llu "
        "udp_send_errors=%llu udp_received=%llu udp_dup=%llu udp_bad=%llu udp_first_rx_t=%.6f "
        "udp_last_rx_t=%.6f udp_max_gap_ms=%.1f udp_max_gap_at=%.6f",
        (unsigned long long)st.sent.load(), sent_sha.c_str(),
        (unsigned long long)recv_sha.bytes(), recv_sha.hex().c_str(),
        (unsigned long long)acked, (unsigned long long)st.frames.load(), mono_now() - started,
        (unsigned long long)st.udp_sent.load(), (unsigned long long)st.udp_send_errors.load(),
        (unsigned long long)st.udp_received.load(), (unsigned long long)st.udp_dup.load(),
        (unsigned long long)st.udp_bad.load(), st.udp_first_rx_t.load(), st.udp_last_rx_t.load(),
        st.udp_max_gap * 1000.0, st.udp_max_gap_at);
  mobile_paths("PATH", true);
  print_stats("end");
  if (udp_fd >= 0) ntm_close(udp_fd);
  stop_node();
  return 0;
}

void usage(FILE *out) {
  fputs("usage: ntm-test-node SCENARIO [--role server|client] NODE-OPTIONS [--connect NAME:PORT]\n"
        "         [-6] [--port N] [--bytes N] [--count N] [--bridge none|connect|socket|listen]\n"
        "         [--restart-cipher aes|chacha] [--timeout SECONDS] [--print-events]\n"
        "       mobile-transfer: [--rate-mbps R] [--udp-interval-ms N] [--progress-ms N]\n"
        "         [--stall-timeout SECONDS]\n"
        "scenarios: tcp-transfer duplex tcp-many udp close-wakes unreachable restart node-api "
        "errors mobile-transfer self-udp refused\n\n",
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
    if (opt == "--print-events") {
      cfg.print_events = true;
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
    } else if (mobile_option(opt, value)) {  // mobile-transfer's options
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
      {"restart", restart},           {"node-api", node_api}, {"errors", errors},
      {"mobile-transfer", mobile_transfer}, {"self-udp", self_udp},
      {"refused", refused}};
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
