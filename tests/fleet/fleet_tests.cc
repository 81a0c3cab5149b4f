// Fleet tests (issue 18): several DCs on one database, and two RSs as processes killed with
// SIGKILL, on loopback (fleet_fixture.h). (Killing and restarting the one RS or DC in namespaces:
// tests/faults/test_restarts.py.)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "fleet_fixture.h"
#ifdef NTM_FLEET_POSTGRESQL
#include "pg_cluster.h"
#endif

#include <algorithm>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace ntm_fleet;
using ntm::test::Fields;
using ntm::test::num;
using ntm::test::parse;
using ntm::test::str;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kRegistered = 6;   // NTM_EVENT_REGISTERED
constexpr int kPeerRevoked = 7;  // NTM_EVENT_PEER_REVOKED
constexpr int kRevoked = 8;      // NTM_EVENT_REVOKED

Fields wait_ready(ChildProcess &p) {
  auto line = p.wait_for_line("READY ", seconds(30));
  if (!line) FAIL(p.name() << " did not become ready (see its output above)");
  return parse(*line);
}

// The t= of the first registration event (at or after line `from`) naming the DC at `dc` (or
// at any of `also`: the DC's other endpoints).
std::optional<double> registered_with(ChildProcess &p, const std::string &dc, size_t from,
                                      milliseconds timeout,
                                      const std::vector<std::string> &also = {}) {
  auto index = p.wait_for_line_from(
      from, "EVENT ",
      [&](const std::string &line) {
        const Fields f = parse(line);
        if (num(f, "type") != kRegistered) return false;
        const std::string msg = str(f, "msg");
        if (msg.ends_with("with the DC at " + dc)) return true;
        return std::any_of(also.begin(), also.end(), [&](const std::string &e) {
          return msg.ends_with("with the DC at " + e);
        });
      },
      timeout);
  if (!index) return std::nullopt;
  return std::stod(str(parse(p.lines()[*index]), "t"));
}

