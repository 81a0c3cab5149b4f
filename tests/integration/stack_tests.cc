// The virtual TCP stack's timers and limits, end to end: two ntm-stack-node processes (one node
// each) on loopback in static-peer mode. The nodes report facts; every judgement is here.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <ntm.h>

#include "child_process.h"
#include "report_fields.h"

#include <memory>
#include <string>
#include <vector>

namespace {

using namespace ntm_test;
using ntm::test::Fields;
using ntm::test::num;
using ntm::test::parse;
using ntm::test::str;
using std::chrono::seconds;

struct NodeId {
  std::string name, vip4, private_key, public_key;
};

NodeId make_node(std::string name, std::string vip4) {
  char priv[NTM_KEY_TEXT_SIZE];
  char pub[NTM_KEY_TEXT_SIZE];
  if (ntm_keypair_generate(priv, pub) != NTM_OK) FAIL("ntm_keypair_generate: " << ntm_last_error());
  return {std::move(name), std::move(vip4), priv, pub};
}

std::string peer_spec(const NodeId &n, const std::string &endpoint) {
  return n.name + "," + n.public_key + "," + endpoint + "," + n.vip4 + ",";
}

// A server node (listening on virtual port 5000) and a client node for one scenario.
struct Pair {
  NodeId server = make_node("bob.test", "100.64.0.2");
  NodeId client = make_node("alice.test", "100.64.0.1");
  std::unique_ptr<ChildProcess> server_proc, client_proc;

  std::vector<std::string> argv(const std::string &scenario, const NodeId &self,
                                const std::string &role) {
    return {NTM_STACK_NODE_PATH, scenario, "--role", role, "--name", self.name, "--key",
            self.private_key, "--vip4", self.vip4, "--listen", "127.0.0.1:0"};
  }

  void start(const std::string &scenario, const std::vector<std::string> &server_extra,
             const std::vector<std::string> &client_extra) {
    auto s = argv(scenario, server, "server");
    s.insert(s.end(), {"--peer", peer_spec(client, "")});
    s.insert(s.end(), server_extra.begin(), server_extra.end());
    server_proc = std::make_unique<ChildProcess>("server", s);
    auto ready = server_proc->wait_for_line("READY", seconds(30));
    if (!ready) FAIL("server node did not become ready (see its output above)");
    auto c = argv(scenario, client, "client");
    c.insert(c.end(), {"--peer", peer_spec(server, str(parse(*ready), "endpoint_v4")),
                       "--connect", server.name + ":5000"});
    c.insert(c.end(), client_extra.begin(), client_extra.end());
    client_proc = std::make_unique<ChildProcess>("client", c);
  }

  // The RESULT line of `p`, waiting up to `timeout` for it.
  static Fields result(ChildProcess &p, seconds timeout) {
    auto line = p.wait_for_line("RESULT", timeout);
    if (!line) FAIL(p.name() << " reported no RESULT (see its output above)");
    return parse(*line);
  }
};

}  // namespace

TEST_CASE("a burst of 200 connects, 50 at a time, against a listen backlog of 5 finishes with "
          "every connect under 2 s (1 s initial RTO for a dropped SYN)",
          "[tcp][rto]") {
  Pair pair;
  pair.start("connect-burst", {"--count", "200", "--backlog", "5"},
             {"--count", "200", "--parallel", "50"});
  Fields client = Pair::result(*pair.client_proc, seconds(120));
  Fields server = Pair::result(*pair.server_proc, seconds(30));
  INFO("client: max " << str(client, "max_ms") << " ms, p99 " << str(client, "p99_ms")
                      << " ms, all in " << str(client, "total_ms") << " ms");
  CHECK(num(client, "connects") == 200);
  CHECK(num(client, "failed") == 0);
  CHECK(num(server, "accepted") == 200);
  // lwIP 2.1.3 retried a dropped SYN after 3 s, and counted half-open connections in the
  // backlog, so SYNs of such a burst were dropped for sure: connects took 3 s, 6 s, ... (12 s
  // seen). Now a dropped SYN is retried after 1 s and only a slow acceptor makes the backlog
  // drop one: the goal is under 2 s (about 1.8 s on the loaded 2-core VM, where two retries
  // happen); the bound here is the old first retry.
  CHECK(std::stod(str(client, "max_ms")) < 2900.0);
}

