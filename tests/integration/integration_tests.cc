// Integration tests: two ntm-test-node processes (one node each) talk over loopback in
// static-peer mode. The server node binds 127.0.0.1:0 and [::1]:0 and knows the client without
// an endpoint; the client is given the server's bound endpoint. Each TEST_CASE is one scenario;
// the nodes report facts on stdout and every judgement is made here.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <ntm.h>

#include "child_process.h"
#include "report_fields.h"
#include "test_data.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>

namespace {

using namespace ntm_test;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kBigTransfer = 16u << 20;  // 16 MiB each way

using ntm::test::Fields;
using ntm::test::num;
using ntm::test::parse;
using ntm::test::str;

struct NodeId {
  std::string name;
  std::string vip4;
  std::string vip6;
  std::string private_key;
  std::string public_key;
};

NodeId make_node(std::string name, std::string vip4, std::string vip6) {
  char priv[NTM_KEY_TEXT_SIZE];
  char pub[NTM_KEY_TEXT_SIZE];
  int rc = ntm_keypair_generate(priv, pub);
  if (rc != NTM_OK) FAIL("ntm_keypair_generate: " << ntm_last_error());
  return {std::move(name), std::move(vip4), std::move(vip6), priv, pub};
}

std::string peer_spec(const NodeId &n, const std::string &endpoint) {
  return n.name + "," + n.public_key + "," + endpoint + "," + n.vip4 + "," + n.vip6;
}

std::vector<std::string> node_argv(const std::string &scenario, const NodeId &self) {
  return {NTM_TEST_NODE_PATH, scenario,   "--name", self.name,        "--key",
          self.private_key,   "--vip4",   self.vip4, "--vip6",       self.vip6,
          "--listen",         "127.0.0.1:0", "--listen", "[::1]:0", "--timeout", "150"};
}

// A server node and a client node for one scenario.
struct NodePair {
  NodeId server = make_node("bob.test", "100.64.0.2", "fd00:6e74:6d::2");
  NodeId client = make_node("alice.test", "100.64.0.1", "fd00:6e74:6d::1");
  std::unique_ptr<ChildProcess> server_proc;
  std::unique_ptr<ChildProcess> client_proc;
  Fields ready;

  // Starts the server and waits for its READY line (it then listens on virtual port 5000).
  void start_server(const std::string &scenario, const std::vector<std::string> &extra = {}) {
    auto argv = node_argv(scenario, server);
    argv.insert(argv.end(), {"--role", "server", "--peer", peer_spec(client, "")});
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_proc = std::make_unique<ChildProcess>("server", argv);
    auto line = server_proc->wait_for_line("READY", seconds(20));
    if (!line) FAIL("server node did not become ready (see its output above)");
    ready = parse(*line);
    REQUIRE(str(ready, "endpoint_v4").starts_with("127.0.0.1:"));
    REQUIRE(str(ready, "endpoint_v6").starts_with("[::1]:"));
  }

