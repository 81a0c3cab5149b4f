// ntm-cp-bench: one control-plane node per process for bench/control_plane.py, which runs it in
// network namespaces (tests/netns/topology.py). It measures, inside the client process and with
// the monotonic clock, how long a tunnel takes to come up: from the call to ntm_getaddrinfo() of
// the peer's FQDN (which makes the DC direct both ends) to the first byte echoed back over TCP
// through the new tunnel. Optionally it then measures one TCP stream's throughput over that
// tunnel, the same way as ntm-bench (1 MiB writes; the receiver replies with its byte count).
//
//   ntm-cp-bench server NODE-OPTIONS [--port P] [-6] [--sink 0|1] [--timeout S]
//       TCP echo on virtual port P (default 5301), TCP sink on P+1 (with --sink 1); serves one
//       connection each, then stops. Prints "READY name=... vip4=... vip6=... login_ms=...".
//   ntm-cp-bench client NODE-OPTIONS --connect FQDN:P [-6] [--seconds S] [--max-bytes N]
//       Prints "LOGIN ms=...", "SETUP total_ms=... resolve_ms=... connect_ms=... echo_ms=...
//       path=direct|relay endpoint=...", and with --seconds > 0 "THROUGHPUT gbps=... bytes=...
//       seconds=... path=...".
// NODE-OPTIONS are the examples' options (examples/c/node_args.h), here the control-plane ones:
// --server HOST:PORT --server-cert FILE --account NAME --password PW [--direct-timeout MS].
// Every line is "WORD key=value ..."; failures print "ERROR what=... msg=..." and exit 1.
#include <ntm.h>

#include "node_args.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC
constexpr size_t kTcpBuffer = 1 << 20;

struct Params {
  std::string role;
  node_args node{};
  std::string connect;
  int family = AF_INET;
  unsigned short port = 5301;
  bool sink = false;
  double seconds = 0;
  uint64_t max_bytes = 64ull << 30;
  unsigned timeout_s = 120;
};

void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void emit(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

// Library threads may still run: end at once, no destructors.
[[noreturn]] void die(const char *what) {
  int err = errno;
  emit("ERROR what=%s errno=%d msg=%s", what, err, strerror(err));
  std::_Exit(1);
}
[[noreturn]] void die_ntm(const char *what, int rc) {
  emit("ERROR what=%s rc=%d msg=%s", what, rc, ntm_last_error());
  std::_Exit(1);
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Starts the node: in control-plane mode ntm_start() logs in at the AS and registers at the DC
// before it returns, so the node is registered afterwards. Returns the time it took.
double start_node(Params &p) {
  auto t0 = Clock::now();
  int rc = ntm_start(&p.node.options);
  if (rc != NTM_OK) die_ntm("ntm_start", rc);
  return ms_between(t0, Clock::now());
}

void send_all(int fd, const void *data, size_t len, const char *what) {
  const char *d = static_cast<const char *>(data);
  while (len > 0) {
    ssize_t n = ntm_send(fd, d, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die(what);
    }
    d += n;
    len -= static_cast<size_t>(n);
  }
}

int listen_on(int family, unsigned short port) {
  int fd = ntm_socket(family, SOCK_STREAM, 0);
  if (fd < 0) die("ntm_socket");
  int one = 1;
  ntm_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage addr{};
  socklen_t len;
  if (family == AF_INET) {
    auto *a = reinterpret_cast<sockaddr_in *>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    len = sizeof *a;
  } else {
    ntm_setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    auto *a = reinterpret_cast<sockaddr_in6 *>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_any;
    len = sizeof *a;
  }
  if (ntm_bind(fd, reinterpret_cast<sockaddr *>(&addr), len) != 0) die("ntm_bind");
  if (ntm_listen(fd, 4) != 0) die("ntm_listen");
  return fd;
}

// ---- server ----

void echo_one(int listen_fd) {
  int fd = ntm_accept(listen_fd, nullptr, nullptr);
  if (fd < 0) die("ntm_accept echo");
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = ntm_recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // a reset by the client's stop is not the server's problem
    }
    if (n == 0) break;
    send_all(fd, buf.data(), static_cast<size_t>(n), "echo send");
  }
  ntm_close(fd);
}

void sink_one(int listen_fd) {
  int fd = ntm_accept(listen_fd, nullptr, nullptr);
  if (fd < 0) die("ntm_accept sink");
  std::vector<char> buf(kTcpBuffer);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ntm_recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("sink recv");
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
  }
  send_all(fd, &total, sizeof total, "sink send count");
  ntm_close(fd);
}

