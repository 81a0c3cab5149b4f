// The DC's relay choice (servers/dc/relay_health.h): measured by probing every RS, so a relay
// that stopped answering is not handed out, and equally good ones share the load.
#include <catch2/catch.hpp>

#include <set>
#include <thread>

#include "aio/server_app.h"
#include "dc/relay_health.h"
#include "rs/relay_server.h"
#include "test_client.h"

using namespace ntm;
using namespace ntm::servers;
using namespace std::chrono_literals;
using control::MessageType;

namespace {

std::unique_ptr<RelayServer> start_rs() {
  RelayServerConfig c;
  c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
  auto rs = std::make_unique<RelayServer>(std::move(c));
  rs->start();
  return rs;
}

// A loopback UDP port with nothing behind it (bound by a socket that never answers).
struct DeadEndpoint {
  test::UdpSocket socket;
  Endpoint endpoint() const { return socket.local(); }
};

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

const RelayHealth::Config kQuick{.interval = 100ms, .dead_after = 400ms};
constexpr auto v4 = Endpoint::Family::v4;

}  // namespace

TEST_CASE("relay health: live relays share the load, a stopped one is passed over",
          "[servers][dc][relays]") {
  auto rs1 = start_rs();
  auto rs2 = start_rs();
  RelayHealth health({rs1->local_endpoints(), rs2->local_endpoints()}, kQuick);
  health.start();
  REQUIRE(eventually([&] { return health.status(0).alive && health.status(1).alive; }, 3s));
  CHECK(health.status(0).rtt.count() > 0);
  // A live one is handed out (which: the faster, or either when they are about as fast; on a
  // loaded machine loopback round trips differ too much to say which).
  for (uint32_t k = 0; k < 16; ++k) CHECK(health.choose(v4, v4, k).value() <= 1);

  const auto rs1_endpoints = rs1->local_endpoints();
  rs1->stop();
  REQUIRE(eventually([&] { return !health.status(0).alive; }, 2s));
  for (uint32_t k = 0; k < 16; ++k) CHECK(health.choose(v4, v4, k) == 1u);

  // It comes back: chosen again.
  RelayServerConfig again;
  again.listen = rs1_endpoints;
  RelayServer rs1b(std::move(again));
  rs1b.start();
  REQUIRE(eventually([&] { return health.status(0).alive; }, 3s));
  rs1b.stop();
}

