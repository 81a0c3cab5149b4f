// Access policy between nodes and resolve floods (issue 13; docs/security.md "Access policy",
// "Floods and resource bounds"): the servers run in
// this process with a policy file the test writes (and rewrites), the nodes are ntm-policy-node
// processes (plain C against ntm.h; lwIP is a process singleton, so one node per process) and,
// for the node-side check, ntm-hostile-node, which ignores what the DC told its own engine.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "control_plane_fixture.h"
#include "report_fields.h"

namespace {

using namespace ntm_test;
using ntm::test::Fields;
using ntm::test::num;
using ntm::test::parse;
using ntm::test::str;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Writes the policy file atomically (the DC must never read half of it).
void write_policy(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
  }
  fs::rename(tmp, file);
}

long long epoch_ms() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The servers with accounts alice, bob, carol and mallory and the policy file `policy` (written
// before the DC starts, so it applies from the first resolve).
struct PolicyPlane {
  explicit PolicyPlane(const std::string& policy)
      : file(policy_dir.path / "policy"),
        cp(
            [&](servers::ServerOptions& o) {
              write_policy(file, policy);
              o.policy = file;
            }) {
    cp.app().accounts().add_password_account("carol", "carol-pw");
    cp.app().accounts().add_password_account("mallory", "mallory-pw");
  }

  std::vector<std::string> login(const std::string& account) {
    return {"--server", cp.app().as()->local_endpoint().to_string(), "--server-cert",
            cp.app().tls_cert_path().string(), "--account", account, "--password",
            account + "-pw"};
  }
  // ntm-policy-node for `account` with more options.
  std::vector<std::string> node(const std::string& account,
                                const std::vector<std::string>& extra) {
    return std::vector<std::string>{NTM_POLICY_NODE_PATH, "--listen", "127.0.0.1:0"} +
           login(account) + extra;
  }
  uint64_t denied_resolves() { return cp.app().dc()->drops().get(servers::DcDrop::denied); }

  TempDir policy_dir;
  fs::path file;
  ControlPlane cp;
};

Fields wait_ready_line(ChildProcess& p) {
  auto line = p.wait_for_line("READY ", seconds(30));
  if (!line) FAIL(p.name() << " did not become ready (see its output above)");
  return parse(*line);
}

std::vector<Fields> rounds_of(const ChildProcess& p) {
  std::vector<Fields> out;
  for (const auto& line : p.lines_starting("ROUND ")) out.push_back(parse(line));
  return out;
}

// Waits for DONE, stops the node and returns its STATS line.
Fields finish_node(ChildProcess& p, seconds timeout = seconds(60)) {
  if (!p.wait_for_line("DONE", timeout)) FAIL(p.name() << " did not finish its rounds");
  p.send_signal(SIGTERM);
  REQUIRE(p.wait_exit(seconds(30)) == 0);
  return parse(p.lines_starting("STATS ").at(0));
}

Fields stop_node(ChildProcess& p) {
  p.send_signal(SIGTERM);
  REQUIRE(p.wait_exit(seconds(30)) == 0);
  return parse(p.lines_starting("STATS ").at(0));
}

const std::vector<std::string> kServe = {"--serve-tcp", "5001,5002", "--serve-udp", "5001,5002"};

}  // namespace

TEST_CASE("a pair the access policy keeps apart cannot reach each other either way over TCP or "
          "UDP, while a pair it allows can",
          "[policy]") {
  PolicyPlane plane("allow alice -> carol\nallow carol -> alice\n");
  const std::vector<std::string> probe = {"--probe", "tcp/5001,udp/5001", "--interval-ms", "300"};
  ChildProcess bob("bob", plane.node("bob", kServe + probe +
                                                std::vector<std::string>{"--target", "alice.example",
                                                                         "--rounds", "3"}));
  wait_ready_line(bob);
  ChildProcess alice("alice", plane.node("alice", kServe + probe +
                                                      std::vector<std::string>{
                                                          "--target", "bob.example", "--rounds", "2"}));
  wait_ready_line(alice);
  ChildProcess carol("carol", plane.node("carol", kServe + probe +
                                                      std::vector<std::string>{
                                                          "--target", "alice.example", "--rounds", "1"}));
  const Fields carol_ready = wait_ready_line(carol);
  const Fields carol_stats = finish_node(carol);
  const Fields alice_stats = finish_node(alice);
  finish_node(bob);

  for (const auto& r : rounds_of(carol)) {
    CHECK(str(r, "resolved") == "1");
    CHECK(str(r, "tcp/5001") == "1");
    CHECK(str(r, "udp/5001") == "1");
  }
  for (const ChildProcess* p : {&alice, &bob}) {
    const auto rounds = rounds_of(*p);
    REQUIRE(!rounds.empty());
    for (const auto& r : rounds) {
      INFO(p->name());
      CHECK(str(r, "resolved") == "0");  // the DC answers "denied" and directs nobody
      CHECK(str(r, "tcp/5001") == "0");
      CHECK(str(r, "udp/5001") == "0");
    }
  }
  // Both directions were refused by the policy (not merely unanswered): alice's and bob's.
  CHECK(plane.denied_resolves() >= 2);
  // alice's application heard carol's datagram and nothing from bob.
  CHECK(!alice.lines_starting("DATAGRAM ").empty());
  for (const auto& line : alice.lines_starting("DATAGRAM "))
    CHECK(str(parse(line), "from") == str(carol_ready, "vip4"));
  CHECK(bob.lines_starting("DATAGRAM ").empty());
  CHECK(num(carol_stats, "dropped_policy") == 0);
  CHECK(num(alice_stats, "dropped_policy") == 0);
}

