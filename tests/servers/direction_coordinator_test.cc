#include <catch2/catch.hpp>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <thread>

#include "common/state_dir.h"
#include "control/certificate.h"
#include "control/relay_messages.h"
#include "control/ticket.h"
#include "crypto/random.h"
#include "control/registration.h"
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

  explicit DcFixture(uint16_t keepalive_s = 20) { start(keepalive_s); }

  // (Re)starts the DC, on `where` when given (a restart on the same address).
  void start(uint16_t keepalive_s = 20, std::optional<Endpoint> where = {}) {
    DirectionCoordinatorConfig c;
    if (where) c.listen = {*where};
    c.known_nodes_file = dir.path / "dc-nodes";
    if (!where) c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
    c.ticket_key = ticket_key;
    c.relay_key = relay_key;
    c.relays = {RelayServerInfo{{kRelay}}};
    c.keepalive_s = keepalive_s;
    c.account_recheck = 0s;
    dc.reset();
    dc = std::make_unique<DirectionCoordinator>(std::move(c), addresses, &accounts);
    dc->start();
  }

  void restart() {
    const Endpoint where = dc_endpoint();
    dc->stop();
    start(20, where);
  }

  Endpoint dc_endpoint() const { return dc->local_endpoints().at(0); }

  // What the AS would hand out, made here directly.
  // `cert_version` 1: what an AS before 0.4 issued (no addresses).
  control::LoginGrant grant_for(const std::string& name, int64_t lifetime_s = 3600,
                                uint8_t cert_version = control::kCertificateVersion) {
    auto account = accounts.find(name);
    const uint64_t node_id =
        account ? account->node_id : accounts.add_password_account(name, "pw").node_id;
    const uint64_t expires = static_cast<uint64_t>(std::time(nullptr) + lifetime_s);
    control::NodeCertificate cert;
    cert.version = cert_version;
    cert.node_id = node_id;
    cert.fqdn = name + ".example";
    cert.static_public = test::fake_static_key(static_cast<uint8_t>(name[0]));
    const VirtualAddresses a = addresses.assign(node_id);  // as the AS does at login
    cert.virtual_ipv4 = a.v4;
    cert.virtual_ipv6 = a.v6;
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
  // ... and its secret mac1 key, which only the peer and the DC can derive (session key).
  CHECK(to_alice.peer_mac1_key == control::node_mac1_key(bob.grant().session_key, bob.grant().node_id));
  CHECK(to_bob.peer_mac1_key ==
        control::node_mac1_key(alice.grant().session_key, alice.grant().node_id));
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

TEST_CASE("DC: a node before 0.4 (no protocol version in its Register) is refused with an error "
          "naming both versions, and registers nothing",
          "[servers][dc][mac1]") {
  DcFixture f;
  test::TestNode old(f.grant_for("alice"), f.dc_endpoint());
  old.protocol_version = 1;
  CHECK_FALSE(old.register_node());
  auto err = old.wait_for(MessageType::error, 500ms);
  REQUIRE(err);
  auto e = control::decode_dc_error(err->plaintext);
  REQUIRE(e.ok());
  CHECK(e->code == control::DcErrorCode::bad_request);
  CHECK_THAT(e->message, Catch::Contains("node protocol 2") && Catch::Contains("speaks 1") &&
                             Catch::Contains("upgrade"));
  CHECK(f.dc->registered_nodes() == 0);
  // The same account with a current node registers.
  test::TestNode current(f.grant_for("alice"), f.dc_endpoint());
  CHECK(current.register_node());
}

TEST_CASE("DC: a ticket whose certificate has no addresses (an AS before 0.4) gets "
          "session_expired, so the node logs in again",
          "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice", 3600, control::kLegacyCertificateVersion),
                       f.dc_endpoint());
  CHECK_FALSE(alice.register_node());
  auto err = alice.wait_for(MessageType::error, 500ms);
  REQUIRE(err);
  auto e = control::decode_dc_error(err->plaintext);
  REQUIRE(e.ok());
  CHECK(e->code == control::DcErrorCode::session_expired);
  CHECK_THAT(e->message, Catch::Contains("certifies no virtual addresses"));
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
  // An expired node's keepalive is answered with a challenge: it registers again at once.
  CHECK_FALSE(alice.keepalive());
  CHECK(alice.wait_challenge(500ms));
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
    // The DC reads only the addresses (the AS allocates them at login) of the certificate.
    control::NodeCertificate cert;
    cert.node_id = id;
    cert.fqdn = g.fqdn;
    const VirtualAddresses a = addresses.assign(id);
    cert.virtual_ipv4 = a.v4;
    cert.virtual_ipv6 = a.v6;
    control::Ticket t{id, g.fqdn, test::fake_static_key(1), g.session_key,
                      static_cast<uint64_t>(std::time(nullptr) + 600),
                      control::encode_certificate(cert)};
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

