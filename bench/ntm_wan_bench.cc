// ntm-wan-bench: TCP goodput with 1..N parallel streams, the same code over ntmobile and over
// the kernel (bench_stack.h), for bench/wan.py. Long-lived roles, so that one node (one tunnel)
// serves a whole series of measurements through the WAN emulator:
//
//   ntm-wan-bench sink   --stack ntm|kernel [--bind IPV4] [--port N] [NODE-OPTIONS]
//       prints "READY tcp=ADDR:PORT", then serves measurements until SIGTERM or SIGINT.
//   ntm-wan-bench source --stack ntm|kernel --target ADDR:PORT [--cc NAME] [NODE-OPTIONS]
//       prints "READY", then reads commands on stdin, one per line:
//         run STREAMS SECONDS  -> "RESULT streams=N seconds=S bytes=B mbps=X min_mbps=.. max_mbps=.."
//                                 or "ERROR what=... msg=..." (the source goes on)
//         quit (or end of input)
//
// A measurement: the source opens a control connection ('C', id, streams, duration), then the
// data connections ('D', id, index), each writing as fast as it can. The sink counts, per data
// connection, the bytes that arrive within `duration` of that connection's header, then closes
// it (with unread data: a reset, so nothing queued drains into the next measurement) and, once
// all are done, sends the counts on the control connection. The figure is delivered bytes in
// the window, whatever the path does (queueing, loss recovery, slow start included).
#include <ntm.h>

#include "bench_stack.h"
#include "node_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using ntm_bench::kKernel;
using ntm_bench::kNtm;
using ntm_bench::Stack;
using Clock = std::chrono::steady_clock;

constexpr unsigned short kDefaultPort = 5301;
constexpr size_t kChunk = 256 * 1024;
constexpr auto kGrace = std::chrono::seconds(60);  // beyond the window, for any wait
constexpr int kMaxStreams = 64;

struct ControlHeader {
  uint32_t id;
  uint32_t streams;
  uint32_t duration_ms;
};
struct DataHeader {
  uint32_t id;
  uint32_t index;
};

struct Params {
  std::string role;
  const Stack *stack = &kNtm;
  node_args node{};
  std::string bind = "0.0.0.0";
  unsigned short port = kDefaultPort;
  std::string target;
  std::string cc;
};

