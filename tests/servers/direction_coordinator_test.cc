#include <catch2/catch.hpp>

#include <ctime>
#include <thread>

#include "common/state_dir.h"
#include "control/certificate.h"
#include "control/relay_messages.h"
#include "control/ticket.h"
#include "crypto/random.h"
#include "dc/direction_coordinator.h"
#include "store/sqlite_account_store.h"
#include "store/sqlite_address_store.h"
#include "test_client.h"

using namespace ntm;
using namespace ntm::servers;
using namespace std::chrono_literals;
using control::MessageType;

namespace {

const Endpoint kRelay = Endpoint::v4({127, 0, 0, 1}, 7802);

struct DcFixture {
  test::TempDir dir;
  StateDir state{dir.path / "state"};
  SqliteAccountStore accounts{state.database_path(), kTestPasswordCost};
  SqliteAddressStore addresses{state.database_path(), AddressPools{}};
  control::Key32 ticket_key = state.load_or_create_key(kTicketKeyFile);
  control::Key32 relay_key = state.load_or_create_key(kRelayKeyFile);
  crypto::Ed25519KeyPair as_key = crypto::ed25519_generate();
  std::unique_ptr<DirectionCoordinator> dc;

  explicit DcFixture(uint16_t keepalive_s = 20) {
    DirectionCoordinatorConfig c;
    c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
    c.ticket_key = ticket_key;
    c.relay_key = relay_key;
    c.relays = {RelayServerInfo{{kRelay}}};
    c.keepalive_s = keepalive_s;
    c.account_recheck = 0s;
    dc = std::make_unique<DirectionCoordinator>(std::move(c), addresses, &accounts);
    dc->start();
  }

  Endpoint dc_endpoint() const { return dc->local_endpoints().at(0); }

  // What the AS would hand out, made here directly.
  control::LoginGrant grant_for(const std::string& name, int64_t lifetime_s = 3600) {
    auto account = accounts.find(name);
    const uint64_t node_id =
        account ? account->node_id : accounts.add_password_account(name, "pw").node_id;
    const uint64_t expires = static_cast<uint64_t>(std::time(nullptr) + lifetime_s);
    control::NodeCertificate cert;
    cert.node_id = node_id;
    cert.fqdn = name + ".example";
    cert.static_public = test::fake_static_key(static_cast<uint8_t>(name[0]));
    cert.expires_unix = expires;
    control::sign(cert, as_key.private_key);
    control::LoginGrant g;
    g.node_id = node_id;
    g.fqdn = cert.fqdn;
    g.certificate = control::encode_certificate(cert);
    g.as_sign_public = as_key.public_key;
    g.dc = {dc_endpoint()};
    crypto::random_bytes(g.session_key);
    g.expires_unix = expires;
    control::Ticket t{node_id, cert.fqdn, cert.static_public, g.session_key, expires, g.certificate};
    g.ticket = control::seal_ticket(ticket_key, t);
    return g;
  }
};

control::Direction expect_direction(test::TestNode& n) {
  auto m = n.wait_for(MessageType::direction);
  REQUIRE(m);
  auto d = control::decode_direction(m->plaintext);
  REQUIRE(d.ok());
  return d.value();
}

}  // namespace

TEST_CASE("DC: register assigns stable virtual addresses and reports the observed endpoint",
          "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  auto ack = alice.register_node();
  REQUIRE(ack);
  CHECK(ack->virtual_ipv4 == control::Ipv4Address{100, 64, 0, 2});
  CHECK(ack->virtual_ipv6[0] == 0xfd);
  CHECK(ack->observed == alice.socket().local());
  CHECK(ack->keepalive_s == 20);
  CHECK(ack->relays == std::vector<Endpoint>{kRelay});
  CHECK(f.dc->registered_nodes() == 1);

  // A new login (new session key) from a new socket keeps the addresses.
  test::TestNode again(f.grant_for("alice"), f.dc_endpoint());
  auto ack2 = again.register_node();
  REQUIRE(ack2);
  CHECK(ack2->virtual_ipv4 == ack->virtual_ipv4);
  CHECK(ack2->virtual_ipv6 == ack->virtual_ipv6);
  CHECK(ack2->observed == again.socket().local());
  CHECK(f.dc->registered_nodes() == 1);
}

