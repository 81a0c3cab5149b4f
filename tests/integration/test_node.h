// ntm-test-node's pieces shared by its scenarios (test_node_*.cc): the configuration from the
// command line, starting the node, stream connections in every bridge mode, checksummed streams
// and the report lines several scenarios print. See test_node.cc for the program itself.
#pragma once

#include <ntm.h>

#include "command_line.h"
#include "node_args.h"
#include "report.h"
#include "sockets.h"
#include "test_data.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace ntm_test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Config : NodeRun {
  int family = AF_INET;
  unsigned short port = 5000;
  uint64_t bytes = 16u << 20;
  int count = 1;
  std::string bridge = "none";
  std::string restart_cipher;
  bool print_events = false;  // --print-events: "EVENT type=N msg=..." lines (scenarios without
                              // their own event handler)
};

inline long long ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// ---- the node ----

// ntm_start() with the configured options (and the --print-events handler when asked for).
void start_node(Config &cfg);
void stop_node();
// "READY endpoint_v4= endpoint_v6= node_id= name= vip4= vip6=".
void print_ready();
// One "PATH peer= path= endpoint=" line per tunnel: how it reaches the peer and where.
void print_paths();
// "STATS phase=... <counters>" and "STATS_V1 ..." (a version 1 caller's view of the same call).
void print_stats(const char *phase);

// ---- connections (--bridge none|connect|socket|listen) ----

// Resolves --connect NAME:PORT in the configured family.
socklen_t resolve(const Config &cfg, sockaddr_storage *out);
Conn connect_conn(const Config &cfg);
Conn accept_conn(const Config &cfg, int listen_fd);
// The OS listener made by ntm_bridge_listen() (bridge mode "listen") once made; it owns the ntm
// listener then.
extern int g_os_listener;

// ---- checksummed streams ----

constexpr size_t kChunk = 256 * 1024;

// Sends `bytes` of stream `seed` and returns its SHA-256.
std::string send_stream(const Conn &c, uint64_t seed, uint64_t bytes);

struct Received {
  uint64_t bytes = 0;
  std::string sha;
};
// Reads until the end of the stream; returns the byte count and SHA-256. `on_data` (if set) is
// told the size of each piece as it arrives.
Received recv_stream(const Conn &c, const std::function<void(size_t)> &on_data = {});

// One client connection of tcp-transfer: sends --bytes, half-closes, receives --bytes back and
// prints "RESULT <tag> sent_bytes= sent_sha256= recv_bytes= recv_sha256=" and the paths.
void transfer_client(const Config &cfg, int index, const char *tag);

// ---- datagrams ----

// The udp scenario's datagram bridge (--bridge datagram): receives come from this OS descriptor.
extern int g_datagram_bridge;
// Waits up to `timeout` for a datagram on `fd` (or the bridge); returns its length, or -1.
ssize_t recv_datagram(int fd, unsigned char *buf, size_t len, milliseconds timeout,
                      sockaddr_storage *from, socklen_t *from_len);

// ---- the scenarios ----

int tcp_transfer(Config &cfg);     // test_node_tcp.cc
int duplex(Config &cfg);
int tcp_many(Config &cfg);
int close_wakes(Config &cfg);
int unreachable(Config &cfg);
int refused(Config &cfg);
int udp(Config &cfg);              // test_node_udp.cc
int self_udp(Config &cfg);
int restart(Config &cfg);          // test_node_api.cc
int node_api(Config &cfg);
int errors(Config &cfg);
int mobile_transfer(Config &cfg);  // test_node_mobile.cc
// Starts a thread printing this host's address and default-route changes as NETLINK lines
// (test_node_netlink.cc).
void watch_netlink();
// mobile-transfer's own options (--rate-mbps, --progress-ms, --udp-interval-ms, --stall-timeout).
void add_mobile_options(CommandLine &cl);

}  // namespace ntm_test