TEST_CASE("DC: a Register is accepted only with a fresh challenge for its own address",
          "[servers][dc][security]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  // Without a challenge: a challenge, no registration.
  alice.send_register({alice.socket().local()}, {});
  auto challenge = alice.wait_challenge();
  REQUIRE(challenge);
  CHECK_FALSE(alice.wait_for(MessageType::register_ack, 200ms));
  CHECK(f.dc->registered_nodes() == 0);
  // A made-up challenge, or one issued to another address: another challenge, no registration.
  control::Challenge forged = *challenge;
  forged[20] ^= 1;
  alice.send_register({alice.socket().local()}, forged);
  CHECK(alice.wait_challenge());
  test::TestNode elsewhere(alice.grant(), f.dc_endpoint());
  elsewhere.send_register({elsewhere.socket().local()}, *challenge);
  CHECK(elsewhere.wait_challenge());
  CHECK_FALSE(elsewhere.wait_for(MessageType::register_ack, 200ms));
  CHECK(f.dc->registered_nodes() == 0);
  CHECK(f.dc->drops().get(DcDrop::no_challenge) >= 3);
  // With it: registered.
  alice.send_register({alice.socket().local()}, *challenge);
  CHECK(alice.wait_for(MessageType::register_ack));
  CHECK(f.dc->registered_nodes() == 1);
}

TEST_CASE("DC: a captured Register replayed later or elsewhere registers nothing",
          "[servers][dc][security]") {
  DcFixture f(1);  // expiry after 3 s of silence
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  const auto captured = alice.last_register();  // the accepted Register, with its challenge

  // Replayed from mallory's address while alice is registered: dropped (already seen), alice's
  // address stays.
  test::UdpSocket mallory;
  mallory.send_to(f.dc_endpoint(), captured);
  CHECK_FALSE(mallory.receive(300ms));
  auto k = alice.keepalive();
  REQUIRE(k);
  CHECK(k->observed == alice.socket().local());

  // Replayed from alice's own address right after: older than the registration in place.
  alice.socket().send_to(f.dc_endpoint(), captured);
  CHECK_FALSE(alice.wait_for(MessageType::register_ack, 300ms));

  // Alice goes silent and expires; the Register replayed then (from her old address, by someone
  // who took it over) does not bring the registration back.
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  while (f.dc->registered_nodes() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  REQUIRE(f.dc->registered_nodes() == 0);
  alice.socket().send_to(f.dc_endpoint(), captured);
  CHECK_FALSE(alice.wait_for(MessageType::register_ack, 300ms));
  CHECK(f.dc->registered_nodes() == 0);

  // After a DC restart, the challenge is from another instance: nothing either.
  f.restart();
  mallory.send_to(f.dc_endpoint(), captured);
  alice.socket().send_to(f.dc_endpoint(), captured);
  CHECK_FALSE(alice.wait_for(MessageType::register_ack, 300ms));
  CHECK(f.dc->registered_nodes() == 0);
  // Alice herself registers fine.
  CHECK(alice.register_node());
}

TEST_CASE("DC: a restarted DC asks the nodes of its previous run to register at once",
          "[servers][dc]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  test::TestNode bob(f.grant_for("bob"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  REQUIRE(bob.register_node());
  // The list is written by the DC's once-a-second sweep.
  const auto file = f.dir.path / "dc-nodes";
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (std::count(text.begin(), text.end(), '\n') == 2) break;
    std::this_thread::sleep_for(50ms);
  }
  f.restart();
  const auto t0 = std::chrono::steady_clock::now();
  auto ca = alice.wait_challenge(1s);
  auto cb = bob.wait_challenge(1s);
  REQUIRE(ca);
  REQUIRE(cb);
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  // Their old registration keys are worthless to the new DC; the challenges register them.
  alice.send_register({alice.socket().local()}, *ca);
  bob.send_register({bob.socket().local()}, *cb);
  REQUIRE(alice.wait_for(MessageType::register_ack));
  REQUIRE(bob.wait_for(MessageType::register_ack));
  CHECK(f.dc->registered_nodes() == 2);
  // And resolution works again.
  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(3, "bob.example")));
  auto d = alice.wait_for(MessageType::direction);
  REQUIRE(d);
}