TEST_CASE("when its DC dies, a node registers with the next DC of its list within 3 s of the "
          "first message left unanswered (keepalive interval 1 s), its TCP sessions go on, and "
          "it resolves a peer there",
          "[fleet][failover]") {
  Fleet fleet({.dcs = 2, .keepalive_s = 1, .database = "", .reversed_as = false});
  for (const char *name : {"alice", "bob", "carol"}) fleet.add_account(name, std::string(name) + "-pw");
  const std::string dc1 = fleet.dc_endpoint(0), dc2 = fleet.dc_endpoint(1);

  ChildProcess bob("bob", fleet.field_argv("sessions", "server", "bob", {"--sessions", "2"}));
  wait_ready(bob);
  ChildProcess carol("carol", fleet.field_argv("sessions", "server", "carol", {"--sessions", "1"}));
  wait_ready(carol);
  // Two checksummed TCP sessions (bursts echoed and verified byte by byte) for 14 s; a gap in
  // progress longer than 8 s would end the run with an ERROR.
  ChildProcess alice("alice",
                     fleet.field_argv("sessions", "client", "alice",
                                      {"--connect", std::string("bob.") + kDomain + ":5000",
                                       "--sessions", "2", "--duration", "14", "--bytes", "8192",
                                       "--gap-ms", "20-50", "--stall-timeout", "8"}),
                     true, /*stdin_pipe=*/true);
  REQUIRE(alice.wait_for_line("PROGRESS ", seconds(30)));
  // Everybody registered with the first DC of the list.
  for (ChildProcess *p : {&alice, &bob, &carol}) {
    INFO(p->name());
    REQUIRE(registered_with(*p, dc1, 0, seconds(5)));
  }

  const size_t mark_alice = alice.lines().size(), mark_bob = bob.lines().size(),
               mark_carol = carol.lines().size();
  fleet.kill_dc(0);
  const double killed = mono_now();
  // alice needs the DC now: her unanswered Resolve makes her check it at once.
  REQUIRE(alice.write_line(std::string("RESOLVE carol.") + kDomain));

  // Each node's next keepalive (within 1 s) goes unanswered, is repeated once 1 s later, and
  // then the node registers with DC 2: within 1 s + 3 s of the kill.
  for (auto [p, mark] : {std::pair{&alice, mark_alice}, std::pair{&bob, mark_bob},
                         std::pair{&carol, mark_carol}}) {
    INFO(p->name());
    auto t = registered_with(*p, dc2, mark, seconds(8));
    REQUIRE(t);
    CHECK(*t - killed < 4.0);
    if (p == &alice) CHECK(*t - killed < 3.0);  // she had a Resolve waiting
  }

  // The Resolve: answered by DC 2 once carol is registered there too (an earlier answer may say
  // "offline": carol was still at the dead DC). Bounded: 8 s after the kill.
  std::optional<double> resolved;
  size_t from = mark_alice;
  while (!resolved && mono_now() - killed < 8.0) {
    auto index = alice.wait_for_line_from(
        from, "RESOLVED ", [](const std::string &) { return true; }, seconds(8));
    REQUIRE(index);
    from = *index + 1;
    const Fields f = parse(alice.lines()[*index]);
    if (num(f, "ok") == 1) {
      resolved = std::stod(str(f, "t"));
    } else {
      REQUIRE(alice.write_line(std::string("RESOLVE carol.") + kDomain));
    }
  }
  REQUIRE(resolved);
  CHECK(*resolved - killed < 5.0);

  // The sessions went on through it all: both alive, every byte verified, no ERROR.
  REQUIRE(alice.wait_exit(seconds(45)) == 0);
  CHECK(alice.lines_starting("ERROR").empty());
  const auto result = alice.lines_starting("RESULT ");
  REQUIRE(result.size() == 1);
  CHECK(num(parse(result[0]), "alive") == 2);
  CHECK(num(parse(result[0]), "bytes_verified") > 0);
}

// The TUNNEL line's relay port of `p`'s tunnel to `peer`, once its path is the relay (0: not
// within `timeout`), looking from line `from` on.
uint16_t relay_port_of(ChildProcess &p, const std::string &peer, size_t from,
                       std::chrono::milliseconds timeout, uint16_t other_than = 0) {
  auto index = p.wait_for_line_from(
      from, "TUNNEL ",
      [&](const std::string &line) {
        const Fields f = parse(line);
        if (str(f, "peer") != peer || str(f, "path") != "relay" || num(f, "state") != 2)
          return false;
        const auto ep = ntm::Endpoint::parse(str(f, "endpoint"));
        return ep && ep->port != other_than;
      },
      timeout);
  if (!index) return 0;
  return ntm::Endpoint::parse(str(parse(p.lines()[*index]), "endpoint"))->port;
}

// Per-session verified byte counts of a PROGRESS line ("v=12,34").
std::vector<uint64_t> progress_of(const std::string &line) {
  std::vector<uint64_t> v;
  std::stringstream ss(str(parse(line), "v"));
  for (std::string part; std::getline(ss, part, ',');) v.push_back(std::stoull(part));
  return v;
}

// Every session of `v` verified more than `floor` says.
bool all_above(const std::vector<uint64_t> &v, const std::vector<uint64_t> &floor) {
  bool all = v.size() == floor.size();
  for (size_t i = 0; all && i < v.size(); ++i) all = v[i] > floor[i];
  return all;
}