int server(Params &p) {
  double login_ms = start_node(p);
  int echo_fd = listen_on(p.family, p.port);
  int sink_fd = p.sink ? listen_on(p.family, static_cast<unsigned short>(p.port + 1)) : -1;
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  int rc = ntm_get_node_info(&info);
  if (rc != NTM_OK) die_ntm("ntm_get_node_info", rc);
  emit("READY name=%s vip4=%s vip6=%s endpoint_v4=%s endpoint_v6=%s login_ms=%.2f", info.name,
       info.virtual_ipv4, info.virtual_ipv6, info.endpoint_ipv4, info.endpoint_ipv6, login_ms);
  std::thread sink;
  if (p.sink) sink = std::thread([&] { sink_one(sink_fd); });
  echo_one(echo_fd);
  if (sink.joinable()) sink.join();
  ntm_close(echo_fd);
  if (sink_fd >= 0) ntm_close(sink_fd);
  ntm_stop();
  emit("DONE");
  return 0;
}

// ---- client ----

struct PathInfo {
  std::string path = "none";
  std::string endpoint = "-";
};

PathInfo path_to(const std::string &peer) {
  static const char *const kPaths[] = {"none", "direct", "relay"};
  PathInfo out;
  ntm_tunnel_info *rows = nullptr;
  size_t count = 0;
  if (ntm_tunnels_snapshot(&rows, &count) != NTM_OK) return out;
  for (size_t i = 0; i < count; ++i) {
    if (peer == rows[i].peer_name) {
      unsigned k = static_cast<unsigned>(rows[i].path);
      out.path = k < 3 ? kPaths[k] : "?";
      out.endpoint = rows[i].endpoint[0] != '\0' ? rows[i].endpoint : "-";
    }
  }
  ntm_tunnels_free(rows);
  return out;
}

void set_port(sockaddr_storage &addr, unsigned short port) {
  if (addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in &>(addr).sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6 &>(addr).sin6_port = htons(port);
  }
}

int connect_to(const sockaddr_storage &addr, socklen_t len) {
  int fd = ntm_socket(addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0) die("ntm_socket");
  if (ntm_connect(fd, reinterpret_cast<const sockaddr *>(&addr), len) != 0) die("ntm_connect");
  return fd;
}

int client(Params &p) {
  char host[256];
  const char *port = nullptr;
  if (node_args_split_host_port(p.connect.c_str(), host, sizeof host, &port) != 0) {
    fprintf(stderr, "ntm-cp-bench: bad --connect '%s' (want FQDN:PORT)\n", p.connect.c_str());
    return 2;
  }
  double login_ms = start_node(p);
  emit("LOGIN ms=%.2f", login_ms);

  // The measured span: resolve call -> first byte echoed. Nothing about the peer is known before.
  addrinfo hints{};
  hints.ai_family = p.family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  const auto t0 = Clock::now();
  int rc = ntm_getaddrinfo(host, port, &hints, &res);
  const auto t_resolved = Clock::now();
  if (rc != 0 || res == nullptr) {
    emit("ERROR what=ntm_getaddrinfo rc=%d msg=%s after_ms=%.1f", rc, gai_strerror(rc),
         ms_between(t0, t_resolved));
    std::_Exit(1);
  }
  sockaddr_storage addr{};
  socklen_t len = res->ai_addrlen;
  std::memcpy(&addr, res->ai_addr, len);
  ntm_freeaddrinfo(res);
  int fd = connect_to(addr, len);
  const auto t_connected = Clock::now();
  const char ping = 'x';
  send_all(fd, &ping, 1, "echo send");
  char pong = 0;
  ssize_t n;
  do {
    n = ntm_recv(fd, &pong, 1, 0);
  } while (n < 0 && errno == EINTR);
  const auto t_echoed = Clock::now();
  if (n != 1 || pong != ping) die("echo recv");
  PathInfo path = path_to(host);
  char vaddr[INET6_ADDRSTRLEN] = "?";
  inet_ntop(addr.ss_family,
            addr.ss_family == AF_INET
                ? static_cast<const void *>(&reinterpret_cast<sockaddr_in &>(addr).sin_addr)
                : static_cast<const void *>(&reinterpret_cast<sockaddr_in6 &>(addr).sin6_addr),
            vaddr, sizeof vaddr);
  emit("SETUP total_ms=%.3f resolve_ms=%.3f connect_ms=%.3f echo_ms=%.3f path=%s endpoint=%s "
       "peer_vip=%s",
       ms_between(t0, t_echoed), ms_between(t0, t_resolved), ms_between(t_resolved, t_connected),
       ms_between(t_connected, t_echoed), path.path.c_str(), path.endpoint.c_str(), vaddr);
  ntm_shutdown(fd, SHUT_WR);

  if (p.seconds > 0) {
    set_port(addr, static_cast<unsigned short>(std::atoi(port) + 1));
    int sfd = connect_to(addr, len);
    std::vector<char> buf(kTcpBuffer, 'x');
    uint64_t sent = 0;
    const auto start = Clock::now();
    const auto stop = start + std::chrono::duration<double>(p.seconds);
    while (sent < p.max_bytes && Clock::now() < stop) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(buf.size(), p.max_bytes - sent));
      ssize_t w = ntm_send(sfd, buf.data(), chunk, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        die("tcp send");
      }
      sent += static_cast<uint64_t>(w);
    }
    ntm_shutdown(sfd, SHUT_WR);
    uint64_t received = 0;
    size_t got = 0;
    while (got < sizeof received) {  // the count arrives once the sink has read everything
      ssize_t r = ntm_recv(sfd, reinterpret_cast<char *>(&received) + got, sizeof received - got,
                           0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) die("tcp recv count");
      got += static_cast<size_t>(r);
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    ntm_close(sfd);
    if (received != sent) {
      emit("ERROR what=tcp-count sent=%llu received=%llu", (unsigned long long)sent,
           (unsigned long long)received);
      std::_Exit(1);
    }
    PathInfo after = path_to(host);
    emit("THROUGHPUT gbps=%.3f bytes=%llu seconds=%.3f path=%s endpoint=%s",
         static_cast<double>(received) * 8 / elapsed / 1e9, (unsigned long long)received,
         elapsed, after.path.c_str(), after.endpoint.c_str());
  }
  // Wait for the echo server's end of stream so it can finish cleanly (bounded by its own stop).
  do {
    n = ntm_recv(fd, &pong, 1, 0);
  } while (n < 0 && errno == EINTR);
  ntm_close(fd);
  ntm_stop();
  emit("DONE");
  return 0;
}

