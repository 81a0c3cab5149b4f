// Field integration tests (issue 12): sessions in control-plane mode living through time - the
// servers embedded on loopback (control_plane_fixture.h), ntm-field-node processes as the nodes.
// Network trouble (moves, NATs, outages) is in the namespace suites (tests/netns, tests/faults).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "child_process.h"
#include "control_plane_fixture.h"
#include "report_fields.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
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

// A UDP port on 127.0.0.1 that nobody reads: a DC endpoint that never answers.
struct SilentUdpPort {
  SilentUdpPort() {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~SilentUdpPort() { ::close(fd); }
  SilentUdpPort(const SilentUdpPort &) = delete;
  SilentUdpPort &operator=(const SilentUdpPort &) = delete;
  int fd = -1;
  uint16_t port = 0;
};

TEST_CASE("after a network change a node registers again when the DC answers one of the Registers "
          "it sent to every DC endpoint (not the last)",
          "[field][register]") {
  // After a network change a node sends its Register to every DC endpoint it knows (the family it
  // used may be gone), each with its own counter and so its own registration key. The DC answers
  // the one that reached it; the node used to keep only the last key, so when the answering
  // endpoint was not the last of the list it could open no answer, retried the same way every
  // 500 ms and stayed unregistered until something it sealed with its old key made the DC
  // challenge it (a keepalive, 20 s later, on a node with no tunnel to repair) - a 9 s stall
  // after a move in bench/soak.py (dual-stack DC list, the IPv6 endpoint last).
  SilentUdpPort dead_dc;
  uint16_t real_port = 0;
  {
    SilentUdpPort reserve;  // a free port for the real DC, released just before it binds
    real_port = reserve.port;
  }
  ControlPlane cp([&](servers::ServerOptions &o) {
    o.listen_dc = {Endpoint::v4({127, 0, 0, 1}, real_port)};
    o.dc_public = {Endpoint::v4({127, 0, 0, 1}, real_port), Endpoint::v4({127, 0, 0, 1}, dead_dc.port)};
  });
  // One node, no peer: nothing else it sends to the DC would make the DC challenge it.
  ChildProcess bob("bob", field_argv(cp, "sessions", "server", "bob", kBobPassword, {}),
                   /*echo_to_stderr=*/true, /*stdin_pipe=*/true);
  wait_ready(bob);
  for (int round = 1; round <= 3; ++round) {
    INFO("network change " << round);
    const size_t from = bob.lines().size();
    REQUIRE(bob.write_line("NETCHANGE"));
    const auto changed = bob.wait_for_line_from(
        from, "NETCHANGED ", [](const std::string &) { return true; }, std::chrono::seconds(5));
    REQUIRE(changed);
    // "registered again" (NTM_EVENT_REGISTERED = 6) within 3 s; the keepalive is 20 s away.
    const auto again = bob.wait_for_line_from(
        *changed, "EVENT ",
        [](const std::string &l) { return l.find(" type=6 ") != std::string::npos; },
        std::chrono::seconds(3));
    REQUIRE(again);
  }
}

}  // namespace