TEST_CASE("an allowed port works while another port of the same peer is refused, in the allowed "
          "direction only, and dropped_policy counts the refusals",
          "[policy]") {
  PolicyPlane plane("allow alice -> bob tcp/5001 udp/5001\n");
  // bob keeps probing until alice is up (his first rounds find nobody).
  ChildProcess bob("bob", plane.node("bob", kServe + std::vector<std::string>{
                                                        "--target", "alice.example", "--probe",
                                                        "tcp/5001,udp/5001", "--rounds", "4",
                                                        "--interval-ms", "500"}));
  wait_ready_line(bob);
  ChildProcess alice(
      "alice", plane.node("alice", kServe + std::vector<std::string>{
                                                "--target", "bob.example", "--probe",
                                                "tcp/5001,tcp/5002,udp/5001,udp/5002", "--rounds",
                                                "2"}));
  const Fields alice_stats = finish_node(alice);
  const Fields bob_stats = finish_node(bob);

  const auto alice_rounds = rounds_of(alice);
  REQUIRE(alice_rounds.size() == 2);
  for (const auto& r : alice_rounds) {
    CHECK(str(r, "resolved") == "1");
    CHECK(str(r, "held") == "1");  // a connection to the allowed port carries data both ways
    CHECK(str(r, "tcp/5001") == "1");
    CHECK(str(r, "tcp/5002") == "0");
    CHECK(str(r, "udp/5001") == "1");
    CHECK(str(r, "udp/5002") == "0");
  }
  // bob may open nothing on alice: the pair may talk, so his resolve succeeds, but his packets
  // to alice's ports are refused.
  const auto bob_rounds = rounds_of(bob);
  REQUIRE(str(bob_rounds.back(), "resolved") == "1");
  for (const auto& r : bob_rounds) {
    CHECK(str(r, "tcp/5001") == "0");
    CHECK(str(r, "udp/5001") == "0");
  }
  for (const auto& line : bob.lines_starting("DATAGRAM ")) CHECK(str(parse(line), "port") == "5001");
  CHECK(alice.lines_starting("DATAGRAM ").empty());
  CHECK(num(alice_stats, "dropped_policy") > 0);
  CHECK(num(bob_stats, "dropped_policy") > 0);
}

TEST_CASE("a node that ignores the access the DC gave it still cannot reach a refused port of its "
          "peer, not even from a port the peer may open on it",
          "[policy][hostile]") {
  PolicyPlane plane("allow mallory -> bob udp/5001\nallow bob -> mallory udp/6000\n");
  ChildProcess bob("bob", plane.node("bob", kServe));
  wait_ready_line(bob);
  ChildProcess mallory("mallory", std::vector<std::string>{NTM_HOSTILE_NODE_PATH, "policy",
                                                           "--target", "bob.example",
                                                           "--claim-name", "bob.example",
                                                           "--port", "5001", "--sneak-port",
                                                           "5002", "--sneak-sport", "6000"} +
                                      plane.login("mallory"));
  REQUIRE(mallory.wait_exit(seconds(60)) == 0);
  CHECK(str(parse(mallory.lines_starting("RESULT ").at(0)), "genuine_echoed") == "1");
  const Fields bob_stats = stop_node(bob);
  for (const auto& line : bob.lines_starting("DATAGRAM ")) {
    INFO(line);
    CHECK(str(parse(line), "port") == "5001");
    CHECK(str(parse(line), "text") == "GENUINE");
  }
  CHECK(num(bob_stats, "dropped_policy") == 2);
}