sockaddr_in ipv4(const std::string &host_port) {
  char host[64];
  const char *port = nullptr;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (node_args_split_host_port(host_port.c_str(), host, sizeof host, &port) != 0 ||
      inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "ntm-wan-bench: bad address '%s' (want IPV4:PORT)\n", host_port.c_str());
    std::exit(2);
  }
  a.sin_port = htons(static_cast<unsigned short>(std::atoi(port)));
  return a;
}

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char *fmt, ...) {
  static std::mutex m;
  std::lock_guard lock(m);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

bool read_exact(const Stack &s, int fd, void *buf, size_t n) {
  auto *p = static_cast<char *>(buf);
  while (n > 0) {
    ssize_t r = s.recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool write_exact(const Stack &s, int fd, const void *buf, size_t n) {
  const auto *p = static_cast<const char *>(buf);
  while (n > 0) {
    ssize_t w = s.send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void set_timeout(const Stack &s, int fd, int option, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>(t.count() % 1000 * 1000)};
  s.setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
}

// ---- sink ----

struct Group {
  uint32_t streams = 0;
  std::chrono::milliseconds duration{0};
  std::vector<uint64_t> counts;
  uint32_t done = 0;
};

class Sink {
 public:
  explicit Sink(const Stack &s) : s_(s) {}

  void serve(int fd) {
    char type = 0;
    set_timeout(s_, fd, SO_RCVTIMEO, std::chrono::seconds(30));
    if (!read_exact(s_, fd, &type, 1)) return close(fd);
    if (type == 'C') return control(fd);
    if (type == 'D') return data(fd);
    close(fd);
  }

 private:
  void close(int fd) { s_.close(fd); }

  void control(int fd) {
    ControlHeader h{};
    if (!read_exact(s_, fd, &h, sizeof h) || h.streams == 0 || h.streams > kMaxStreams) {
      return close(fd);
    }
    std::unique_lock lock(mutex_);
    Group &g = groups_[h.id];
    g.streams = h.streams;
    g.duration = std::chrono::milliseconds(h.duration_ms);
    g.counts.assign(h.streams, 0);
    changed_.notify_all();
    const auto deadline = Clock::now() + g.duration + kGrace;
    changed_.wait_until(lock, deadline, [&] { return g.done == g.streams; });
    std::vector<uint64_t> counts = g.counts;
    groups_.erase(h.id);
    lock.unlock();
    write_exact(s_, fd, counts.data(), counts.size() * sizeof(uint64_t));
    close(fd);
  }

  void data(int fd) {
    DataHeader h{};
    if (!read_exact(s_, fd, &h, sizeof h)) return close(fd);
    const auto start = Clock::now();
    std::chrono::milliseconds duration{0};
    {
      // The control connection was opened first, but its handler may not have run yet.
      std::unique_lock lock(mutex_);
      changed_.wait_until(lock, start + std::chrono::seconds(30), [&] {
        auto it = groups_.find(h.id);
        return it != groups_.end() && it->second.streams != 0;
      });
      auto it = groups_.find(h.id);
      if (it == groups_.end() || h.index >= it->second.streams) return close(fd);
      duration = it->second.duration;
    }
    const auto end = start + duration;
    set_timeout(s_, fd, SO_RCVTIMEO, std::chrono::milliseconds(50));
    std::vector<char> buf(kChunk);
    uint64_t count = 0;
    while (Clock::now() < end) {
      ssize_t n = s_.recv(fd, buf.data(), buf.size(), 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        break;
      }
      // A chunk that arrived after the window does not count.
      if (Clock::now() <= end) count += static_cast<uint64_t>(n);
    }
    close(fd);  // unread data queued: the peer is reset, nothing drains into the next run
    std::lock_guard lock(mutex_);
    auto it = groups_.find(h.id);
    if (it == groups_.end()) return;
    it->second.counts[h.index] = count;
    ++it->second.done;
    changed_.notify_all();
  }

  const Stack &s_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<uint32_t, Group> groups_;
};

std::atomic<bool> g_stop{false};

int sink(Params &p) {
  const Stack &s = *p.stack;
  const bool ntm = &s == &kNtm;
  if (ntm && ntm_start(&p.node.options) != NTM_OK) {
    say("ERROR what=ntm_start msg=%s", ntm_last_error());
    return 1;
  }
  sockaddr_in addr = ipv4(p.bind + ":" + std::to_string(p.port));
  int one = 1;
  int lfd = s.socket(AF_INET, SOCK_STREAM, 0);
  s.setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || s.bind(lfd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
      s.listen(lfd, 128) != 0) {
    say("ERROR what=listen errno=%d msg=%s", errno, strerror(errno));
    return 1;
  }
  socklen_t len = sizeof addr;
  s.getsockname(lfd, reinterpret_cast<sockaddr *>(&addr), &len);
  char host[INET_ADDRSTRLEN] = "0.0.0.0";
  if (ntm) {
    ntm_node_info info{};
    info.version = NTM_NODE_INFO_VERSION;
    ntm_get_node_info(&info);
    std::snprintf(host, sizeof host, "%s", info.virtual_ipv4);
  } else {
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
  }
  say("READY tcp=%s:%u", host, ntohs(addr.sin_port));
  Sink server(s);
  // SIGTERM/SIGINT end the accept loop: a watcher thread closes the listening socket.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([&s, lfd, set] {
    int sig = 0;
    sigwait(&set, &sig);
    g_stop = true;
    s.shutdown(lfd, SHUT_RDWR);
    s.close(lfd);
  }).detach();
  while (!g_stop) {
    int fd = s.accept(lfd, nullptr, nullptr);
    if (fd < 0) {
      if (g_stop) break;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    std::thread([&server, fd] { server.serve(fd); }).detach();
  }
  // Handlers may still run; the process ends here (they hold no state worth saving).
  if (ntm) ntm_stop();
  say("DONE");
  std::_Exit(0);
}

// ---- source ----

int connect_to(const Params &p, const sockaddr_in &to) {
  const Stack &s = *p.stack;
  int fd = s.socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (!p.cc.empty() && &s == &kKernel &&
      ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, p.cc.c_str(),
                   static_cast<socklen_t>(p.cc.size())) != 0) {
    say("ERROR what=TCP_CONGESTION cc=%s msg=%s", p.cc.c_str(), strerror(errno));
  }
  if (s.connect(fd, reinterpret_cast<const sockaddr *>(&to), sizeof to) != 0) {
    int err = errno;
    s.close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

void measure(const Params &p, uint32_t id, int streams, double seconds) {
  const Stack &s = *p.stack;
  const sockaddr_in to = ipv4(p.target);
  const auto duration = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  int ctl = connect_to(p, to);
  if (ctl < 0) return say("ERROR what=connect-control errno=%d msg=%s", errno, strerror(errno));
  char type = 'C';
  ControlHeader h{id, static_cast<uint32_t>(streams), static_cast<uint32_t>(duration.count())};
  if (!write_exact(s, ctl, &type, 1) || !write_exact(s, ctl, &h, sizeof h)) {
    s.close(ctl);
    return say("ERROR what=send-control errno=%d msg=%s", errno, strerror(errno));
  }
  std::atomic<bool> stop{false};
  std::vector<int> fds(static_cast<size_t>(streams), -1);
  std::mutex fds_mutex;
  std::vector<std::thread> senders;
  for (int i = 0; i < streams; ++i) {
    senders.emplace_back([&, i] {
      int fd = connect_to(p, to);
      if (fd < 0) return;
      {
        std::lock_guard lock(fds_mutex);
        if (stop) {
          s.close(fd);
          return;
        }
        fds[static_cast<size_t>(i)] = fd;
      }
      char t = 'D';
      DataHeader dh{id, static_cast<uint32_t>(i)};
      if (!write_exact(s, fd, &t, 1) || !write_exact(s, fd, &dh, sizeof dh)) return;
      std::vector<char> buf(kChunk, 'w');
      while (!stop) {
        if (s.send(fd, buf.data(), buf.size(), MSG_NOSIGNAL) <= 0) break;
      }
    });
  }
  std::vector<uint64_t> counts(static_cast<size_t>(streams), 0);
  set_timeout(s, ctl, SO_RCVTIMEO, duration + kGrace);
  const bool ok = read_exact(s, ctl, counts.data(), counts.size() * sizeof(uint64_t));
  const int err = errno;
  {
    std::lock_guard lock(fds_mutex);
    stop = true;
    for (int fd : fds) {
      if (fd >= 0) s.shutdown(fd, SHUT_RDWR);  // wakes a sender blocked in send
    }
  }
  for (auto &t : senders) t.join();
  for (int fd : fds) {
    if (fd >= 0) s.close(fd);
  }
  s.close(ctl);
  if (!ok) return say("ERROR what=counts errno=%d msg=%s", err, strerror(err));
  uint64_t total = 0;
  double lo = 1e18, hi = 0;
  for (uint64_t c : counts) {
    total += c;
    const double mbps = static_cast<double>(c) * 8 / seconds / 1e6;
    lo = std::min(lo, mbps);
    hi = std::max(hi, mbps);
  }
  say("RESULT streams=%d seconds=%.3f bytes=%llu mbps=%.3f min_mbps=%.3f max_mbps=%.3f", streams,
      seconds, static_cast<unsigned long long>(total),
      static_cast<double>(total) * 8 / seconds / 1e6, lo, hi);
}

int source(Params &p) {
  const bool ntm = p.stack == &kNtm;
  if (p.target.empty()) {
    fprintf(stderr, "ntm-wan-bench: source needs --target ADDR:PORT\n");
    return 2;
  }
  if (ntm && ntm_start(&p.node.options) != NTM_OK) {
    say("ERROR what=ntm_start msg=%s", ntm_last_error());
    return 1;
  }
  say("READY");
  std::string line;
  uint32_t id = static_cast<uint32_t>(getpid()) << 16;
  while (std::getline(std::cin, line)) {
    int streams = 0;
    double seconds = 0;
    char cmd[16] = "";
    int n = std::sscanf(line.c_str(), "%15s %d %lf", cmd, &streams, &seconds);
    if (n >= 1 && std::strcmp(cmd, "quit") == 0) break;
    if (n != 3 || std::strcmp(cmd, "run") != 0 || streams < 1 || streams > kMaxStreams ||
        seconds <= 0 || seconds > 3600) {
      say("ERROR what=command msg=want 'run STREAMS(1-%d) SECONDS' or 'quit'", kMaxStreams);
      continue;
    }
    measure(p, ++id, streams, seconds);
  }
  if (ntm) ntm_stop();
  say("DONE");
  return 0;
}

void usage(FILE *out) {
  fputs("usage: ntm-wan-bench sink   --stack ntm|kernel [--bind IPV4] [--port N] [NODE-OPTIONS]\n"
        "       ntm-wan-bench source --stack ntm|kernel --target ADDR:PORT [--cc NAME]\n"
        "                            [NODE-OPTIONS]   (commands on stdin: run STREAMS SECONDS)\n",
        out);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  signal(SIGPIPE, SIG_IGN);
  Params p;
  p.role = argv[1];
  if (node_args_init(&p.node) != 0) return 2;
  for (int i = 2; i < argc;) {
    int used = node_args_consume(&p.node, "ntm-wan-bench", argc, argv, &i);
    if (used < 0) return 2;
    if (used > 0) continue;
    if (i + 1 >= argc) {
      fprintf(stderr, "ntm-wan-bench: unknown option or missing value: %s\n", argv[i]);
      return 2;
    }
    std::string opt = argv[i], value = argv[i + 1];
    i += 2;
    if (opt == "--stack" && (value == "ntm" || value == "kernel")) {
      p.stack = value == "kernel" ? &kKernel : &kNtm;
    } else if (opt == "--bind") {
      p.bind = value;
    } else if (opt == "--port") {
      p.port = static_cast<unsigned short>(std::atoi(value.c_str()));
    } else if (opt == "--target") {
      p.target = value;
    } else if (opt == "--cc") {
      p.cc = value;
    } else {
      fprintf(stderr, "ntm-wan-bench: unknown option or bad value: %s %s\n", opt.c_str(),
              value.c_str());
      usage(stderr);
      return 2;
    }
  }
  if (p.role == "sink") return sink(p);
  if (p.role == "source") return source(p);
  fprintf(stderr, "ntm-wan-bench: unknown role '%s'\n", p.role.c_str());
  usage(stderr);
  return 2;
}