  // Starts the client, reaching the server over the real IPv4 (or IPv6) loopback.
  void start_client(const std::string &scenario, const std::vector<std::string> &extra = {},
                    bool real_ipv6 = false) {
    auto argv = node_argv(scenario, client);
    std::string endpoint = str(ready, real_ipv6 ? "endpoint_v6" : "endpoint_v4");
    argv.insert(argv.end(), {"--role", "client", "--peer", peer_spec(server, endpoint),
                             "--connect", server.name + ":5000"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    client_proc = std::make_unique<ChildProcess>("client", argv);
  }

  // Waits for both to exit successfully (client first).
  void finish(seconds client_timeout = seconds(120)) {
    int client_rc = client_proc->wait_exit(client_timeout);
    int server_rc = server_proc->wait_exit(seconds(30));
    CHECK(client_proc->lines_starting("ERROR").empty());
    CHECK(server_proc->lines_starting("ERROR").empty());
    REQUIRE(client_rc == 0);
    REQUIRE(server_rc == 0);
  }

  std::vector<Fields> results(const ChildProcess &p) const {
    std::vector<Fields> out;
    for (const auto &l : p.lines_starting("RESULT ")) out.push_back(parse(l));
    return out;
  }
};

// A single node with one (never contacted) peer, for scenarios that need no second process.
std::unique_ptr<ChildProcess> run_single(const std::string &scenario) {
  NodeId self = make_node("alice.test", "100.64.0.1", "fd00:6e74:6d::1");
  NodeId peer = make_node("bob.test", "100.64.0.2", "fd00:6e74:6d::2");
  auto argv = node_argv(scenario, self);
  argv.insert(argv.end(), {"--peer", peer_spec(peer, "")});
  auto p = std::make_unique<ChildProcess>("node", argv);
  int rc = p->wait_exit(seconds(60));
  CHECK(p->lines_starting("ERROR").empty());
  REQUIRE(rc == 0);
  return p;
}

// Both directions of a tcp-transfer exchange carried the expected bytes.
void check_transfer(const Fields &client, const Fields &server, uint64_t bytes, int index) {
  std::string c2s = stream_sha256(kClientToServerSeed + index, bytes);
  std::string s2c = stream_sha256(kServerToClientSeed + index, bytes);
  CHECK(str(client, "sent_sha256") == c2s);
  CHECK(num(server, "recv_bytes") == static_cast<long long>(bytes));
  CHECK(str(server, "recv_sha256") == c2s);
  CHECK(str(server, "sent_sha256") == s2c);
  CHECK(num(client, "recv_bytes") == static_cast<long long>(bytes));
  CHECK(str(client, "recv_sha256") == s2c);
}

void big_transfer(const std::vector<std::string> &extra, bool real_ipv6) {
  NodePair pair;
  pair.start_server("tcp-transfer", extra);
  pair.start_client("tcp-transfer", extra, real_ipv6);
  pair.finish();
  auto client = pair.results(*pair.client_proc);
  auto server = pair.results(*pair.server_proc);
  REQUIRE(client.size() == 1);
  REQUIRE(server.size() == 1);
  check_transfer(client[0], server[0], kBigTransfer, 0);
}

}  // namespace

TEST_CASE("16 MiB each way over virtual IPv4 arrive with matching SHA-256", "[tcp][ipv4]") {
  big_transfer({}, false);
}

TEST_CASE("16 MiB each way over virtual IPv6 (real IPv6 loopback) arrive with matching SHA-256",
          "[tcp][ipv6]") {
  big_transfer({"-6"}, true);
}

TEST_CASE("the real-fd bridge (bridge_connect/bridge_accept) carries 16 MiB each way with read/write",
          "[bridge]") {
  big_transfer({"--bridge", "connect"}, false);
}

TEST_CASE("ntm_bridge_socket on connected sockets carries 16 MiB each way with read/write",
          "[bridge]") {
  big_transfer({"--bridge", "socket"}, false);
}

static void udp_both_ways(bool ipv6, bool bridged = false) {
  const int count = 200;
  std::vector<std::string> extra = {"--count", std::to_string(count)};
  if (ipv6) extra.push_back("-6");
  if (bridged) extra.insert(extra.end(), {"--bridge", "datagram"});
  NodePair pair;
  pair.start_server("udp", extra);
  pair.start_client("udp", extra);
  pair.finish(seconds(60));
  auto client = pair.results(*pair.client_proc);
  auto server = pair.results(*pair.server_proc);
  REQUIRE(client.size() == 1);
  REQUIRE(server.size() == 1);
  // Loopback should lose nothing; a rare loss is retried, and >= 95% must make it.
  CHECK(num(server[0], "received_unique") >= count * 95 / 100);
  CHECK(num(client[0], "replies_unique") >= count * 95 / 100);
  CHECK(num(server[0], "bad") == 0);
  CHECK(num(client[0], "bad") == 0);
  // recvfrom reports the client's virtual address as the source.
  CHECK(str(server[0], "source") == (ipv6 ? pair.client.vip6 : pair.client.vip4));
  if (bridged) {
    for (auto* proc : {pair.client_proc.get(), pair.server_proc.get()}) {
      auto end = proc->lines_starting("BRIDGE_END ");
      REQUIRE(end.size() == 1);
      // After ntm_close() the descriptor is readable and at its end: EBADF, not EAGAIN.
      CHECK(num(parse(end[0]), "readable") == 1);
      CHECK(num(parse(end[0]), "result") == -1);
      CHECK(num(parse(end[0]), "errno") == EBADF);
    }
  }
}

TEST_CASE("a bridged OS listener (ntm_bridge_listen) is pollable and carries 16 MiB each way",
          "[bridge]") {
  NodePair pair;
  std::vector<std::string> extra = {"--bridge", "listen"};
  pair.start_server("tcp-transfer", extra);
  pair.start_client("tcp-transfer", extra);
  pair.finish();
  auto client = pair.results(*pair.client_proc);
  auto server = pair.results(*pair.server_proc);
  REQUIRE(client.size() == 1);
  REQUIRE(server.size() == 1);
  check_transfer(client[0], server[0], kBigTransfer, 0);
  auto accepted = pair.server_proc->lines_starting("ACCEPTED ");
  REQUIRE(accepted.size() == 1);
  CHECK(str(parse(accepted[0]), "from") == pair.client.vip4);  // the peer's virtual address
}

TEST_CASE("UDP datagrams cross both ways over virtual IPv4 with correct contents", "[udp][ipv4]") {
  udp_both_ways(false);
}

TEST_CASE("UDP datagrams cross both ways over virtual IPv6 with correct contents", "[udp][ipv6]") {
  udp_both_ways(true);
}

TEST_CASE("UDP through the datagram bridge (ntm_bridge_datagram): polled OS descriptors, "
          "sources reported, end-of-file after ntm_close", "[udp][bridge]") {
  udp_both_ways(false, true);
  udp_both_ways(true, true);
}

TEST_CASE("100 concurrent TCP connections each echo and verify their data", "[tcp][many]") {
  const int count = 100;
  std::vector<std::string> extra = {"--count", std::to_string(count), "--bytes", "16384"};
  NodePair pair;
  pair.start_server("tcp-many", extra);
  pair.start_client("tcp-many", extra);
  pair.finish();
  auto client = pair.results(*pair.client_proc);
  auto server = pair.results(*pair.server_proc);
  REQUIRE(client.size() == 1);
  REQUIRE(server.size() == 1);
  INFO("first client error: " << str(client[0], "first_error"));
  CHECK(num(client[0], "ok") == count);
  CHECK(num(client[0], "barrier_timeouts") == 0);
  CHECK(num(server[0], "connections") == count);
  CHECK(num(server[0], "bytes_echoed") == count * 16384LL);
  // Every client holds its connection until all were verified, so all were open at once.
  CHECK(num(server[0], "max_concurrent") == count);
  CHECK(num(server[0], "recv_errors") == 0);
}

TEST_CASE("a reader thread and a writer thread on one socket carry both directions at once",
          "[tcp][duplex]") {
  NodePair pair;
  pair.start_server("duplex", {"--bytes", std::to_string(kBigTransfer)});
  pair.start_client("duplex", {"--bytes", std::to_string(kBigTransfer)});
  pair.finish();
  auto client = pair.results(*pair.client_proc);
  auto server = pair.results(*pair.server_proc);
  REQUIRE(client.size() == 1);
  REQUIRE(server.size() == 1);
  check_transfer(client[0], server[0], kBigTransfer, 0);
}

TEST_CASE("ntm_close from another thread wakes blocked poll, connect, recv, recvfrom and accept "
          "within 2 s",
          "[close]") {
  NodePair pair;
  pair.start_server("close-wakes");
  pair.start_client("close-wakes");
  pair.finish(seconds(60));
  auto client = pair.results(*pair.client_proc);
  REQUIRE(client.size() == 6);
  for (const auto &r : client) {
    INFO("blocked call: " << str(r, "kind") << " returned " << str(r, "ret") << " errno "
                          << str(r, "errno"));
    CHECK(str(r, "early") == "0");  // it really was blocked until the close
    CHECK(str(r, "close_rc") == "0");
    REQUIRE(str(r, "ret") != "timeout");
    CHECK(num(r, "wake_ms") <= 2000);
    // The header promises a prompt return; a closed descriptor gives -1/EBADF (or
    // ECONNABORTED, as after ntm_stop), or 0 (end of stream) for a stream recv.
    bool eof = str(r, "ret") == "0" && str(r, "kind") == "tcp-recv";
    bool closed = str(r, "ret") == "-1" &&
                  (str(r, "errno") == "EBADF" || str(r, "errno") == "ECONNABORTED");
    // A poll reports the closed descriptor in revents (POLLNVAL) with a return of 1.
    bool polled = str(r, "ret") == "1" && str(r, "kind").find("poll") != std::string::npos;
    CHECK((eof || closed || polled));
  }
  auto server = pair.results(*pair.server_proc);
  REQUIRE(server.size() == 1);
  CHECK(num(server[0], "server_recv") <= 0);  // the close reached the peer
}

TEST_CASE("connecting to a virtual address no peer owns fails with EHOSTUNREACH within 1 s",
          "[errors][unreachable]") {
  auto node = run_single("unreachable");
  auto results = node->lines_starting("RESULT ");
  REQUIRE(results.size() == 2);
  for (const auto &line : results) {
    Fields r = parse(line);
    INFO("target " << str(r, "target"));
    CHECK(str(r, "ret") == "-1");
    CHECK(str(r, "errno") == "EHOSTUNREACH");
    CHECK(num(r, "elapsed_ms") <= 1000);
  }
}

TEST_CASE("connecting to a port nobody listens on is refused with ECONNREFUSED, blocking and "
          "non-blocking (SO_ERROR)",
          "[errors][refused]") {
  NodePair pair;
  pair.start_server("tcp-transfer", {"--bytes", "1024"});
  pair.start_client("refused", {"--bytes", "1024"});
  pair.finish();
  auto results = pair.client_proc->lines_starting("RESULT mode=");
  REQUIRE(results.size() == 2);
  Fields blocking = parse(results[0]);
  CHECK(str(blocking, "ret") == "-1");
  CHECK(str(blocking, "errno") == "ECONNREFUSED");
  Fields nonblocking = parse(results[1]);
  CHECK(str(nonblocking, "connect_errno") == "EINPROGRESS");
  CHECK(str(nonblocking, "ready") == "1");
  CHECK(str(nonblocking, "so_error") == "ECONNREFUSED");
}

TEST_CASE("a node stops and starts again in one process and exchanges data both times",
          "[lifecycle]") {
  const uint64_t bytes = 1u << 20;
  NodePair pair;
  std::vector<std::string> extra = {"--bytes", std::to_string(bytes)};
  pair.start_server("tcp-transfer", {"--bytes", std::to_string(bytes), "--count", "2"});
  extra.insert(extra.end(), {"--restart-cipher", "chacha"});
  pair.start_client("restart", extra);
  pair.finish();
  auto stopped = pair.client_proc->lines_starting("STOPPED");
  REQUIRE(stopped.size() == 1);
  CHECK(str(parse(stopped[0]), "is_running") == "0");
  CHECK(num(parse(stopped[0]), "stop_ms") < 1000);  // "Blocks until done (bounded, < 1 s)"
  auto restarted = pair.client_proc->lines_starting("RESTARTED");
  REQUIRE(restarted.size() == 1);
  CHECK(str(parse(restarted[0]), "is_running") == "1");
  auto client = pair.results(*pair.client_proc);
  auto server = pair.results(*pair.server_proc);
  REQUIRE(client.size() == 2);
  REQUIRE(server.size() == 2);
  for (int round = 0; round < 2; ++round) {
    INFO("round " << round);
    check_transfer(client[round], server[round], bytes, round);
  }
}

TEST_CASE("node info, tunnel table, stats and events describe the running node", "[node-api]") {
  const uint64_t bytes = 1u << 20;
  NodePair pair;
  pair.start_server("tcp-transfer", {"--bytes", std::to_string(bytes)});
  pair.start_client("node-api", {"--bytes", std::to_string(bytes)});
  pair.finish();
  const ChildProcess &c = *pair.client_proc;

  auto one = [&](const char *prefix) {
    auto lines = c.lines_starting(prefix);
    if (lines.size() != 1) FAIL("expected one " << prefix << " line, got " << lines.size());
    return parse(lines[0]);
  };
  CHECK(str(one("BEFORE "), "is_running") == "0");

  Fields info = one("INFO ");
  CHECK(str(info, "is_running") == "1");
  CHECK(str(info, "node_id").size() == 16);
  CHECK(str(info, "node_id").find_first_not_of("0123456789abcdefABCDEF") == std::string::npos);
  CHECK(str(info, "name") == pair.client.name);
  CHECK(str(info, "public_key") == pair.client.public_key);
  CHECK(str(info, "vip4") == pair.client.vip4);
  CHECK(str(info, "vip6") == pair.client.vip6);
  CHECK(str(info, "endpoint_v4").starts_with("127.0.0.1:"));
  CHECK(str(info, "endpoint_v4") != "127.0.0.1:0");
  CHECK(str(info, "endpoint_v6").starts_with("[::1]:"));
  CHECK(str(info, "mtu") == "1420");

  auto results = pair.results(c);
  REQUIRE(results.size() == 1);
  check_transfer(results[0], pair.results(*pair.server_proc).at(0), bytes, 0);

  CHECK(str(one("WAITED "), "tunnel_up") == "1");
  REQUIRE(num(one("TUNNELS "), "count") == 1);
  Fields t = one("TUNNEL ");
  CHECK(str(t, "peer") == pair.server.name);
  CHECK(str(t, "node_id") == str(pair.ready, "node_id"));
  CHECK(str(t, "vip4") == pair.server.vip4);
  CHECK(str(t, "vip6") == pair.server.vip6);
  CHECK(num(t, "state") == NTM_TUNNEL_UP);
  CHECK(num(t, "path") == NTM_PATH_DIRECT);
  CHECK(str(t, "endpoint") == str(pair.ready, "endpoint_v4"));
  CHECK(num(t, "bytes_sent") >= static_cast<long long>(bytes));
  CHECK(num(t, "bytes_received") >= static_cast<long long>(bytes));
  CHECK(num(t, "packets_sent") > 0);
  CHECK(num(t, "packets_received") > 0);
  CHECK(num(t, "last_activity_ms") >= 0);
  CHECK(num(t, "session_age_ms") >= 0);
  CHECK(num(t, "rtt_us") > 0);       // measured from the handshake
  CHECK(num(t, "rtt_us") < 1000000);  // loopback

  Fields before;
  Fields after;
  for (const auto &l : c.lines_starting("STATS ")) {
    Fields f = parse(l);
    (str(f, "phase") == "before" ? before : after) = f;
  }
  REQUIRE(!before.empty());
  REQUIRE(!after.empty());
  CHECK(num(after, "packets_sent") > num(before, "packets_sent"));
  CHECK(num(after, "packets_received") > num(before, "packets_received"));
  CHECK(num(after, "bytes_sent") >= num(before, "bytes_sent") + static_cast<long long>(bytes));
  CHECK(num(after, "bytes_received") >= num(before, "bytes_received") + static_cast<long long>(bytes));
  CHECK(num(after, "handshakes_completed") >= 1);
  CHECK(num(after, "handshakes_failed") == 0);
  CHECK(num(after, "dropped_auth") == 0);
  CHECK(num(after, "handshakes_initiated") >= 1);
  CHECK(num(after, "dropped_spoofed") == 0);
  CHECK(num(after, "registrations") == 0);  // static-peer mode: no DC
  CHECK(num(after, "logins") == 0);
  CHECK(num(after, "tcp_connections") <= 1);
  for (const auto &l : c.lines_starting("STATS_V1 ")) {
    Fields f = parse(l);
    CHECK(num(f, "rc") == NTM_OK);
    CHECK(num(f, "tail_untouched") == 1);  // a version 1 struct is not written past its end
  }

  Fields stop = one("STOP ");
  CHECK(str(stop, "rc") == "0");
  CHECK(num(stop, "stop_ms") < 1000);  // "Blocks until done (bounded, < 1 s)"
  std::vector<Fields> events;
  for (const auto &l : c.lines_starting("EVENT ")) events.push_back(parse(l));
  REQUIRE(events.size() >= 2);
  CHECK(num(events.front(), "type") == NTM_EVENT_STARTED);
  int started = 0;
  int tunnel_up_index = -1;
  for (size_t i = 0; i < events.size(); ++i) {
    started += num(events[i], "type") == NTM_EVENT_STARTED;
    if (num(events[i], "type") == NTM_EVENT_TUNNEL_UP && tunnel_up_index < 0) {
      tunnel_up_index = static_cast<int>(i);
      CHECK(str(events[i], "peer") == pair.server.name);
    }
  }
  CHECK(started == 1);
  CHECK(tunnel_up_index > 0);  // after STARTED
  CHECK(num(events.back(), "type") == NTM_EVENT_STOPPING);  // "the last event of a run"

  Fields after_stop = one("AFTER_STOP ");
  CHECK(str(after_stop, "is_running") == "0");
  CHECK(num(after_stop, "info_rc") == NTM_ESTATE);
  CHECK(num(after_stop, "stats_rc") == NTM_ESTATE);
}

TEST_CASE("bad options, wrong state and unknown names fail with the documented errors",
          "[errors]") {
  auto node = run_single("errors");
  std::map<std::string, Fields> cases;
  for (const auto &l : node->lines_starting("CASE ")) {
    Fields f = parse(l);
    cases[str(f, "id")] = f;
  }
  auto rc = [&](const std::string &id) {
    if (!cases.count(id)) FAIL("no CASE line for " << id);
    return num(cases[id], "rc");
  };
  auto msg = [&](const std::string &id) { return str(cases[id], "msg"); };
  using Catch::Matchers::Contains;

  CHECK(rc("socket_before_start") == -1);
  CHECK(str(cases["socket_before_start"], "errno") == "ENETDOWN");
  CHECK(rc("node_info_before_start") == NTM_ESTATE);
  CHECK(rc("stop_before_start") == NTM_ESTATE);
  CHECK(rc("options_init_bad_version") == NTM_EVERSION);
  CHECK(rc("options_init_null") == NTM_EINVAL);

  // Each bad option gives NTM_EINVAL and a message naming the option.
  const std::pair<const char *, const char *> bad_options[] = {
      {"start_bad_private_key", "private_key"},     {"start_missing_name", "name"},
      {"start_bad_virtual_ipv4", "virtual_ipv4"},   {"start_bad_virtual_ipv6", "virtual_ipv6"},
      {"start_no_virtual_address", "virtual_ipv"},  {"start_bad_listen_ipv4", "listen_ipv4"},
      {"start_bad_peer_public_key", "public_key"},
      {"start_bad_memory_limit", "memory_limit"},   {"start_bad_max_sockets", "max_sockets"},
      {"start_bad_max_socket_buffer", "max_socket_buffer"},
      {"start_bad_keepalive_interval", "keepalive_interval_ms"},
      {"start_bad_control_socket", "control_socket"}};
  for (const auto &[id, option] : bad_options) {
    INFO(id << ": " << msg(id));
    CHECK(rc(id) == NTM_EINVAL);
    CHECK_THAT(msg(id), Contains(option));
  }
  CHECK(rc("running_after_failed_starts") == 0);

  CHECK(rc("start_good") == NTM_OK);
  CHECK(rc("start_twice") == NTM_ESTATE);
  CHECK(str(cases["getaddrinfo_unknown"], "is_eai_noname") == "1");
  CHECK(rc("getaddrinfo_self") == 0);
  CHECK(str(cases["getaddrinfo_self"], "address") == "100.64.0.1");
  CHECK(rc("getaddrinfo_peer") == 0);
  CHECK(str(cases["getaddrinfo_peer"], "address") == "100.64.0.2");
  CHECK(rc("stop") == NTM_OK);
  CHECK(rc("stop_twice") == NTM_ESTATE);
  CHECK(rc("socket_after_stop") == -1);
  CHECK(str(cases["socket_after_stop"], "errno") == "ENETDOWN");
}