TEST_CASE("a peer flooding 400 never-read connections keeps the victim within its memory budget",
          "[tcp][limits]") {
  constexpr long long kBudget = 64LL << 20;  // the victim's memory_limit
  Pair pair;
  pair.start("flood", {"--memory-limit", std::to_string(kBudget), "--seconds", "4"},
             {"--count", "400", "--seconds", "4"});
  Fields client = Pair::result(*pair.client_proc, seconds(120));
  Fields server = Pair::result(*pair.server_proc, seconds(90));
  const long long grown_kib = num(server, "peak_rss_kib") - num(server, "rss_start_kib");
  INFO("victim RSS grew by " << grown_kib / 1024 << " MiB; memory_used "
                             << num(server, "memory_used") / (1 << 20) << " MiB; the flood sent "
                             << num(client, "sent") / (1 << 20) << " MiB");
  CHECK(num(client, "connected") == 400);
  CHECK(num(server, "accepted") == 400);
  // lwIP's heap stays within the budget (plus what one burst of segments in flight adds), and
  // so does the process (before: 2.5 MiB per connection, 994 MB for 400).
  CHECK(num(server, "memory_used") <= kBudget + (4LL << 20));
  CHECK(grown_kib * 1024 <= kBudget + kBudget / 2);
  // The flood did try to send more than the budget: the windows closed on it.
  CHECK(num(client, "sent") > kBudget / 2);
}

TEST_CASE("connections beyond max_connections_per_peer or max_sockets are refused at once and "
          "counted in dropped_limit",
          "[tcp][limits]") {
  SECTION("max_connections_per_peer") {
    Pair pair;
    pair.start("flood", {"--max-per-peer", "50", "--seconds", "1"},
               {"--count", "60", "--seconds", "0.5"});
    Fields client = Pair::result(*pair.client_proc, seconds(60));
    Fields server = Pair::result(*pair.server_proc, seconds(60));
    CHECK(num(client, "connected") == 50);
    CHECK(num(client, "refused") == 10);  // ECONNREFUSED from the RST, no 3 s of SYN retries
    CHECK(num(server, "accepted") == 50);
    CHECK(num(server, "dropped_limit") >= 10);
  }
  SECTION("max_sockets") {
    Pair pair;
    // 32 sockets: the listener and 31 connections.
    pair.start("flood", {"--max-sockets", "32", "--seconds", "1"},
               {"--count", "40", "--seconds", "0.5"});
    Fields client = Pair::result(*pair.client_proc, seconds(60));
    Fields server = Pair::result(*pair.server_proc, seconds(60));
    CHECK(num(client, "connected") == 31);
    CHECK(num(client, "refused") == 9);
    CHECK(num(server, "accepted") == 31);
    CHECK(num(server, "dropped_limit") >= 9);
  }
}

TEST_CASE("10000 TCP connections are open at once on one node and each carries data both ways",
          "[tcp][limits][scale]") {
  constexpr int kCount = 10000;
  Pair pair;
  pair.start("many", {"--count", std::to_string(kCount), "--max-per-peer", "20000"},
             {"--count", std::to_string(kCount)});
  Fields client = Pair::result(*pair.client_proc, seconds(240));
  Fields server = Pair::result(*pair.server_proc, seconds(30));
  INFO("connected in " << str(client, "connect_ms") << " ms; server RSS per idle connection "
                       << str(server, "rss_per_connection_bytes") << " bytes");
  CHECK(num(client, "connected") == kCount);
  CHECK(num(client, "verified") == kCount);
  CHECK(num(server, "accepted") == kCount);
  CHECK(num(server, "echoed") == kCount);
  CHECK(num(server, "tcp_connections") >= kCount);
}

TEST_CASE("SO_SNDBUF and SO_RCVBUF fix a TCP socket's buffers, up to max_socket_buffer",
          "[tcp][buffers]") {
  Pair pair;
  auto argv = pair.argv("buffers", pair.server, "server");
  argv.insert(argv.end(), {"--peer", peer_spec(pair.client, "")});
  ChildProcess node("node", argv);
  Fields r = Pair::result(node, seconds(30));
  // Unset: a new connection's send buffer (it grows with the window), and the ceiling the
  // receive buffer may grow to.
  CHECK(num(r, "snd_default") == 512 * 1024);
  CHECK(num(r, "rcv_default") == 16 << 20);
  CHECK(num(r, "snd_set") == 0);  // lwIP 2.1.3 refused SO_SNDBUF (ENOPROTOOPT)
  CHECK(num(r, "snd_1m") == 1 << 20);
  CHECK(num(r, "rcv_1m") == 1 << 20);
  CHECK(num(r, "snd_1g") == 16 << 20);  // capped at max_socket_buffer
  CHECK(num(r, "rcv_1g") == 16 << 20);
}