TEST_CASE("when the RS of a relayed tunnel is killed (kill -9), the tunnel moves to the other RS "
          "and its checksummed TCP sessions go on after a gap under 3 s",
          "[fleet][relay]") {
  // keepalive_s 20: nothing here waits for a keepalive.
  Fleet fleet({.dcs = 1, .keepalive_s = 20, .database = "", .reversed_as = false,
               .rs_processes = 2, .dual_stack = true});
  for (const char *name : {"alice", "bob"}) fleet.add_account(name, std::string(name) + "-pw");
  const std::string bob_name = std::string("bob.") + kDomain;
  const std::string alice_name = std::string("alice.") + kDomain;

  // bob IPv6-only, alice IPv4-only: no common family, so the DC directs them through a relay.
  ChildProcess bob("bob", fleet.field_argv("sessions", "server", "bob", {"--sessions", "2"},
                                           false, "[::1]:0"));
  wait_ready(bob);
  ChildProcess alice("alice",
                     fleet.field_argv("sessions", "client", "alice",
                                      {"--connect", bob_name + ":5000", "--sessions", "2",
                                       "--duration", "12", "--bytes", "8192", "--gap-ms", "20-50",
                                       "--stall-timeout", "8"}),
                     true, /*stdin_pipe=*/true);
  REQUIRE(alice.wait_for_line("PROGRESS ", seconds(30)));
  const uint16_t used = relay_port_of(alice, bob_name, 0, seconds(10));
  REQUIRE(used != 0);
  REQUIRE(relay_port_of(bob, alice_name, 0, seconds(10)) == used);
  const size_t in_use = used == fleet.rs_port(0) ? 0 : 1;
  REQUIRE(fleet.rs_port(in_use) == used);
  // Every session has verified data through it; then the RS dies.
  REQUIRE(alice.wait_for_line_from(
      0, "PROGRESS ",
      [&](const std::string &line) { return all_above(progress_of(line), {0, 0}); }, seconds(10)));
  const size_t mark = alice.lines().size(), mark_bob = bob.lines().size();
  fleet.kill_rs(in_use);
  const double killed = mono_now();
  // What the sessions had verified at the kill: the first PROGRESS line after it.
  auto first = alice.wait_for_line_from(
      mark, "PROGRESS ",
      [&](const std::string &line) { return std::stod(str(parse(line), "t")) >= killed; },
      seconds(5));
  REQUIRE(first);
  const std::vector<uint64_t> before = progress_of(alice.lines()[*first]);

  // Every session verified more bytes than at the kill: the first PROGRESS line that says so.
  std::optional<double> resumed;
  size_t from = *first + 1;
  while (!resumed) {
    auto index = alice.wait_for_line_from(
        from, "PROGRESS ", [](const std::string &) { return true; }, seconds(10));
    REQUIRE(index);
    from = *index + 1;
    if (all_above(progress_of(alice.lines()[*index]), before)) resumed = std::stod(str(parse(alice.lines()[*index]), "t"));
    REQUIRE(mono_now() - killed < 10.0);
  }
  const double gap = *resumed - killed;
  std::fprintf(stderr, "relay fail-over: every session progressed again %.0f ms after the kill\n",
               gap * 1000);
  CHECK(gap < 3.0);
  // Both ends went over to the other RS.
  const uint16_t other = fleet.rs_port(1 - in_use);
  CHECK(relay_port_of(alice, bob_name, mark, seconds(5), used) == other);
  CHECK(relay_port_of(bob, alice_name, mark_bob, seconds(5), used) == other);

  // The sessions went on through it all: both alive, every byte verified, no ERROR.
  REQUIRE(alice.wait_exit(seconds(45)) == 0);
  CHECK(alice.lines_starting("ERROR").empty());
  const auto result = alice.lines_starting("RESULT ");
  REQUIRE(result.size() == 1);
  CHECK(num(parse(result[0]), "alive") == 2);
  CHECK(num(parse(result[0]), "bytes_verified") > 0);
  std::fprintf(stderr, "relay fail-over: worst stall of a session %s ms\n",
               str(parse(result[0]), "worst_stall_ms").c_str());
}