TEST_CASE("a policy change reaches running nodes within 2 s: an open connection and new ones to "
          "a port no longer allowed stop, a pair no longer allowed loses its tunnel, and allowing "
          "it again works at once",
          "[policy][change]") {
  PolicyPlane plane("allow alice -> bob\n");
  ChildProcess bob("bob", plane.node("bob", kServe));
  wait_ready_line(bob);
  ChildProcess alice("alice",
                     plane.node("alice", {"--target", "bob.example", "--probe", "tcp/5001,udp/5001",
                                          "--rounds", "200", "--interval-ms", "200"}));
  auto round_where = [&](size_t from, long long not_before_ms, const char* tcp, const char* held) {
    auto at = alice.wait_for_line_from(
        from, "ROUND ",
        [&](const std::string& line) {
          const Fields f = parse(line);
          return num(f, "start_ms") >= not_before_ms && str(f, "tcp/5001") == tcp &&
                 str(f, "udp/5001") == tcp && (held == nullptr || str(f, "held") == held);
        },
        seconds(30));
    if (!at) FAIL("alice never reported a round with tcp/5001=" << tcp);
    return *at;
  };
  // Constant bound: the DC reads the file every second and tells both ends at once (a notice is
  // repeated every 250 ms until acknowledged); a round takes up to ~3.5 s when probes fail, so
  // the first round that STARTS 2 s after the change must see it.
  constexpr long long kBoundMs = 2000;
  size_t at = round_where(0, 0, "1", "1");

  // 1. Port 5001 is no longer allowed (the pair still is): the open connection stops too.
  long long changed = epoch_ms();
  write_policy(plane.file, "allow alice -> bob tcp/6000\n");
  {
    // The figure for the record: the first round that saw the change.
    const size_t first = round_where(at + 1, changed, "0", nullptr);
    std::fprintf(stderr, "policy change seen by the round that started %lld ms after the write\n",
                 num(parse(alice.lines()[first]), "start_ms") - changed);
  }
  at = round_where(at + 1, changed + kBoundMs, "0", "0");
  CHECK(str(parse(alice.lines()[at]), "resolved") == "1");
  // Every round that started after the bound also failed.
  for (size_t i = at; i < alice.lines().size(); ++i)
    if (alice.lines()[i].starts_with("ROUND ")) CHECK(str(parse(alice.lines()[i]), "tcp/5001") == "0");

  // 2. Allowed again: new connections work at once.
  changed = epoch_ms();
  write_policy(plane.file, "allow alice -> bob\n");
  at = round_where(at + 1, changed, "1", nullptr);
  CHECK(num(parse(alice.lines()[at]), "start_ms") - changed <= kBoundMs + 4000);

  // 3. The pair is no longer allowed at all: the tunnel goes, and connecting to bob's address
  // (alice's node asks the DC who owns it) is refused.
  const uint64_t denied_before = plane.denied_resolves();
  changed = epoch_ms();
  write_policy(plane.file, "allow carol -> alice\n");
  at = round_where(at + 1, changed + kBoundMs, "0", nullptr);
  CHECK(plane.denied_resolves() > denied_before);

  // 4. And allowed again: by address, without a new name resolution.
  changed = epoch_ms();
  write_policy(plane.file, "# no rules: everything allowed\n");
  at = round_where(at + 1, changed, "1", nullptr);

  const Fields alice_stats = stop_node(alice);
  stop_node(bob);
  CHECK(num(alice_stats, "dropped_policy") > 0);
}

TEST_CASE("300 resolves of one name from a hostile node make one direction: the victim hears of "
          "it once, and an honest node still connects by name",
          "[flood]") {
  PolicyPlane plane("");  // no policy
  ChildProcess bob("bob", plane.node("bob", kServe));
  wait_ready_line(bob);
  const uint64_t directions_before = plane.cp.app().dc()->directions();
  ChildProcess mallory("mallory", std::vector<std::string>{NTM_HOSTILE_NODE_PATH, "resolve-flood",
                                                           "--target", "bob.example",
                                                           "--claim-name", "bob.example",
                                                           "--count", "300"} +
                                      plane.login("mallory"));
  REQUIRE(mallory.wait_exit(seconds(60)) == 0);
  const uint64_t flood_directions = plane.cp.app().dc()->directions() - directions_before;
  std::fprintf(stderr, "302 resolves of bob.example made %llu direction(s), %llu coalesced\n",
               static_cast<unsigned long long>(flood_directions),
               static_cast<unsigned long long>(plane.cp.app().dc()->resolves_coalesced()));
  CHECK(flood_directions == 1);  // 302 before the limits
  CHECK(plane.cp.app().dc()->resolves_coalesced() >= 290);

  ChildProcess alice("alice", plane.node("alice", {"--target", "bob.example", "--probe",
                                                   "tcp/5001,udp/5001", "--rounds", "1"}));
  finish_node(alice);
  const auto rounds = rounds_of(alice);
  REQUIRE(rounds.size() == 1);
  CHECK(str(rounds[0], "tcp/5001") == "1");
  CHECK(str(rounds[0], "udp/5001") == "1");
  const Fields bob_stats = stop_node(bob);
  // mallory's one direction and alice's, each perhaps retransmitted once before its ack.
  CHECK(num(bob_stats, "directions_received") <= 4);
}
