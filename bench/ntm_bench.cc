// ntm-bench: TCP throughput and UDP round-trip time through ntmobile's virtual stack, and the same
// two measurements over the kernel's loopback in the same run, printed side by side.
//
//   ntm-bench run [--seconds S] [--max-bytes N] [--rtts N] [--warmup N] [--size N] [--only ntm|kernel]
//
// `run` generates keys, then for each stack starts this program twice (server and client roles,
// one process each, as two real nodes would be) and collects the client's RESULT line. The roles
// are internal:
//   ntm-bench server --stack ntm|kernel [NODE-OPTIONS]
//   ntm-bench client --stack ntm|kernel [NODE-OPTIONS] --tcp ADDR:PORT --udp ADDR:PORT ...
// Both stacks run the same code: ntm's socket calls mirror BSD's, so one table of function
// pointers selects the stack.
#include <ntm.h>

#include "bench_stack.h"
#include "child_process.h"
#include "node_args.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using ntm_bench::kKernel;
using ntm_bench::kNtm;
using ntm_bench::Stack;
using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::seconds;

constexpr unsigned short kTcpPort = 5201;  // virtual ports of the ntm server
constexpr unsigned short kUdpPort = 5202;
constexpr size_t kTcpBuffer = 1 << 20;
constexpr char kQuit = 'Q';

[[noreturn]] void die(const char *what) {
  printf("ERROR what=%s errno=%d msg=%s\n", what, errno, strerror(errno));
  fflush(stdout);
  std::_Exit(1);
}

sockaddr_in ipv4(const std::string &host_port) {
  char host[64];
  const char *port = nullptr;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (node_args_split_host_port(host_port.c_str(), host, sizeof host, &port) != 0 ||
      inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    fprintf(stderr, "ntm-bench: bad address '%s' (want IPV4:PORT)\n", host_port.c_str());
    std::_Exit(2);
  }
  a.sin_port = htons(static_cast<unsigned short>(std::atoi(port)));
  return a;
}

struct Params {
  std::string role;
  const Stack *stack = &kNtm;
  node_args node{};
  std::string tcp_target;
  std::string udp_target;
  double seconds = 10;
  uint64_t max_bytes = 2ull << 30;
  int rtts = 20000;
  int warmup = 1000;
  size_t size = 64;
  int streams = 4;  // the multi-stream measure's streams (1: none)
  std::string only;
};

// ---- server: TCP sink (replies with the byte count) and UDP echo, both until told to stop. ----

void tcp_sink_one(const Stack &s, int fd) {
  std::vector<char> buf(kTcpBuffer);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = s.recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) die("tcp recv");
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
  }
  if (s.send(fd, &total, sizeof total, MSG_NOSIGNAL) != sizeof total) die("tcp send count");
  s.close(fd);
}

// The client makes one connection (one stream), then `streams` more at once: each is read to its
// end in its own thread and answered with its byte count.
void tcp_sink(const Stack &s, int listen_fd, int streams) {
  const int total = 1 + (streams > 1 ? streams : 0);
  std::vector<std::thread> readers;
  for (int i = 0; i < total; ++i) {
    int fd = s.accept(listen_fd, nullptr, nullptr);
    if (fd < 0) die("accept");
    readers.emplace_back([&s, fd] { tcp_sink_one(s, fd); });
  }
  for (auto &t : readers) t.join();
}

void udp_echo(const Stack &s, int fd) {
  char buf[65536];
  for (;;) {
    sockaddr_storage from;
    socklen_t len = sizeof from;
    ssize_t n = s.recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&from), &len);
    if (n < 0) die("udp recvfrom");
    if (n == 1 && buf[0] == kQuit) return;
    s.sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr *>(&from), len);
  }
}