TEST_CASE("nodes whose DC died while they were idle towards it (keepalive interval 20 s) fail "
          "over at once when their relayed tunnel needs a new path: the RS killed next, the "
          "tunnel moves to the other RS through DC 2 within seconds, not at the next keepalive",
          "[fleet][failover][relay]") {
  Fleet fleet({.dcs = 2, .keepalive_s = 20, .database = "", .reversed_as = false,
               .rs_processes = 2, .dual_stack = true});
  for (const char *name : {"alice", "bob"}) fleet.add_account(name, std::string(name) + "-pw");
  const std::string bob_name = std::string("bob.") + kDomain;
  const std::string alice_name = std::string("alice.") + kDomain;
  const std::string dc1 = fleet.dc_endpoint(0), dc2 = fleet.dc_endpoint(1);
  // bob reaches the DCs over IPv6.
  const std::vector<std::string> dc1_v6 = {fleet.dc(0).dc_endpoints().at(1).to_string()};
  const std::vector<std::string> dc2_v6 = {fleet.dc(1).dc_endpoints().at(1).to_string()};

  // bob IPv6-only, alice IPv4-only: their tunnel is relayed.
  ChildProcess bob("bob", fleet.field_argv("sessions", "server", "bob", {"--sessions", "2"},
                                           false, "[::1]:0"));
  wait_ready(bob);
  ChildProcess alice("alice",
                     fleet.field_argv("sessions", "client", "alice",
                                      {"--connect", bob_name + ":5000", "--sessions", "2",
                                       "--duration", "14", "--bytes", "8192", "--gap-ms", "20-50",
                                       "--stall-timeout", "12"}),
                     true, /*stdin_pipe=*/true);
  REQUIRE(alice.wait_for_line("PROGRESS ", seconds(30)));
  const uint16_t used = relay_port_of(alice, bob_name, 0, seconds(10));
  REQUIRE(used != 0);
  const size_t in_use = used == fleet.rs_port(0) ? 0 : 1;
  REQUIRE(fleet.rs_port(in_use) == used);
  REQUIRE(alice.wait_for_line_from(
      0, "PROGRESS ",
      [&](const std::string &line) { return all_above(progress_of(line), {0, 0}); }, seconds(10)));
  for (ChildProcess *p : {&alice, &bob}) {
    INFO(p->name());
    REQUIRE(registered_with(*p, dc1, 0, seconds(5), dc1_v6));
  }
  // DC 1 dies; nothing needs it (the tunnel is up, the next keepalive is up to 20 s away). Then
  // the RS dies: both ends ask their DC for another path, find it silent, and fail over.
  const size_t mark_alice = alice.lines().size(), mark_bob = bob.lines().size();
  fleet.kill_dc(0);
  std::this_thread::sleep_for(milliseconds(200));
  fleet.kill_rs(in_use);
  const double killed = mono_now();
  auto first = alice.wait_for_line_from(
      mark_alice, "PROGRESS ",
      [&](const std::string &line) { return std::stod(str(parse(line), "t")) >= killed; },
      seconds(5));
  REQUIRE(first);
  const std::vector<uint64_t> before = progress_of(alice.lines()[*first]);

  for (auto [p, mark] : {std::pair{&alice, mark_alice}, std::pair{&bob, mark_bob}}) {
    INFO(p->name());
    auto t = registered_with(*p, dc2, mark, seconds(10), dc2_v6);
    REQUIRE(t);
    std::fprintf(stderr, "idle DC fail-over: %s registered with DC 2 %.0f ms after the RS died\n",
                 p->name().c_str(), (*t - killed) * 1000);
    // Relay silence (1 s) + its probe (0.5 s), the unanswered request (0.5 s), two keepalives
    // 1 s apart: about 4 s, against up to 20 s + 2 s at the next keepalive.
    CHECK(*t - killed < 6.0);
  }
  std::optional<double> resumed;
  size_t from = *first + 1;
  while (!resumed) {
    auto index = alice.wait_for_line_from(
        from, "PROGRESS ", [](const std::string &) { return true; }, seconds(10));
    REQUIRE(index);
    from = *index + 1;
    if (all_above(progress_of(alice.lines()[*index]), before))
      resumed = std::stod(str(parse(alice.lines()[*index]), "t"));
    REQUIRE(mono_now() - killed < 12.0);
  }
  std::fprintf(stderr, "idle DC fail-over: every session progressed again %.0f ms after the RS "
               "died\n", (*resumed - killed) * 1000);
  CHECK(*resumed - killed < 7.0);
  const uint16_t other = fleet.rs_port(1 - in_use);
  CHECK(relay_port_of(alice, bob_name, mark_alice, seconds(5), used) == other);
  CHECK(relay_port_of(bob, alice_name, mark_bob, seconds(5), used) == other);

  REQUIRE(alice.wait_exit(seconds(45)) == 0);
  CHECK(alice.lines_starting("ERROR").empty());
  const auto result = alice.lines_starting("RESULT ");
  REQUIRE(result.size() == 1);
  CHECK(num(parse(result[0]), "alive") == 2);
}