void usage(FILE *out) {
  fputs("usage: ntm-cp-bench server NODE-OPTIONS [--port P] [-6] [--sink 0|1] [--timeout S]\n"
        "       ntm-cp-bench client NODE-OPTIONS --connect FQDN:P [-6] [--seconds S]\n"
        "                           [--max-bytes N] [--timeout S]\n"
        "Driven by bench/control_plane.py (network namespaces, as root).\n\n",
        out);
  fputs(node_args_usage(), out);
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2 || argv[1][0] == '-') {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  Params p;
  p.role = argv[1];
  if (node_args_init(&p.node) != 0) return 2;
  for (int i = 2; i < argc;) {
    int used = node_args_consume(&p.node, "ntm-cp-bench", argc, argv, &i);
    if (used < 0) return 2;
    if (used > 0) continue;
    std::string opt = argv[i];
    if (opt == "-6") {
      p.family = AF_INET6;
      ++i;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "ntm-cp-bench: unknown option or missing value: %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
    std::string value = argv[i + 1];
    i += 2;
    try {
      if (opt == "--connect") {
        p.connect = value;
      } else if (opt == "--port") {
        p.port = static_cast<unsigned short>(std::stoul(value));
      } else if (opt == "--sink") {
        p.sink = value == "1";
      } else if (opt == "--seconds") {
        p.seconds = std::stod(value);
      } else if (opt == "--max-bytes") {
        p.max_bytes = std::stoull(value);
      } else if (opt == "--timeout") {
        p.timeout_s = static_cast<unsigned>(std::stoul(value));
      } else {
        fprintf(stderr, "ntm-cp-bench: unknown option %s\n", opt.c_str());
        usage(stderr);
        return 2;
      }
    } catch (const std::exception &) {
      fprintf(stderr, "ntm-cp-bench: bad value for %s: '%s'\n", opt.c_str(), value.c_str());
      return 2;
    }
  }
  if (node_args_check(&p.node, "ntm-cp-bench") != 0) return 2;
  if (p.node.options.server == nullptr) {
    fprintf(stderr, "ntm-cp-bench: control-plane mode only (--server ...)\n");
    return 2;
  }
  alarm(p.timeout_s);  // a wedged node must not outlive the run (SIGALRM ends the process)
  signal(SIGPIPE, SIG_IGN);
  int rc = 2;
  if (p.role == "server") {
    rc = server(p);
  } else if (p.role == "client") {
    if (p.connect.empty()) {
      fprintf(stderr, "ntm-cp-bench: client needs --connect FQDN:PORT\n");
      return 2;
    }
    rc = client(p);
  } else {
    fprintf(stderr, "ntm-cp-bench: unknown role '%s'\n", p.role.c_str());
    usage(stderr);
  }
  node_args_free(&p.node);
  return rc;
}
