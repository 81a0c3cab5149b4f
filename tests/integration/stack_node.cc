// ntm-stack-node: one ntmobile node running one scenario about the virtual TCP stack's timers
// and limits, in the server or client role. Like ntm-test-node it only reports facts
// ("READY ...", "RESULT key=value ...", "ERROR ...") and the driver (stack_tests.cc) judges.
//
//   ntm-stack-node SCENARIO --role server|client NODE-OPTIONS [--connect NAME:PORT]
//                  [--count N] [--parallel N] [--backlog N] [--bytes N] [--timeout SECONDS]
//                  [--memory-limit BYTES] [--max-sockets N] [--max-per-peer N]
//
// Scenarios:
//   connect-burst  the server listens with --backlog and accepts (and closes) --count
//                  connections; the client makes them, --parallel at a time, and reports the
//                  connect times.
//   flood          the server accepts connections and never reads them; the client opens
//                  --count connections and writes to all of them (non-blocking) for --seconds.
//                  The server reports its RSS and memory_used once nothing grows any more.
//   many           the client opens --count connections and keeps them all open; each carries
//                  4 bytes each way. The server reports its RSS per connection.
//   buffers        (one node) SO_SNDBUF / SO_RCVBUF by default, set to 1 MiB and to 1 GiB.
#include <ntm.h>

#include "command_line.h"
#include "node_args.h"
#include "node_state.h"
#include "report.h"
#include "sockets.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace ntm_test;

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Config : NodeRun {
  int count = 1;
  int parallel = 1;
  int backlog = 5;
  double seconds = 5;
};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Resident set size of this process in KiB (from /proc/self/statm).
long rss_kib() {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f != nullptr) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

void print_ready() {
  ntm_node_info info = node_info();
  emit("READY endpoint_v4=%s rss_kib=%ld", info.endpoint_ipv4, rss_kib());
}

sockaddr_storage resolve(const Config &cfg, socklen_t *len) {
  sockaddr_storage out{};
  *len = resolve_target(cfg.connect, AF_INET, &out);
  return out;
}

// ---- connect-burst ----

int connect_burst(const Config &cfg) {
  if (cfg.role == "server") {
    int lfd = listen_socket(AF_INET, 5000, cfg.backlog);
    print_ready();
    for (int i = 0; i < cfg.count; ++i) {
      int fd = ntm_accept(lfd, nullptr, nullptr);
      if (fd < 0) die_errno("ntm_accept", errno);
      ntm_close(fd);
    }
    emit("RESULT accepted=%d", cfg.count);
    // Stay up until the client has seen its last connection established.
    std::this_thread::sleep_for(milliseconds(500));
    return 0;
  }
  socklen_t len = 0;
  const sockaddr_storage to = resolve(cfg, &len);
  std::atomic<int> next{0}, failed{0}, first_error{0};
  std::mutex mutex;
  std::vector<double> times;
  std::vector<std::thread> workers;
  const auto started = Clock::now();
  for (int w = 0; w < cfg.parallel; ++w) {
    workers.emplace_back([&] {
      while (next.fetch_add(1) < cfg.count) {
        int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) die_errno("ntm_socket", errno);
        const auto t = Clock::now();
        int rc = ntm_connect(fd, reinterpret_cast<const sockaddr *>(&to), len);
        const double ms = ms_since(t);
        if (rc != 0) {
          int expected = 0;
          first_error.compare_exchange_strong(expected, errno);
          ++failed;
        }
        ntm_close(fd);
        std::lock_guard lock(mutex);
        times.push_back(ms);
      }
    });
  }
  for (auto &w : workers) w.join();
  std::sort(times.begin(), times.end());
  auto pct = [&](double p) {
    return times.empty() ? 0.0 : times[std::min(times.size() - 1, size_t(p * times.size()))];
  };
  const char *error = first_error ? strerrorname_np(first_error.load()) : "none";
  emit("RESULT connects=%zu failed=%d first_error=%s max_ms=%.1f p50_ms=%.1f p99_ms=%.1f "
       "total_ms=%.0f",
       times.size(), failed.load(), error != nullptr ? error : "E?",
       times.empty() ? 0.0 : times.back(), pct(0.5), pct(0.99), ms_since(started));
  return 0;
}

// ---- flood ----