int server(Params &p) {
  const Stack &s = *p.stack;
  bool ntm = &s == &kNtm;
  if (ntm) {
    int rc = ntm_start(&p.node.options);
    if (rc != NTM_OK) {
      printf("ERROR what=ntm_start msg=%s\n", ntm_last_error());
      return 1;
    }
  }
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_addr.s_addr = htonl(ntm ? INADDR_ANY : INADDR_LOOPBACK);
  int one = 1;
  int lfd = s.socket(AF_INET, SOCK_STREAM, 0);
  s.setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  any.sin_port = htons(ntm ? kTcpPort : 0);
  if (lfd < 0 || s.bind(lfd, reinterpret_cast<sockaddr *>(&any), sizeof any) != 0 ||
      s.listen(lfd, 64) != 0) {
    die("tcp listen");
  }
  int ufd = s.socket(AF_INET, SOCK_DGRAM, 0);
  any.sin_port = htons(ntm ? kUdpPort : 0);
  if (ufd < 0 || s.bind(ufd, reinterpret_cast<sockaddr *>(&any), sizeof any) != 0) die("udp bind");
  sockaddr_in tcp_addr{};
  sockaddr_in udp_addr{};
  socklen_t len = sizeof tcp_addr;
  s.getsockname(lfd, reinterpret_cast<sockaddr *>(&tcp_addr), &len);
  len = sizeof udp_addr;
  s.getsockname(ufd, reinterpret_cast<sockaddr *>(&udp_addr), &len);
  if (ntm) {
    ntm_node_info info{};
    info.version = NTM_NODE_INFO_VERSION;
    ntm_get_node_info(&info);
    printf("READY endpoint=%s tcp=%s:%u udp=%s:%u\n", info.endpoint_ipv4, info.virtual_ipv4,
           kTcpPort, info.virtual_ipv4, kUdpPort);
  } else {
    printf("READY endpoint=- tcp=127.0.0.1:%u udp=127.0.0.1:%u\n", ntohs(tcp_addr.sin_port),
           ntohs(udp_addr.sin_port));
  }
  fflush(stdout);
  std::thread tcp([&] { tcp_sink(s, lfd, p.streams); });
  udp_echo(s, ufd);
  tcp.join();
  s.close(lfd);
  s.close(ufd);
  if (ntm) ntm_stop();
  printf("DONE\n");
  return 0;
}

// ---- client: one TCP stream for a time or byte budget, then UDP ping-pong. ----

// One stream of the measure: sends from `start` until `stop` or `max_bytes`, then waits for the
// server's count. Returns the bytes delivered.
uint64_t tcp_stream(const Stack &s, int fd, Clock::time_point stop, uint64_t max_bytes) {
  std::vector<char> buf(kTcpBuffer, 'x');
  uint64_t sent = 0;
  while (sent < max_bytes && Clock::now() < stop) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), max_bytes - sent));
    ssize_t w = s.send(fd, buf.data(), n, MSG_NOSIGNAL);
    if (w < 0) die("tcp send");
    sent += static_cast<uint64_t>(w);
  }
  s.shutdown(fd, SHUT_WR);
  uint64_t received = 0;
  size_t got = 0;
  while (got < sizeof received) {  // the server's count arrives once it has read everything
    ssize_t n = s.recv(fd, reinterpret_cast<char *>(&received) + got, sizeof received - got, 0);
    if (n <= 0) die("tcp recv count");
    got += static_cast<size_t>(n);
  }
  s.close(fd);
  if (received != sent) {
    printf("ERROR what=tcp-count sent=%llu received=%llu\n", (unsigned long long)sent,
           (unsigned long long)received);
    std::_Exit(1);
  }
  return received;
}

// `streams` connections at once, each from its own thread (as an application would), the time
// and byte budget shared; the figure is all delivered bytes over the time until the last count.
double tcp_throughput_gbps(const Params &p, int streams) {
  const Stack &s = *p.stack;
  sockaddr_in to = ipv4(p.tcp_target);
  std::vector<int> fds;
  for (int i = 0; i < streams; ++i) {
    int fd = s.socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || s.connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to) != 0) {
      die("tcp connect");
    }
    fds.push_back(fd);
  }
  std::vector<uint64_t> delivered(fds.size());
  std::vector<std::thread> senders;
  auto start = Clock::now();
  auto stop = start + std::chrono::duration_cast<Clock::duration>(duration<double>(p.seconds));
  for (size_t i = 0; i < fds.size(); ++i) {
    senders.emplace_back([&, i] {
      delivered[i] = tcp_stream(s, fds[i], stop, p.max_bytes / fds.size());
    });
  }
  for (auto &t : senders) t.join();
  double elapsed = duration<double>(Clock::now() - start).count();
  uint64_t total = 0;
  for (uint64_t d : delivered) total += d;
  return static_cast<double>(total) * 8 / elapsed / 1e9;
}