TEST_CASE("DC: keepalives are answered with the observed endpoint", "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  auto k = alice.keepalive();
  REQUIRE(k);
  CHECK(k->observed == alice.socket().local());
}

TEST_CASE("DC: resolve by name directs both ends, then answers the resolver", "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  test::TestNode bob(f.grant_for("bob"), f.dc_endpoint());
  auto alice_ack = alice.register_node();
  auto bob_ack = bob.register_node();
  REQUIRE(alice_ack);
  REQUIRE(bob_ack);

  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(7, "Bob.Example")));
  const auto to_alice = expect_direction(alice);
  const auto to_bob = expect_direction(bob);
  CHECK(to_alice.direction_id == to_bob.direction_id);
  CHECK(to_alice.mode == control::DirectionMode::direct);
  CHECK(to_alice.candidates == std::vector<Endpoint>{bob.socket().local()});
  CHECK(to_bob.candidates == std::vector<Endpoint>{alice.socket().local()});
  CHECK(to_alice.peer_virtual_ipv4 == bob_ack->virtual_ipv4);
  CHECK(to_bob.peer_virtual_ipv6 == alice_ack->virtual_ipv6);
  // Each end gets the peer's certificate, valid under the AS key.
  auto bob_cert = control::decode_certificate(to_alice.peer_certificate);
  REQUIRE(bob_cert.ok());
  CHECK(bob_cert->fqdn == "bob.example");
  CHECK(control::verify(*bob_cert, f.as_key.public_key, static_cast<uint64_t>(std::time(nullptr))));
  // A relay assignment for fallback, with a token for each end.
  CHECK(to_alice.relay == kRelay);
  CHECK(to_alice.relay_id == to_bob.relay_id);
  const uint64_t now = static_cast<uint64_t>(std::time(nullptr));
  CHECK(control::verify_relay_token(f.relay_key, to_alice.relay_id, alice.grant().node_id,
                                    to_alice.relay_expires_unix, to_alice.relay_token, now));
  CHECK(control::verify_relay_token(f.relay_key, to_bob.relay_id, bob.grant().node_id,
                                    to_bob.relay_expires_unix, to_bob.relay_token, now));

  // No reply until both ends acknowledged.
  CHECK_FALSE(alice.wait_for(MessageType::resolve_reply, 100ms));
  alice.send(MessageType::direction_ack, control::encode(control::DirectionAck{to_alice.direction_id}));
  bob.send(MessageType::direction_ack, control::encode(control::DirectionAck{to_bob.direction_id}));
  auto reply = alice.wait_for(MessageType::resolve_reply);
  REQUIRE(reply);
  auto r = control::decode_resolve_reply(reply->plaintext);
  REQUIRE(r.ok());
  CHECK(r->request_id == 7);
  CHECK(r->status == control::ResolveStatus::ok);
  CHECK(r->node_id == bob.grant().node_id);
  CHECK(r->fqdn == "bob.example");
  CHECK(r->virtual_ipv4 == bob_ack->virtual_ipv4);
}

TEST_CASE("DC: Direction is retransmitted until acknowledged, at most 8 times",
          "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  test::TestNode bob(f.grant_for("bob"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  REQUIRE(bob.register_node());
  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(1, "bob.example")));
  const auto first = expect_direction(alice);
  alice.send(MessageType::direction_ack, control::encode(control::DirectionAck{first.direction_id}));
  // Bob never acknowledges: he sees the same direction 8 times, then alice hears "offline".
  int copies = 0;
  while (bob.wait_for(MessageType::direction, 600ms)) ++copies;
  CHECK(copies == 8);
  auto reply = alice.wait_for(MessageType::resolve_reply, 1s);
  REQUIRE(reply);
  CHECK(control::decode_resolve_reply(reply->plaintext)->status ==
        control::ResolveStatus::peer_offline);
}

