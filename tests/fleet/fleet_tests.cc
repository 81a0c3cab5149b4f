// Fleet tests (issue 18): several DCs on one database, on loopback (fleet_fixture.h). The
// namespace version, with kill -9 and NATs, is tests/faults/test_fleet.py.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "fleet_fixture.h"
#ifdef NTM_FLEET_POSTGRESQL
#include "pg_cluster.h"
#endif

#include <optional>
#include <string>
#include <vector>

namespace {

using namespace ntm_fleet;
using ntm::test::Fields;
using ntm::test::num;
using ntm::test::parse;
using ntm::test::str;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kRegistered = 6;  // NTM_EVENT_REGISTERED

Fields wait_ready(ChildProcess &p) {
  auto line = p.wait_for_line("READY ", seconds(30));
  if (!line) FAIL(p.name() << " did not become ready (see its output above)");
  return parse(*line);
}

// The t= of the first registration event (at or after line `from`) naming the DC at `dc`.
std::optional<double> registered_with(ChildProcess &p, const std::string &dc, size_t from,
                                      milliseconds timeout) {
  auto index = p.wait_for_line_from(
      from, "EVENT ",
      [&](const std::string &line) {
        const Fields f = parse(line);
        return num(f, "type") == kRegistered && str(f, "msg").ends_with("with the DC at " + dc);
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
#endif

}  // namespace