struct Rtt {
  double median_us = 0;
  double p99_us = 0;
  int lost = 0;
};

Rtt udp_rtt(const Params &p) {
  const Stack &s = *p.stack;
  sockaddr_in to = ipv4(p.udp_target);
  int fd = s.socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("udp socket");
  timeval tv{1, 0};  // a lost datagram costs one second and is counted
  s.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::vector<char> out(std::max<size_t>(p.size, sizeof(uint32_t)));
  std::vector<char> in(65536);
  std::vector<double> samples;
  samples.reserve(static_cast<size_t>(p.rtts));
  Rtt r;
  uint32_t seq = 0;
  for (int i = 0; i < p.warmup + p.rtts; ++i) {
    ++seq;
    std::memcpy(out.data(), &seq, sizeof seq);
    auto t0 = Clock::now();
    if (s.sendto(fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr *>(&to), sizeof to) < 0) {
      die("udp sendto");
    }
    bool answered = false;
    while (!answered) {
      ssize_t n = s.recv(fd, in.data(), in.size(), 0);
      if (n < 0) break;  // timeout: lost
      uint32_t echoed = 0;
      std::memcpy(&echoed, in.data(), sizeof echoed);
      answered = n == static_cast<ssize_t>(out.size()) && echoed == seq;
    }
    auto t1 = Clock::now();
    if (!answered) {
      ++r.lost;
      continue;
    }
    if (i >= p.warmup) samples.push_back(duration<double, std::micro>(t1 - t0).count());
  }
  for (int i = 0; i < 3; ++i) {
    s.sendto(fd, &kQuit, 1, 0, reinterpret_cast<sockaddr *>(&to), sizeof to);
  }
  s.close(fd);
  if (!samples.empty()) {
    std::sort(samples.begin(), samples.end());
    r.median_us = samples[samples.size() / 2];
    r.p99_us = samples[std::min(samples.size() - 1, samples.size() * 99 / 100)];
  }
  return r;
}

int client(Params &p) {
  bool ntm = p.stack == &kNtm;
  if (ntm) {
    int rc = ntm_start(&p.node.options);
    if (rc != NTM_OK) {
      printf("ERROR what=ntm_start msg=%s\n", ntm_last_error());
      return 1;
    }
  }
  double gbps = tcp_throughput_gbps(p, 1);
  double multi_gbps = p.streams > 1 ? tcp_throughput_gbps(p, p.streams) : 0;
  Rtt rtt = udp_rtt(p);
  if (ntm) ntm_stop();
  printf("RESULT tcp_gbps=%.3f tcp_multi_gbps=%.3f udp_median_us=%.1f udp_p99_us=%.1f "
         "udp_lost=%d\n",
         gbps, multi_gbps, rtt.median_us, rtt.p99_us, rtt.lost);
  fflush(stdout);
  return 0;
}

// ---- run: both roles for both stacks, then the table. ----

using Fields = std::map<std::string, std::string>;

Fields parse(const std::string &line) {
  Fields f;
  std::istringstream in(line);
  std::string token;
  while (in >> token) {
    auto eq = token.find('=');
    if (eq != std::string::npos) f[token.substr(0, eq)] = token.substr(eq + 1);
  }
  return f;
}

std::string self_path() {
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) die("readlink /proc/self/exe");
  path[n] = '\0';
  return path;
}

struct Keys {
  std::string priv;
  std::string pub;
};

Keys keypair() {
  char priv[NTM_KEY_TEXT_SIZE];
  char pub[NTM_KEY_TEXT_SIZE];
  if (ntm_keypair_generate(priv, pub) != NTM_OK) {
    fprintf(stderr, "ntm-bench: ntm_keypair_generate: %s\n", ntm_last_error());
    std::_Exit(1);
  }
  return {priv, pub};
}