TEST_CASE("DC: resolve by virtual address and of unknown or offline names", "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  test::TestNode bob(f.grant_for("bob"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  auto bob_ack = bob.register_node();
  REQUIRE(bob_ack);

  alice.send(MessageType::resolve,
             control::encode(control::Resolve::by_ipv6(2, bob_ack->virtual_ipv6)));
  const auto d = expect_direction(alice);
  CHECK(control::decode_certificate(d.peer_certificate)->fqdn == "bob.example");

  auto reply_status = [&](uint32_t id) {
    auto m = alice.wait_for(MessageType::resolve_reply);
    REQUIRE(m);
    auto r = control::decode_resolve_reply(m->plaintext);
    REQUIRE(r.ok());
    CHECK(r->request_id == id);
    return r->status;
  };
  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(3, "nobody.example")));
  CHECK(reply_status(3) == control::ResolveStatus::unknown_name);
  f.accounts.add_password_account("carol", "pw");
  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(4, "carol.example")));
  CHECK(reply_status(4) == control::ResolveStatus::peer_offline);
  alice.send(MessageType::resolve,
             control::encode(control::Resolve::by_ipv4(5, control::Ipv4Address{100, 64, 9, 9})));
  CHECK(reply_status(5) == control::ResolveStatus::unknown_name);
}

TEST_CASE("DC: forged, replayed and foreign-key datagrams are dropped", "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  const auto dropped_before = f.dc->dropped_datagrams();

  // A replayed keepalive gets no second answer.
  REQUIRE(alice.keepalive());
  const auto keepalive = alice.last_sent();
  alice.socket().send_to(f.dc_endpoint(), keepalive);
  CHECK_FALSE(alice.wait_for(MessageType::keepalive_ack, 300ms));

  // A tampered one neither.
  alice.send(MessageType::keepalive, control::encode(control::Keepalive{}));
  auto forged = alice.last_sent();
  (void)alice.wait_for(MessageType::keepalive_ack, 500ms);  // the genuine one is answered
  forged[forged.size() - 1] ^= 1;
  alice.socket().send_to(f.dc_endpoint(), forged);
  CHECK_FALSE(alice.wait_for(MessageType::keepalive_ack, 300ms));

  // A message for alice sealed with another key (an attacker who knows her node_id).
  control::Key32 other;
  crypto::random_bytes(other);
  control::DcChannel mallory(control::DcRole::node, alice.grant().node_id, other);
  const auto resolve = mallory.seal(MessageType::resolve,
                                    control::encode(control::Resolve::by_name(9, "alice.example")));
  alice.socket().send_to(f.dc_endpoint(), resolve);
  CHECK_FALSE(alice.wait_for(MessageType::resolve_reply, 300ms));

  // A Register with a forged ticket.
  auto bad_ticket = alice.grant();
  bad_ticket.ticket[20] ^= 1;
  test::TestNode forger(bad_ticket, f.dc_endpoint());
  CHECK_FALSE(forger.register_node());
  CHECK(f.dc->dropped_datagrams() >= dropped_before + 4);
  // Alice is still served.
  CHECK(alice.keepalive());
}

TEST_CASE("DC: a replayed Register from an older login does not take over", "[servers][dc]") {
  DcFixture f;
  test::TestNode old_login(f.grant_for("alice", 1000), f.dc_endpoint());
  REQUIRE(old_login.register_node());
  const auto old_register = old_login.last_sent();
  test::TestNode new_login(f.grant_for("alice", 2000), f.dc_endpoint());
  REQUIRE(new_login.register_node());
  // An attacker replays the old Register from its own socket.
  test::UdpSocket attacker;
  attacker.send_to(f.dc_endpoint(), old_register);
  CHECK_FALSE(attacker.receive(300ms));
  auto k = new_login.keepalive();
  REQUIRE(k);
  CHECK(k->observed == new_login.socket().local());
}

