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

#include "command_line.h"
#include "node_args.h"
#include "node_state.h"
#include "report.h"
#include "sockets.h"

#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace ntm_test;

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
  Conn{fd}.write_all(data, len, what);
}

// ---- server ----

void echo_one(int listen_fd) {
  int fd = ntm_accept(listen_fd, nullptr, nullptr);
  if (fd < 0) die_errno("ntm_accept echo", errno);
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
  if (fd < 0) die_errno("ntm_accept sink", errno);
  std::vector<char> buf(kTcpBuffer);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ntm_recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("sink recv", errno);
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
  }
  send_all(fd, &total, sizeof total, "sink send count");
  ntm_close(fd);
}

int server(Params &p) {
  double login_ms = start_node(p);
  int echo_fd = listen_socket(p.family, p.port, 4, true);
  const auto sink_port = static_cast<unsigned short>(p.port + 1);
  int sink_fd = p.sink ? listen_socket(p.family, sink_port, 4, true) : -1;
  ntm_node_info info = node_info();
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
  PathInfo out;
  for (const ntm_tunnel_info &t : Tunnels()) {
    if (peer == t.peer_name) {
      out.path = path_name(static_cast<int>(t.path));
      out.endpoint = or_dash(t.endpoint);
    }
  }
  return out;
}

int connect_to(const sockaddr_storage &addr, socklen_t len) {
  int fd = ntm_socket(addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  if (ntm_connect(fd, reinterpret_cast<const sockaddr *>(&addr), len) != 0) {
    die_errno("ntm_connect", errno);
  }
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
  if (n != 1 || pong != ping) die_errno("echo recv", errno);
  PathInfo path = path_to(host);
  const std::string vaddr = address_text(addr);
  emit("SETUP total_ms=%.3f resolve_ms=%.3f connect_ms=%.3f echo_ms=%.3f path=%s endpoint=%s "
       "peer_vip=%s",
       ms_between(t0, t_echoed), ms_between(t0, t_resolved), ms_between(t_resolved, t_connected),
       ms_between(t_connected, t_echoed), path.path.c_str(), path.endpoint.c_str(),
       vaddr.c_str());
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
        die_errno("tcp send", errno);
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
      if (r <= 0) die_errno("tcp recv count", errno);
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
  CommandLine cl("ntm-cp-bench", usage);
  cl.flag("-6", [&] { p.family = AF_INET6; });
  cl.option("--connect", [&](const std::string &v) { p.connect = v; });
  cl.option("--port",
            [&](const std::string &v) { p.port = static_cast<unsigned short>(std::stoul(v)); });
  cl.option("--sink", [&](const std::string &v) { p.sink = v == "1"; });
  cl.option("--seconds", [&](const std::string &v) { p.seconds = std::stod(v); });
  cl.option("--max-bytes", [&](const std::string &v) { p.max_bytes = std::stoull(v); });
  cl.option("--timeout",
            [&](const std::string &v) { p.timeout_s = static_cast<unsigned>(std::stoul(v)); });
  if (!cl.parse(&p.node, argc, argv, 2)) return 2;
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