// Runs server and client for one stack; returns the client's RESULT fields (empty on failure).
Fields measure(const Params &p, const std::string &stack) {
  using namespace ntm_test;
  const std::string exe = self_path();
  std::vector<std::string> common = {"--seconds",   std::to_string(p.seconds),
                                     "--max-bytes", std::to_string(p.max_bytes),
                                     "--rtts",      std::to_string(p.rtts),
                                     "--warmup",    std::to_string(p.warmup),
                                     "--size",      std::to_string(p.size),
                                     "--streams",   std::to_string(p.streams)};
  std::vector<std::string> server_argv = {exe, "server", "--stack", stack, "--streams",
                                         std::to_string(p.streams)};
  std::vector<std::string> client_argv = {exe, "client", "--stack", stack};
  Keys server_keys;
  Keys client_keys;
  if (stack == "ntm") {
    server_keys = keypair();
    client_keys = keypair();
    server_argv.insert(server_argv.end(),
                       {"--name", "bench-server.test", "--key", server_keys.priv, "--vip4",
                        "100.64.0.2", "--listen", "127.0.0.1:0", "--peer",
                        "bench-client.test," + client_keys.pub + ",,100.64.0.1,"});
  }
  ChildProcess srv("bench " + stack + " server", server_argv, false);
  auto ready = srv.wait_for_line("READY", seconds(20));
  if (!ready) {
    fprintf(stderr, "ntm-bench: the %s server did not start\n", stack.c_str());
    return {};
  }
  Fields r = parse(*ready);
  client_argv.insert(client_argv.end(), {"--tcp", r["tcp"], "--udp", r["udp"]});
  if (stack == "ntm") {
    client_argv.insert(client_argv.end(),
                       {"--name", "bench-client.test", "--key", client_keys.priv, "--vip4",
                        "100.64.0.1", "--listen", "127.0.0.1:0", "--peer",
                        "bench-server.test," + server_keys.pub + "," + r["endpoint"] +
                            ",100.64.0.2,"});
  }
  client_argv.insert(client_argv.end(), common.begin(), common.end());
  ChildProcess cli("bench " + stack + " client", client_argv, false);
  // Generous bound: the TCP budget, plus the round trips, plus up to 1 s per lost datagram.
  auto budget = seconds(2 * static_cast<long>(p.seconds) + 120 + (p.rtts + p.warmup) / 1000);
  int rc = cli.wait_exit(std::chrono::duration_cast<std::chrono::milliseconds>(budget));
  srv.wait_exit(seconds(10));
  auto results = cli.lines_starting("RESULT");
  if (rc != 0 || results.empty()) {
    fprintf(stderr, "ntm-bench: the %s client failed (exit %d)\n", stack.c_str(), rc);
    for (const auto &l : cli.lines()) fprintf(stderr, "  client: %s\n", l.c_str());
    for (const auto &l : srv.lines()) fprintf(stderr, "  server: %s\n", l.c_str());
    return {};
  }
  return parse(results.back());
}

std::string cell(const Fields &f, const char *key, const char *unit) {
  auto it = f.find(key);
  return it == f.end() ? "failed" : it->second + " " + unit;
}

double number(const Fields &f, const char *key) {
  auto it = f.find(key);
  return it == f.end() ? 0 : std::atof(it->second.c_str());
}

// "0.18x (>= 0.16x: met)" - a ratio of this run's figures against its goal.
std::string goal(double ratio, bool at_least, double bound) {
  char text[64];
  const bool met = at_least ? ratio >= bound : ratio <= bound;
  snprintf(text, sizeof text, "%.2fx (%s %.2fx: %s)", ratio, at_least ? ">=" : "<=", bound,
           met ? "met" : "NOT met");
  return text;
}

