// The three servers together (ServerApp, as ntm-server runs them) driven end to end: login over
// TLS, register, resolve, Direction to both ends, relay bind and forwarding through the RS.
#include <catch2/catch.hpp>

#include "aio/server_app.h"
#include "control/certificate.h"
#include "control/relay_messages.h"
#include "test_client.h"
#include "test_database.h"

using namespace ntm;
using namespace ntm::servers;
using namespace std::chrono_literals;
using control::MessageType;

namespace {

ServerOptions loopback_options(const std::filesystem::path& state) {
  ServerOptions o;
  o.state = state;
  o.domain = "example";
  o.listen_as = {Endpoint::v4({127, 0, 0, 1}, 0)};
  o.listen_dc = {Endpoint::v4({127, 0, 0, 1}, 0)};
  o.listen_rs = {Endpoint::v4({127, 0, 0, 1}, 0)};
  return o;
}

const PasswordCost kFast = kTestPasswordCost;

}  // namespace

TEST_CASE("all-in-one: login, register, resolve, direction and relay end to end",
          "[servers][aio]") {
  test::TempDir dir;
  ServerApp app(loopback_options(dir.path / "state"), Roles{}, kFast);
  app.accounts().add_password_account("alice", "pw-alice");
  auto [bob_info, bob_token] = app.accounts().add_token_account("bob");
  app.start();

  auto login = [&](const std::string& name, const std::string& secret, uint8_t seed) {
    auto r = test::tls_login(app.as()->local_endpoint(), app.tls_cert_path(),
                             {name, secret, test::fake_static_key(seed)});
    REQUIRE(r.tls_ok);
    REQUIRE(r.response);
    REQUIRE(r.response->status == control::LoginStatus::ok);
    return *r.response->grant;
  };
  const auto alice_grant = login("alice", "pw-alice", 1);
  const auto bob_grant = login("bob", bob_token, 2);
  REQUIRE(alice_grant.dc == app.dc()->local_endpoints());

  test::TestNode alice(alice_grant, alice_grant.dc.at(0));
  test::TestNode bob(bob_grant, bob_grant.dc.at(0));
  auto alice_ack = alice.register_node();
  auto bob_ack = bob.register_node();
  REQUIRE(alice_ack);
  REQUIRE(bob_ack);
  CHECK(alice_ack->virtual_ipv4 != bob_ack->virtual_ipv4);
  REQUIRE(alice_ack->relays == app.rs()->local_endpoints());

  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(1, "bob.example")));
  auto da = alice.wait_for(MessageType::direction);
  auto db = bob.wait_for(MessageType::direction);
  REQUIRE(da);
  REQUIRE(db);
  const auto to_alice = control::decode_direction(da->plaintext).value();
  const auto to_bob = control::decode_direction(db->plaintext).value();
  alice.send(MessageType::direction_ack, control::encode(control::DirectionAck{to_alice.direction_id}));
  bob.send(MessageType::direction_ack, control::encode(control::DirectionAck{to_bob.direction_id}));
  auto reply = alice.wait_for(MessageType::resolve_reply);
  REQUIRE(reply);
  const auto r = control::decode_resolve_reply(reply->plaintext).value();
  CHECK(r.status == control::ResolveStatus::ok);
  CHECK(r.virtual_ipv6 == bob_ack->virtual_ipv6);

  // The peer certificate binds bob's static key, verifiable with the key from alice's login.
  const auto bob_cert = control::decode_certificate(to_alice.peer_certificate).value();
  CHECK(bob_cert.static_public == test::fake_static_key(2));
  CHECK(control::verify(bob_cert, alice_grant.as_sign_public,
                        static_cast<uint64_t>(std::time(nullptr))));
  // ... and the virtual addresses the DC gave bob: the AS certified them at login, so alice
  // accepts the direction (control::check_directed_peer).
  CHECK(bob_cert.version == control::kCertificateVersion);
  CHECK(bob_cert.virtual_ipv4 == bob_ack->virtual_ipv4);
  CHECK(bob_cert.virtual_ipv6 == bob_ack->virtual_ipv6);
  CHECK(control::check_directed_peer(to_alice.peer_certificate, to_alice.peer_virtual_ipv4,
                                     to_alice.peer_virtual_ipv6, alice_grant.as_sign_public,
                                     static_cast<uint64_t>(std::time(nullptr)))
            .cert);
  const auto alice_cert = control::decode_certificate(alice_grant.certificate).value();
  CHECK(alice_cert.virtual_ipv4 == alice_ack->virtual_ipv4);
  CHECK(to_bob.peer_virtual_ipv4 == alice_cert.virtual_ipv4);

  // Both bind to the assigned relay from their tunnel sockets and exchange a datagram.
  const Endpoint relay = to_alice.relay;
  REQUIRE(relay == to_bob.relay);
  uint64_t sequence = 0;
  auto bind = [&](test::TestNode& n, const control::Direction& d) {
    CHECK(test::relay_bind(n.socket(), relay, d.relay_id, n.grant().node_id, d.relay_expires_unix,
                           d.relay_token, sequence));
  };
  bind(alice, to_alice);
  bind(bob, to_bob);
  const auto capsule = control::encode_relayed(to_alice.relay_id, control::Bytes(64, 0x03));
  alice.socket().send_to(relay, capsule);
  auto got = bob.socket().receive(1s);
  REQUIRE(got);
  CHECK(got->bytes == capsule);

  app.stop();
}

TEST_CASE("all-in-one: keys and accounts persist across restarts", "[servers][aio]") {
  // On each store backend: the default SQLite file, and `database = postgresql://...`.
  const auto backend = GENERATE(from_range(test::store_backends()));
  INFO("backend: " << test::backend_name(backend));
  test::TestDatabase database(backend);
  test::TempDir dir;
  auto options = [&] {
    auto o = loopback_options(dir.path / "state");
    if (backend == sql::Backend::postgresql) o.database = database.location;
    return o;
  };
  control::Ipv4Address first{};
  std::string pem;
  {
    ServerApp app(options(), Roles{}, kFast);
    app.accounts().add_password_account("alice", "pw");
    app.start();
    pem = read_text_file(app.tls_cert_path());
    auto r = test::tls_login(app.as()->local_endpoint(), app.tls_cert_path(),
                             {"alice", "pw", test::fake_static_key(1)});
    REQUIRE(r.response);
    REQUIRE(r.response->grant);
    test::TestNode n(*r.response->grant, r.response->grant->dc.at(0));
    auto ack = n.register_node();
    REQUIRE(ack);
    first = ack->virtual_ipv4;
  }
  ServerApp app(options(), Roles{}, kFast);
  app.start();
  CHECK(read_text_file(app.tls_cert_path()) == pem);
  auto r = test::tls_login(app.as()->local_endpoint(), app.tls_cert_path(),
                           {"alice", "pw", test::fake_static_key(1)});
  REQUIRE(r.response);
  REQUIRE(r.response->grant);
  test::TestNode n(*r.response->grant, r.response->grant->dc.at(0));
  auto ack = n.register_node();
  REQUIRE(ack);
  CHECK(ack->virtual_ipv4 == first);
}