#ifdef NTM_FLEET_POSTGRESQL
TEST_CASE("DCs sharing a PostgreSQL database resolve each other's nodes: a node registered with "
          "DC 2 reaches peers registered with DC 1 by name, and the tunnel carries checksummed "
          "sessions",
          "[fleet][postgresql]") {
  Fleet fleet({.dcs = 2,
               .keepalive_s = 1,
               .database = ntm::test::PgCluster::shared().create_database(),
               .reversed_as = true});
  for (const char *name : {"alice", "bob", "carol"}) fleet.add_account(name, std::string(name) + "-pw");
  const std::string dc1 = fleet.dc_endpoint(0), dc2 = fleet.dc_endpoint(1);

  ChildProcess bob("bob", fleet.field_argv("sessions", "server", "bob", {"--sessions", "2"}));
  wait_ready(bob);
  ChildProcess carol("carol", fleet.field_argv("sessions", "server", "carol", {"--sessions", "1"}));
  wait_ready(carol);
  // alice logs in to the AS that lists DC 2 first.
  ChildProcess alice("alice",
                     fleet.field_argv("sessions", "client", "alice",
                                      {"--connect", std::string("bob.") + kDomain + ":5000",
                                       "--sessions", "2", "--duration", "5", "--bytes", "8192",
                                       "--gap-ms", "20-50", "--stall-timeout", "8"},
                                      /*reversed=*/true),
                     true, /*stdin_pipe=*/true);
  REQUIRE(alice.wait_for_line("PROGRESS ", seconds(30)));
  REQUIRE(registered_with(bob, dc1, 0, seconds(5)));
  REQUIRE(registered_with(carol, dc1, 0, seconds(5)));
  REQUIRE(registered_with(alice, dc2, 0, seconds(5)));

  // A second peer of DC 1, by name, at the first attempt.
  REQUIRE(alice.write_line(std::string("RESOLVE carol.") + kDomain));
  auto resolved = alice.wait_for_line("RESOLVED ", seconds(10));
  REQUIRE(resolved);
  CHECK(num(parse(*resolved), "ok") == 1);
  CHECK(std::stod(str(parse(*resolved), "ms")) < 2000.0);

  REQUIRE(alice.wait_exit(seconds(45)) == 0);
  CHECK(alice.lines_starting("ERROR").empty());
  const auto result = alice.lines_starting("RESULT ");
  REQUIRE(result.size() == 1);
  CHECK(num(parse(result[0]), "alive") == 2);
  CHECK(num(parse(result[0]), "bytes_verified") > 0);
  // Both directions were made by DC 2 for peers DC 1 holds.
  CHECK(fleet.dc(1).dc()->fleet_directions() == 2);
  CHECK(fleet.dc(0).dc()->directions() == 0);
}