int flood(const Config &cfg) {
  if (cfg.role == "server") {
    const long rss_start = rss_kib();
    int lfd = listen_socket(AF_INET, 5000, 128);
    if (ntm_fcntl(lfd, F_SETFL, O_NONBLOCK) != 0) die_errno("ntm_fcntl", errno);
    print_ready();
    std::vector<int> held;
    uint64_t last_used = 0;
    long peak_rss = 0;
    auto quiet_since = Clock::now();
    const auto deadline = Clock::now() + std::chrono::duration<double>(cfg.seconds + 30);
    bool got_any = false;
    // Accept whatever arrives, never read; done once memory has not grown for 2 s.
    while (Clock::now() < deadline) {
      int fd = ntm_accept(lfd, nullptr, nullptr);
      if (fd >= 0) {
        held.push_back(fd);
        got_any = true;
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EMFILE && errno != ENOBUFS) {
        die_errno("ntm_accept", errno);
      }
      std::this_thread::sleep_for(milliseconds(100));
      const ntm_stats s = node_stats();
      peak_rss = std::max(peak_rss, rss_kib());
      if (s.memory_used > last_used + 64 * 1024) {
        last_used = s.memory_used;
        quiet_since = Clock::now();
      }
      if (got_any && ms_since(quiet_since) > 2000 && ms_since(quiet_since) > cfg.seconds * 1000)
        break;
    }
    const ntm_stats s = node_stats();
    emit("RESULT accepted=%zu rss_start_kib=%ld peak_rss_kib=%ld memory_used=%llu "
         "dropped_limit=%llu",
         held.size(), rss_start, std::max(peak_rss, rss_kib()),
         static_cast<unsigned long long>(s.memory_used),
         static_cast<unsigned long long>(s.dropped_limit));
    return 0;
  }
  socklen_t len = 0;
  const sockaddr_storage to = resolve(cfg, &len);
  std::vector<int> fds;
  int refused = 0;
  for (int i = 0; i < cfg.count; ++i) {
    int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die_errno("ntm_socket", errno);
    if (ntm_connect(fd, reinterpret_cast<const sockaddr *>(&to), len) != 0) {
      ++refused;
      ntm_close(fd);
      continue;
    }
    if (ntm_fcntl(fd, F_SETFL, O_NONBLOCK) != 0) die_errno("ntm_fcntl", errno);
    fds.push_back(fd);
  }
  std::vector<unsigned char> junk(64 * 1024, 0x5a);
  unsigned long long sent = 0;
  const auto until = Clock::now() + std::chrono::duration<double>(cfg.seconds);
  while (Clock::now() < until) {
    bool progress = false;
    for (int fd : fds) {
      ssize_t n = ntm_send(fd, junk.data(), junk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        sent += static_cast<unsigned long long>(n);
        progress = true;
      }
    }
    if (!progress) std::this_thread::sleep_for(milliseconds(20));
  }
  emit("RESULT connected=%zu refused=%d sent=%llu", fds.size(), refused, sent);
  // Keep the connections open until the driver ends us.
  std::this_thread::sleep_for(std::chrono::seconds(cfg.timeout_s));
  return 0;
}

// ---- many ----

int many(const Config &cfg) {
  if (cfg.role == "server") {
    int lfd = listen_socket(AF_INET, 5000, 1024);
    print_ready();
    const long rss_start = rss_kib();
    std::vector<int> held;
    held.reserve(static_cast<size_t>(cfg.count));
    for (int i = 0; i < cfg.count; ++i) {
      int fd = ntm_accept(lfd, nullptr, nullptr);
      if (fd < 0) die_errno("ntm_accept", errno);
      held.push_back(fd);
    }
    const long rss_idle = rss_kib();
    const ntm_stats idle = node_stats();
    // Each connection carries 4 bytes each way: every one of them is alive at once.
    int echoed = 0;
    for (int fd : held) {
      unsigned char b[4];
      size_t got = 0;
      while (got < sizeof b) {
        ssize_t n = ntm_recv(fd, b + got, sizeof b - got, 0);
        if (n <= 0) die_errno("ntm_recv", n == 0 ? ECONNRESET : errno);
        got += static_cast<size_t>(n);
      }
      if (ntm_send(fd, b, sizeof b, MSG_NOSIGNAL) != 4) die_errno("ntm_send", errno);
      ++echoed;
    }
    emit("RESULT accepted=%zu echoed=%d tcp_connections=%llu rss_start_kib=%ld "
         "rss_idle_kib=%ld rss_per_connection_bytes=%ld memory_used=%llu",
         held.size(), echoed, static_cast<unsigned long long>(idle.tcp_connections), rss_start,
         rss_idle, held.empty() ? 0 : (rss_idle - rss_start) * 1024 / long(held.size()),
         static_cast<unsigned long long>(idle.memory_used));
    // Keep them open until the client has read its replies and closed.
    for (int fd : held) {
      unsigned char b;
      ntm_recv(fd, &b, 1, 0);
      ntm_close(fd);
    }
    return 0;
  }
  socklen_t len = 0;
  const sockaddr_storage to = resolve(cfg, &len);
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(cfg.count));
  const auto started = Clock::now();
  for (int i = 0; i < cfg.count; ++i) {
    int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die_errno("ntm_socket", errno);
    if (ntm_connect(fd, reinterpret_cast<const sockaddr *>(&to), len) != 0) {
      die_errno("ntm_connect", errno);
    }
    uint32_t v = htonl(static_cast<uint32_t>(i));
    if (ntm_send(fd, &v, sizeof v, MSG_NOSIGNAL) != 4) die_errno("ntm_send", errno);
    fds.push_back(fd);
  }
  const double connect_ms = ms_since(started);
  int verified = 0;
  for (size_t i = 0; i < fds.size(); ++i) {
    uint32_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
      ssize_t n = ntm_recv(fds[i], reinterpret_cast<char *>(&v) + got, sizeof v - got, 0);
      if (n <= 0) die_errno("ntm_recv", n == 0 ? ECONNRESET : errno);
      got += static_cast<size_t>(n);
    }
    if (ntohl(v) == i) ++verified;
  }
  emit("RESULT connected=%zu verified=%d connect_ms=%.0f total_ms=%.0f", fds.size(), verified,
       connect_ms, ms_since(started));
  for (int fd : fds) ntm_close(fd);
  return 0;
}