int run(Params &p) {
  Fields ntm;
  Fields kernel;
  if (p.only != "kernel") ntm = measure(p, "ntm");
  if (p.only != "ntm") kernel = measure(p, "kernel");
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 1) load[0] = -1;
  printf("ntm-bench: TCP for %.0f s or %llu MiB, 1 stream then %d at once; %d UDP round trips of "
         "%zu bytes; load %.1f\n",
         p.seconds, (unsigned long long)(p.max_bytes >> 20), p.streams, p.rtts, p.size, load[0]);
  const std::string multi = "TCP, " + std::to_string(p.streams) + " streams";
  printf("%-17s %-14s %-14s %s\n", "", "ntmobile", "kernel", "ntmobile / kernel");
  auto row = [&](const std::string &name, const char *key, const char *unit, bool at_least,
                 double bound) {
    std::string ratio;
    if (!ntm.empty() && !kernel.empty() && number(kernel, key) > 0) {
      ratio = goal(number(ntm, key) / number(kernel, key), at_least, bound);
    }
    printf("%-17s %-14s %-14s %s\n", name.c_str(), cell(ntm, key, unit).c_str(),
           cell(kernel, key, unit).c_str(), ratio.c_str());
  };
  row("TCP, 1 stream", "tcp_gbps", "Gb/s", true, 0.16);
  if (p.streams > 1) row(multi, "tcp_multi_gbps", "Gb/s", true, 0.16);
  row("UDP RTT median", "udp_median_us", "us", false, 2);
  row("UDP RTT p99", "udp_p99_us", "us", false, 3);
  printf("%-17s %-14s %-14s\n", "UDP lost", cell(ntm, "udp_lost", "").c_str(),
         cell(kernel, "udp_lost", "").c_str());
  if (p.streams > 1 && !ntm.empty() && number(ntm, "tcp_gbps") > 0) {
    printf("ntmobile %d streams / 1 stream: %s\n", p.streams,
           goal(number(ntm, "tcp_multi_gbps") / number(ntm, "tcp_gbps"), true, 1).c_str());
  }
  bool ok = (p.only == "kernel" || !ntm.empty()) && (p.only == "ntm" || !kernel.empty());
  return ok ? 0 : 1;
}

void usage(FILE *out) {
  fputs("usage: ntm-bench run [--seconds S] [--max-bytes N] [--rtts N] [--warmup N] [--size N]\n"
        "                     [--streams N] [--only ntm|kernel]\n"
        "Measures TCP throughput (one stream, S seconds (default 10) or N bytes (default 2 GiB),\n"
        "whichever comes first; then N streams at once (default 4; 1: skip), each from its own\n"
        "thread, sharing the budget) and UDP round-trip time (default 20000 round trips of 64\n"
        "bytes after 1000 warm-up ones) through ntmobile and through the kernel on 127.0.0.1,\n"
        "and prints the ratios against the goals (TCP >= 0.16x kernel, UDP RTT median <= 2x and\n"
        "p99 <= 3x kernel, N streams >= 1 stream).\n",
        out);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  Params p;
  p.role = argv[1];
  if (node_args_init(&p.node) != 0) return 2;
  for (int i = 2; i < argc;) {
    int used = node_args_consume(&p.node, "ntm-bench", argc, argv, &i);
    if (used < 0) return 2;
    if (used > 0) continue;
    if (i + 1 >= argc) {
      fprintf(stderr, "ntm-bench: unknown option or missing value: %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
    std::string opt = argv[i];
    std::string value = argv[i + 1];
    i += 2;
    try {
      if (opt == "--stack") {
        p.stack = value == "kernel" ? &kKernel : &kNtm;
      } else if (opt == "--tcp") {
        p.tcp_target = value;
      } else if (opt == "--udp") {
        p.udp_target = value;
      } else if (opt == "--seconds") {
        p.seconds = std::stod(value);
      } else if (opt == "--max-bytes") {
        p.max_bytes = std::stoull(value);
      } else if (opt == "--rtts") {
        p.rtts = std::stoi(value);
      } else if (opt == "--warmup") {
        p.warmup = std::stoi(value);
      } else if (opt == "--size") {
        p.size = std::stoul(value);
      } else if (opt == "--streams") {
        p.streams = std::max(1, std::stoi(value));
      } else if (opt == "--only") {
        p.only = value;
      } else {
        fprintf(stderr, "ntm-bench: unknown option %s\n", opt.c_str());
        usage(stderr);
        return 2;
      }
    } catch (const std::exception &) {
      fprintf(stderr, "ntm-bench: bad value for %s: '%s'\n", opt.c_str(), value.c_str());
      return 2;
    }
  }
  if (p.role == "run") return run(p);
  // A wedged role must not outlive the run.
  alarm(static_cast<unsigned>(p.seconds) + 300);
  if (p.role == "server") return server(p);
  if (p.role == "client") return client(p);
  fprintf(stderr, "ntm-bench: unknown role '%s'\n", p.role.c_str());
  usage(stderr);
  return 2;
}