// The t= of the first event of `type` (at or after line `from`) whose peer field is `peer` ("-"
// or anything when empty).
std::optional<double> event_of(ChildProcess &p, int type, const std::string &peer,
                               milliseconds timeout) {
  auto index = p.wait_for_line_from(
      0, "EVENT ",
      [&](const std::string &line) {
        const Fields f = parse(line);
        return num(f, "type") == type && (peer.empty() || str(f, "peer") == peer);
      },
      timeout);
  if (!index) return std::nullopt;
  return std::stod(str(parse(p.lines()[*index]), "t"));
}

TEST_CASE("an account disabled in the fleet's store is revoked by every DC: its node (at DC 1) "
          "is cut off, and its peer registered at DC 2 is told (PEER_REVOKED) within a sweep",
          "[fleet][postgresql][revocation]") {
  Fleet fleet({.dcs = 2,
               .keepalive_s = 20,
               .database = ntm::test::PgCluster::shared().create_database(),
               .reversed_as = true});
  for (const char *name : {"alice", "bob"}) fleet.add_account(name, std::string(name) + "-pw");
  const std::string bob_name = std::string("bob.") + kDomain;

  ChildProcess bob("bob", fleet.field_argv("sessions", "server", "bob", {"--sessions", "1"}));
  wait_ready(bob);
  ChildProcess alice("alice",
                     fleet.field_argv("sessions", "client", "alice",
                                      {"--connect", bob_name + ":5000", "--sessions", "1",
                                       "--duration", "20", "--bytes", "8192", "--gap-ms", "20-50",
                                       "--stall-timeout", "20"},
                                      /*reversed=*/true),
                     true, /*stdin_pipe=*/true);
  REQUIRE(alice.wait_for_line("PROGRESS ", seconds(30)));
  REQUIRE(registered_with(bob, fleet.dc_endpoint(0), 0, seconds(5)));
  REQUIRE(registered_with(alice, fleet.dc_endpoint(1), 0, seconds(5)));
  // Both DCs have swept the accounts once since (account_recheck 2 s): the revocation is news.
  std::this_thread::sleep_for(seconds(3));

  fleet.disable_account("bob");
  const double disabled = mono_now();
  // DC 1 revokes bob (Error 2 -> REVOKED); DC 2, which does not hold him, tells alice.
  auto bob_revoked = event_of(bob, kRevoked, "", seconds(8));
  REQUIRE(bob_revoked);
  auto alice_told = event_of(alice, kPeerRevoked, bob_name, seconds(8));
  REQUIRE(alice_told);
  std::fprintf(stderr, "fleet revocation: bob revoked %.0f ms, alice told %.0f ms after the "
               "account was disabled\n", (*bob_revoked - disabled) * 1000,
               (*alice_told - disabled) * 1000);
  // One sweep of each DC (every 2 s) and the notice's delivery.
  CHECK(*bob_revoked - disabled < 3.0);
  CHECK(*alice_told - disabled < 3.0);
  // The DCs' counters (each DC's thread counts just after it sent).
  auto soon = [](auto pred) {
    for (int i = 0; i < 100 && !pred(); ++i) std::this_thread::sleep_for(milliseconds(20));
    return pred();
  };
  CHECK(soon([&] { return fleet.dc(0).dc()->revocations() == 1; }));
  CHECK(soon([&] { return fleet.dc(1).dc()->revocations_told() == 1; }));
  CHECK(fleet.dc(1).dc()->revocations() == 0);
  // bob stays out: alice's resolve of him is refused (he is registered nowhere).
  REQUIRE(alice.write_line("RESOLVE " + bob_name));
  auto resolved = alice.wait_for_line("RESOLVED ", seconds(10));
  REQUIRE(resolved);
  CHECK(num(parse(*resolved), "ok") == 0);
  alice.write_line("STOP");
}
#endif

}  // namespace