// ---- buffers (one node): SO_SNDBUF / SO_RCVBUF as set and as read back ----

int buffers(const Config &) {
  int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  auto get = [&](int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (ntm_getsockopt(fd, SOL_SOCKET, name, &v, &len) != 0) return -errno;
    return v;
  };
  auto set = [&](int name, int v) {
    return ntm_setsockopt(fd, SOL_SOCKET, name, &v, sizeof v) == 0 ? 0 : -errno;
  };
  const int snd_default = get(SO_SNDBUF), rcv_default = get(SO_RCVBUF);
  const int snd_set = set(SO_SNDBUF, 1 << 20), rcv_set = set(SO_RCVBUF, 1 << 20);
  const int snd_1m = get(SO_SNDBUF), rcv_1m = get(SO_RCVBUF);
  set(SO_SNDBUF, 1 << 30);
  set(SO_RCVBUF, 1 << 30);
  emit("RESULT snd_default=%d rcv_default=%d snd_set=%d rcv_set=%d snd_1m=%d rcv_1m=%d "
       "snd_1g=%d rcv_1g=%d",
       snd_default, rcv_default, snd_set, rcv_set, snd_1m, rcv_1m, get(SO_SNDBUF), get(SO_RCVBUF));
  ntm_close(fd);
  return 0;
}

void usage(FILE *out) {
  fputs("usage: ntm-stack-node connect-burst|flood|many|buffers --role server|client NODE-OPTIONS\n"
        "         [--connect NAME:PORT] [--count N] [--parallel N] [--backlog N] [--seconds S]\n"
        "         [--timeout SECONDS] [--memory-limit BYTES] [--max-sockets N]\n"
        "         [--max-per-peer N]\n\n",
        out);
  fputs(node_args_usage(), out);
}

}  // namespace

int main(int argc, char **argv) {
  const char *program = "ntm-stack-node";
  Config cfg;
  // Numbers are non-negative (parse_number); counts are whole parts of them.
  auto count = [](const std::string &v) { return static_cast<int>(parse_number(v)); };
  CommandLine cl(program, usage);
  add_run_options(cl, cfg);
  cl.option("--count", [&](const std::string &v) { cfg.count = count(v); });
  cl.option("--parallel", [&](const std::string &v) { cfg.parallel = std::max(1, count(v)); });
  cl.option("--backlog", [&](const std::string &v) { cfg.backlog = count(v); });
  cl.option("--seconds", [&](const std::string &v) { cfg.seconds = parse_number(v); });
  cl.option("--memory-limit", [&](const std::string &v) {
    cfg.node.options.memory_limit = static_cast<size_t>(parse_number(v));
  });
  cl.option("--max-sockets", [&](const std::string &v) {
    cfg.node.options.max_sockets = static_cast<unsigned>(parse_number(v));
  });
  cl.option("--max-per-peer", [&](const std::string &v) {
    cfg.node.options.max_connections_per_peer = static_cast<unsigned>(parse_number(v));
  });
  if (!cl.parse_run(cfg, argc, argv)) return 2;
  // A hung scenario must not outlive its test: SIGALRM's default action ends the process.
  alarm(cfg.timeout_s + 30);
  signal(SIGPIPE, SIG_IGN);
  if (ntm_start(&cfg.node.options) != NTM_OK) {
    emit("ERROR what=ntm_start msg=%s", ntm_last_error());
    return 1;
  }
  int rc = 2;
  if (cfg.scenario == "connect-burst") {
    rc = connect_burst(cfg);
  } else if (cfg.scenario == "flood") {
    rc = flood(cfg);
  } else if (cfg.scenario == "many") {
    rc = many(cfg);
  } else if (cfg.scenario == "buffers") {
    rc = buffers(cfg);
  } else {
    fprintf(stderr, "%s: unknown scenario '%s'\n", program, cfg.scenario.c_str());
  }
  fflush(stdout);
  std::_Exit(rc);  // without ntm_stop(): the driver only needs the reports
}