TEST_CASE("DC: a disabled account's node is refused at register and dropped later",
          "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  f.accounts.set_disabled("alice", true);
  CHECK_FALSE(alice.register_node());
  auto err = alice.wait_for(MessageType::error, 500ms);
  REQUIRE(err);
  auto e = control::decode_dc_error(err->plaintext);
  REQUIRE(e.ok());
  CHECK(e->code == control::DcErrorCode::account_disabled);
  CHECK_THAT(e->message, Catch::Contains("disabled"));
  CHECK(f.dc->registered_nodes() == 0);

  f.accounts.set_disabled("alice", false);
  REQUIRE(alice.register_node());
  f.accounts.set_disabled("alice", true);
  alice.send(MessageType::keepalive, control::encode(control::Keepalive{}));
  auto err2 = alice.wait_for(MessageType::error);
  REQUIRE(err2);
  CHECK(control::decode_dc_error(err2->plaintext)->code == control::DcErrorCode::account_disabled);
  // The DC forgets the node right after sending the error.
  const auto deadline = std::chrono::steady_clock::now() + 1s;
  while (f.dc->registered_nodes() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  CHECK(f.dc->registered_nodes() == 0);
}

TEST_CASE("DC: an expired ticket gets session_expired", "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice", -10), f.dc_endpoint());
  CHECK_FALSE(alice.register_node());
  auto err = alice.wait_for(MessageType::error, 500ms);
  REQUIRE(err);
  CHECK(control::decode_dc_error(err->plaintext)->code == control::DcErrorCode::session_expired);
}

TEST_CASE("DC: nodes silent for three keepalive intervals expire", "[servers][dc]") {
  DcFixture f(1);
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  CHECK(f.dc->registered_nodes() == 1);
  std::this_thread::sleep_for(2s);
  REQUIRE(alice.keepalive());  // still alive after 2 s of silence
  const auto deadline = std::chrono::steady_clock::now() + 6s;
  while (f.dc->registered_nodes() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  CHECK(f.dc->registered_nodes() == 0);
  // An expired node's keepalive is not answered (it re-registers with its ticket).
  CHECK_FALSE(alice.keepalive());
  CHECK(alice.register_node());
}

namespace {

bool have_ipv6_loopback() {
  try {
    test::UdpSocket s(Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

TEST_CASE("DC: an IPv4-only and an IPv6-only node are joined through a dual-stack relay",
          "[servers][dc]") {
  if (!have_ipv6_loopback()) {
    WARN("no IPv6 loopback: skipped");
    return;
  }
  const Endpoint lo6 = Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0);
  test::TempDir dir;
  StateDir state(dir.path / "state");
  SqliteAddressStore addresses(state.database_path(), AddressPools{});
  const auto ticket_key = state.load_or_create_key(kTicketKeyFile);
  const Endpoint rs4 = Endpoint::v4({127, 0, 0, 1}, 7802);
  Endpoint rs6 = lo6;
  rs6.port = 7802;
  DirectionCoordinatorConfig c;
  c.listen = {Endpoint::v4({127, 0, 0, 1}, 0), lo6};
  c.ticket_key = ticket_key;
  c.relays = {RelayServerInfo{{rs4, rs6}}};
  DirectionCoordinator dc(std::move(c), addresses, nullptr);
  dc.start();
  Endpoint dc4, dc6;
  for (const auto& e : dc.local_endpoints()) (e.is_v4() ? dc4 : dc6) = e;
  REQUIRE(dc6.valid());

  auto grant = [&](uint64_t id, const std::string& name) {
    control::LoginGrant g;
    g.node_id = id;
    g.fqdn = name + ".example";
    crypto::random_bytes(g.session_key);
    control::Ticket t{id, g.fqdn, test::fake_static_key(1), g.session_key,
                      static_cast<uint64_t>(std::time(nullptr) + 600), control::Bytes{1}};
    g.ticket = control::seal_ticket(ticket_key, t);
    return g;
  };
  test::TestNode v4node(grant(11, "four"), dc4);
  REQUIRE(v4node.register_node());
  test::TestNode six(grant(22, "six"), dc6, lo6);
  auto ack6 = six.register_node();
  REQUIRE(ack6);
  CHECK(ack6->observed.is_v6());

  v4node.send(MessageType::resolve, control::encode(control::Resolve::by_name(1, "six.example")));
  const auto to4 = expect_direction(v4node);
  const auto to6 = expect_direction(six);
  CHECK(to4.mode == control::DirectionMode::relay);
  CHECK(to4.candidates.empty());
  CHECK(to4.relay == rs4);  // each end gets the relay address in its own family
  CHECK(to6.relay == rs6);
  CHECK(to4.relay_id == to6.relay_id);
}
