#include <catch2/catch.hpp>

#include "dc/access_policy.h"

using namespace ntm::servers;
using ntm::tunnel::kProtocolAny;
using ntm::tunnel::kProtocolTcp;
using ntm::tunnel::kProtocolUdp;
using ntm::tunnel::PortRange;

TEST_CASE("without rules every pair is unrestricted", "[policy]") {
  for (const char* text : {"", "# nothing\n\n", "group ops = alice bob\n"}) {
    auto p = AccessPolicy::parse(text);
    CHECK_FALSE(p.restricts());
    CHECK_FALSE(p.access("alice", "bob").restricted);
  }
}

TEST_CASE("allow rules grant ports one way; groups, * and ranges expand; whatever no rule allows "
          "is refused",
          "[policy]") {
  auto p = AccessPolicy::parse(
      "group web = www1, www2   # servers\n"
      "group ops = alice @web\n"
      "allow alice -> @web tcp/80 tcp/443\n"
      "allow * -> www1 udp/5000-5010\n"
      "allow @ops -> bob\n");
  CHECK(p.restricts());
  auto a = p.access("alice", "www1");
  CHECK(a.restricted);
  CHECK(a.outbound == std::vector<PortRange>{{kProtocolTcp, 80, 80}, {kProtocolTcp, 443, 443},
                                             {kProtocolUdp, 5000, 5010}});
  CHECK(a.inbound.empty());  // www1 may open nothing on alice
  auto back = p.access("www1", "alice");
  CHECK(back.inbound == a.outbound);
  CHECK(back.outbound.empty());
  // carol: only www1's UDP range, nothing with bob or alice.
  CHECK(p.access("carol", "www1").outbound == std::vector<PortRange>{{kProtocolUdp, 5000, 5010}});
  CHECK(p.access("carol", "bob").denied());
  CHECK(p.access("bob", "carol").denied());
  // ops -> bob on every port, bob -> ops nothing: restricted (bob may not open alice's ports).
  auto ab = p.access("alice", "bob");
  CHECK(ab.restricted);
  CHECK(ab.outbound == std::vector<PortRange>{PortRange{}});
  CHECK(ab.inbound.empty());
}

TEST_CASE("a pair allowed every port both ways is sent as unrestricted", "[policy]") {
  auto p = AccessPolicy::parse("allow alice -> bob\nallow bob -> alice *\nallow carol -> bob 22\n");
  CHECK_FALSE(p.access("alice", "bob").restricted);
  CHECK_FALSE(p.access("bob", "alice").restricted);
  CHECK(p.access("carol", "bob").outbound == std::vector<PortRange>{{kProtocolAny, 22, 22}});
}

TEST_CASE("a malformed policy names the line and the problem", "[policy]") {
  auto error = [](const char* text) {
    try {
      AccessPolicy::parse(text, "pol");
    } catch (const PolicyError& e) {
      return std::string(e.what());
    }
    return std::string("(parsed)");
  };
  CHECK(error("allow alice bob\n") == "pol:1: expected: allow FROM -> TO [PORTS...]");
  CHECK(error("\nallow alice -> @nobody\n") ==
        "pol:2: unknown group 'nobody' (define it above)");
  CHECK(error("allow alice -> bob tcp/70000\n").starts_with("pol:1: 'tcp/70000' is not a port"));
  CHECK(error("allow alice -> bob sctp/1\n").starts_with("pol:1: 'sctp/1' is not a port"));
  CHECK(error("allow alice -> bob 9-8\n").starts_with("pol:1: '9-8' is not a port"));
  CHECK(error("deny alice -> bob\n") == "pol:1: unknown statement 'deny' (group or allow)");
  CHECK(error("allow Alice -> bob\n").starts_with("pol:1: 'Alice' is not an account name"));
}

TEST_CASE("account_of_fqdn takes the first label", "[policy]") {
  CHECK(account_of_fqdn("alice.example") == "alice");
  CHECK(account_of_fqdn("alice") == "alice");
}