TEST_CASE("relay health: without answers it spreads over the relays of the right family",
          "[servers][dc][relays]") {
  DeadEndpoint a, b;
  const Endpoint v6_only = Endpoint::v6({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 9);
  RelayHealth health({{a.endpoint()}, {v6_only}, {b.endpoint()}}, kQuick);
  health.start();
  CHECK_FALSE(health.status(0).alive);
  std::set<size_t> chosen;
  for (uint32_t k = 0; k < 16; ++k) chosen.insert(health.choose(v4, v4, k).value());
  CHECK(chosen == std::set<size_t>{0, 2});  // never the IPv6-only one for two IPv4 nodes
  CHECK(health.choose(Endpoint::Family::v6, Endpoint::Family::v6, 0) == 1u);
  RelayHealth none({{v6_only}}, kQuick);
  CHECK_FALSE(none.choose(v4, v4, 0));
}

TEST_CASE("DC: a Direction names a relay that answers, not one that is down",
          "[servers][dc][relays]") {
  auto live = start_rs();
  DeadEndpoint dead;
  test::TempDir dir;
  ServerOptions o;
  o.state = dir.path / "state";
  o.domain = "example";
  o.listen_as = {Endpoint::v4({127, 0, 0, 1}, 0)};
  o.listen_dc = {Endpoint::v4({127, 0, 0, 1}, 0)};
  // The dead relay first: without measurements half the tunnels would get it.
  o.relays = {{dead.endpoint()}, live->local_endpoints()};
  Roles roles;
  roles.rs = false;
  ServerApp app(o, roles, kTestPasswordCost);
  constexpr int kPairs = 6;  // a new pair per direction (the DC coalesces repeated resolves)
  for (int i = 0; i < 2 * kPairs; ++i) app.accounts().add_password_account("n" + std::to_string(i), "pw");
  app.start();
  auto login = [&](const std::string& name, uint8_t seed) {
    auto r = test::tls_login(app.as()->local_endpoint(), app.tls_cert_path(),
                             {name, "pw", test::fake_static_key(seed)});
    REQUIRE(r.response);
    REQUIRE(r.response->grant);
    return *r.response->grant;
  };
  std::vector<std::unique_ptr<test::TestNode>> nodes;
  for (int i = 0; i < 2 * kPairs; ++i) {
    nodes.push_back(std::make_unique<test::TestNode>(login("n" + std::to_string(i), static_cast<uint8_t>(i + 1)),
                                                     app.dc()->local_endpoints().at(0)));
    REQUIRE(nodes.back()->register_node());
  }
  // The DC's probes (every 500 ms) found the live relay, and the dead one silent.
  REQUIRE(eventually([&] { return app.dc()->relay_health().status(1).alive; }, 3s));
  CHECK_FALSE(app.dc()->relay_health().status(0).alive);
  for (int p = 0; p < kPairs; ++p) {
    auto& from = *nodes[2 * p];
    auto& to = *nodes[2 * p + 1];
    from.send(MessageType::resolve,
              control::encode(control::Resolve::by_name(1, "n" + std::to_string(2 * p + 1) + ".example")));
    auto m = from.wait_for(MessageType::direction);
    REQUIRE(m);
    const auto d = control::decode_direction(m->plaintext).value();
    CHECK(d.relay == live->local_endpoints().at(0));
    from.send(MessageType::direction_ack, control::encode(control::DirectionAck{d.direction_id}));
    if (auto mb = to.wait_for(MessageType::direction)) {
      const auto db = control::decode_direction(mb->plaintext).value();
      to.send(MessageType::direction_ack, control::encode(control::DirectionAck{db.direction_id}));
    }
    REQUIRE(from.wait_for(MessageType::resolve_reply));
  }
  app.stop();
}

TEST_CASE("relay health: a relay to avoid is passed over while another serves both families",
          "[servers][dc][relays]") {
  auto rs1 = start_rs();
  auto rs2 = start_rs();
  RelayHealth health({rs1->local_endpoints(), rs2->local_endpoints()}, kQuick);
  health.start();
  REQUIRE(eventually([&] { return health.status(0).alive && health.status(1).alive; }, 3s));
  CHECK(health.index_of(rs2->local_endpoints().at(0)) == 1u);
  CHECK_FALSE(health.index_of(Endpoint::v4({127, 0, 0, 1}, 9)));
  for (uint32_t k = 0; k < 16; ++k) {
    CHECK(health.choose(v4, v4, k, 0) == 1u);  // alive by the probes, but a node saw it fail
    CHECK(health.choose(v4, v4, k, 1) == 0u);
  }
  // The only one that serves both families is chosen anyway (it may be back).
  RelayHealth one({rs1->local_endpoints()}, kQuick);
  CHECK(one.choose(v4, v4, 0, 0) == 0u);
}

TEST_CASE("DC: a Resolve naming the relay that went silent gets a Direction through another "
          "relay at once; without it, the pair's recent direction stands",
          "[servers][dc][relays]") {
  auto rs1 = start_rs();
  auto rs2 = start_rs();
  test::TempDir dir;
  ServerOptions o;
  o.state = dir.path / "state";
  o.domain = "example";
  o.listen_as = {Endpoint::v4({127, 0, 0, 1}, 0)};
  o.listen_dc = {Endpoint::v4({127, 0, 0, 1}, 0)};
  o.relays = {rs1->local_endpoints(), rs2->local_endpoints()};
  Roles roles;
  roles.rs = false;
  ServerApp app(o, roles, kTestPasswordCost);
  for (const char* name : {"alice", "bob"}) app.accounts().add_password_account(name, "pw");
  app.start();
  auto login = [&](const std::string& name, uint8_t seed) {
    auto r = test::tls_login(app.as()->local_endpoint(), app.tls_cert_path(),
                             {name, "pw", test::fake_static_key(seed)});
    REQUIRE(r.response);
    REQUIRE(r.response->grant);
    return *r.response->grant;
  };
  test::TestNode alice(login("alice", 1), app.dc()->local_endpoints().at(0));
  test::TestNode bob(login("bob", 2), app.dc()->local_endpoints().at(0));
  REQUIRE(alice.register_node());
  REQUIRE(bob.register_node());
  REQUIRE(eventually([&] {
    return app.dc()->relay_health().status(0).alive && app.dc()->relay_health().status(1).alive;
  }, 3s));

  // Resolves bob (naming `failed`, if valid); returns the relay of the Direction both ends got,
  // or an invalid endpoint when the DC answered from the pair's recent direction instead.
  uint32_t request = 1;
  auto resolve = [&](const Endpoint& failed) {
    auto r = control::Resolve::by_name(request++, "bob.example");
    r.failed_relay = failed;
    alice.send(MessageType::resolve, control::encode(r));
    Endpoint relay;
    if (auto m = alice.wait_for(MessageType::direction, 500ms)) {
      const auto d = control::decode_direction(m->plaintext).value();
      relay = d.relay;
      alice.send(MessageType::direction_ack, control::encode(control::DirectionAck{d.direction_id}));
      auto mb = bob.wait_for(MessageType::direction);
      REQUIRE(mb);
      const auto db = control::decode_direction(mb->plaintext).value();
      CHECK(db.relay == relay);
      bob.send(MessageType::direction_ack, control::encode(control::DirectionAck{db.direction_id}));
    }
    auto reply = alice.wait_for(MessageType::resolve_reply);
    REQUIRE(reply);
    CHECK(control::decode_resolve_reply(reply->plaintext).value().status ==
          control::ResolveStatus::ok);
    return relay;
  };
  const Endpoint first = resolve({});
  REQUIRE(first.valid());
  const Endpoint other = first == rs1->local_endpoints().at(0) ? rs2->local_endpoints().at(0)
                                                               : rs1->local_endpoints().at(0);
  // Moments later (within the pair interval), without a failed relay: nothing new.
  CHECK_FALSE(resolve({}).valid());
  // Naming a relay the pair does not use: nothing new either (the other end reported first).
  CHECK_FALSE(resolve(other).valid());
  // Naming the relay in use: a new Direction, through the other relay, although the probes
  // still find both alive.
  CHECK(resolve(first) == other);
  app.stop();
}
