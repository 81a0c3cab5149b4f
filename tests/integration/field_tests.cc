// Field integration tests (issue 12): sessions in control-plane mode living through time - the
// servers embedded on loopback (control_plane_fixture.h), ntm-field-node processes as the nodes.
// Network trouble (moves, NATs, outages) is in the namespace suites (tests/netns, tests/faults).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "child_process.h"
#include "control_plane_fixture.h"
#include "report_fields.h"

#include <string>
#include <vector>

namespace {

using namespace ntm_test;
using ntm::test::num;
using ntm::test::str;

constexpr const char *kIdleTimeoutMs = "3000";

std::vector<std::string> field_argv(const ControlPlane &cp, const std::string &scenario,
                                    const std::string &role, const std::string &account,
                                    const std::string &password,
                                    const std::vector<std::string> &extra) {
  return cp.program_argv(NTM_FIELD_NODE_PATH, scenario, role, account, password,
                         extra + std::vector<std::string>{"--timeout", "60"});
}

TEST_CASE("an idle TCP connection outlives idle_timeout_ms in control-plane mode and carries data "
          "both ways afterwards, started by either end",
          "[field][idle]") {
  ControlPlane cp;
  // Three rounds: the client starts rounds 1 and 3, the server round 2; before rounds 2 and 3 the
  // starting end waits until its tunnel has gone idle (keys dropped after 3 s without traffic).
  const std::vector<std::string> common = {"--idle-timeout", kIdleTimeoutMs, "--rounds", "3",
                                           "--bytes", "262144"};
  ChildProcess bob("bob", field_argv(cp, "idle-rounds", "server", "bob", kBobPassword, common));
  wait_ready(bob);
  ChildProcess alice("alice",
                     field_argv(cp, "idle-rounds", "client", "alice", kAlicePassword,
                                common + std::vector<std::string>{
                                             "--connect", std::string("bob.") + kDomain + ":5000"}));
  finish(alice, bob);
  for (ChildProcess *p : {&alice, &bob}) {
    INFO(p->name());
    CHECK(p->lines_starting("ROUND ").size() == 3);
    const auto result = p->lines_starting("RESULT ");
    REQUIRE(result.size() == 1);
    CHECK(num(parse(result[0]), "rounds_ok") == 3);
  }
  // Each end waited for idleness before the round it started: the rounds really crossed it.
  CHECK(alice.lines_starting("IDLE ").size() == 1);  // before round 3
  CHECK(bob.lines_starting("IDLE ").size() == 1);    // before round 2
}

}  // namespace