TEST_CASE("DC: challenges of one DC run are worthless to the next", "[servers][dc][security]") {
  RegisterChallenges one, two;
  const Endpoint e = Endpoint::v4({127, 0, 0, 1}, 4000);
  const auto now = RegisterChallenges::Clock::now();
  const auto c = one.issue(7, e, now);
  CHECK(one.valid(c, 7, e, now));
  CHECK_FALSE(two.valid(c, 7, e, now));
  CHECK_FALSE(one.valid(c, 8, e, now));
  CHECK_FALSE(one.valid(c, 7, Endpoint::v4({127, 0, 0, 1}, 4001), now));
  CHECK_FALSE(one.valid(c, 7, e, now + RegisterChallenges::kLifetime + 1s));
  CHECK(c != two.issue(7, e, now));
}

TEST_CASE("DC: disabling or deleting a registered node's account revokes it and tells the others",
          "[servers][dc][security]") {
  DcFixture f;
  test::TestNode alice(f.grant_for("alice"), f.dc_endpoint());
  test::TestNode bob(f.grant_for("bob"), f.dc_endpoint());
  test::TestNode carol(f.grant_for("carol"), f.dc_endpoint());
  REQUIRE(alice.register_node());
  REQUIRE(bob.register_node());
  REQUIRE(carol.register_node());
  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(1, "bob.example")));
  const auto d = expect_direction(alice);
  alice.send(MessageType::direction_ack, control::encode(control::DirectionAck{d.direction_id}));
  const auto db = expect_direction(bob);
  bob.send(MessageType::direction_ack, control::encode(control::DirectionAck{db.direction_id}));

  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(f.accounts.set_disabled("bob", true));
  // Bob is told why, and forgotten.
  auto err = bob.wait_for(MessageType::error, 5s);
  REQUIRE(err);
  auto e = control::decode_dc_error(err->plaintext);
  REQUIRE(e.ok());
  CHECK(e->code == control::DcErrorCode::account_disabled);
  CHECK_THAT(e->message, Catch::Contains("bob") && Catch::Contains("disabled"));
  // Alice (bob's peer) and carol are told, within 5 s of the disable.
  auto n = alice.wait_for(MessageType::peer_revoked, 5s);
  REQUIRE(n);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  auto notice = control::decode_peer_revoked(n->plaintext);
  REQUIRE(notice.ok());
  CHECK(notice->node_id == bob.grant().node_id);
  CHECK_THAT(notice->reason, Catch::Contains("disabled"));
  alice.send(MessageType::peer_revoked_ack, control::encode(control::PeerRevokedAck{notice->notice_id}));
  // Unacknowledged notices are repeated; acknowledged ones are not.
  auto c1 = carol.wait_for(MessageType::peer_revoked, 5s);
  REQUIRE(c1);
  CHECK(carol.wait_for(MessageType::peer_revoked, 1s));
  CHECK_FALSE(alice.wait_for(MessageType::peer_revoked, 600ms));
  CHECK(f.dc->revocations() == 1);
  // Bob can neither resolve nor be resolved.
  alice.send(MessageType::resolve, control::encode(control::Resolve::by_name(2, "bob.example")));
  std::optional<control::ResolveReply> reply;
  while (auto r = alice.wait_for(MessageType::resolve_reply)) {
    auto decoded = control::decode_resolve_reply(r->plaintext);
    if (decoded.ok() && decoded->request_id == 2) {
      reply = decoded.value();
      break;
    }
  }
  REQUIRE(reply);
  CHECK(reply->status != control::ResolveStatus::ok);
  CHECK_FALSE(bob.register_node());

  // A deleted account is revoked the same way.
  REQUIRE(f.accounts.remove("carol"));
  auto err2 = carol.wait_for(MessageType::error, 5s);
  REQUIRE(err2);
  CHECK_THAT(control::decode_dc_error(err2->plaintext)->message, Catch::Contains("no longer exists"));
  CHECK(alice.wait_for(MessageType::peer_revoked, 5s));
}
