// The tunnel table: lookups by every key, duplicate keys, Ref counting, idle expiry, removal and
// PathID allocation.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "crypto/aead.h"
#include "crypto/x25519.h"
#include "tunnel/handshake.h"
#include "tunnel/peer.h"
#include "tunnel/tunnel_table.h"

namespace ntm::tunnel {
namespace {

using namespace std::chrono_literals;

const TimePoint kT0 = TimePoint{} + std::chrono::hours(24);

PeerIdentity identity(uint8_t n) {
  PeerIdentity id;
  id.node_id = 1000 + n;
  id.fqdn = "node" + std::to_string(n) + ".example.net";
  id.vip4 = Ipv4{100, 64, 0, n};
  Ipv6 v6{0xfd};
  v6[15] = n;
  id.vip6 = v6;
  id.static_public = crypto::x25519_generate().public_key;
  return id;
}

std::shared_ptr<Session> dummy_session(uint32_t local, uint32_t remote) {
  HandshakeKeys keys;
  keys.send_key.fill(1);
  keys.recv_key.fill(2);
  return std::make_shared<Session>(local, remote, crypto::AeadAlgorithm::aes_256_gcm, keys, true,
                                   kT0);
}

TEST_CASE("tunnel table finds the same entry by each of its keys", "[tunnel]") {
  TunnelTable table;
  const PeerIdentity id = identity(7);
  auto added = table.add(id, false);
  REQUIRE(added);
  REQUIRE(table.add(identity(8), false));
  REQUIRE(table.size() == 2);
  Peer* const entry = added.shared().get();

  auto session = dummy_session(42, 4242);
  REQUIRE(table.add_path(42, added, session));

  CHECK(table.find_node_id(id.node_id).shared().get() == entry);
  CHECK(table.find_fqdn(id.fqdn).shared().get() == entry);
  CHECK(table.find_vip4(*id.vip4).shared().get() == entry);
  CHECK(table.find_vip6(*id.vip6).shared().get() == entry);
  CHECK(table.find_static_key(id.static_public).shared().get() == entry);
  auto hit = table.find_path(42);
  REQUIRE(hit);
  CHECK(hit->peer.shared().get() == entry);
  CHECK(hit->session == session);

  // Keys nobody owns.
  CHECK_FALSE(table.find_node_id(999));
  CHECK_FALSE(table.find_fqdn("nobody.example.net"));
  CHECK_FALSE(table.find_vip4(Ipv4{100, 64, 0, 99}));
  CHECK_FALSE(table.find_vip6(Ipv6{0xfd, 1}));
  CHECK_FALSE(table.find_static_key(crypto::x25519_generate().public_key));
  CHECK_FALSE(table.find_path(43));
}

TEST_CASE("tunnel table entry without optional keys is found by the keys it has", "[tunnel]") {
  TunnelTable table;
  PeerIdentity id;
  id.static_public = crypto::x25519_generate().public_key;
  auto added = table.add(id, false);
  REQUIRE(added);
  CHECK(table.find_static_key(id.static_public).shared() == added.shared());
  CHECK_FALSE(table.find_node_id(0));
  CHECK_FALSE(table.find_fqdn(""));
  // A second entry without node_id / fqdn / addresses does not collide on the missing keys.
  PeerIdentity other;
  other.static_public = crypto::x25519_generate().public_key;
  CHECK(table.add(other, false));
  CHECK(table.size() == 2);
}

TEST_CASE("tunnel table refuses an entry whose key another entry holds", "[tunnel]") {
  TunnelTable table;
  const PeerIdentity first = identity(1);
  const auto entry = table.add(first, false).shared();
  REQUIRE(entry);

  PeerIdentity dup = identity(2);
  SECTION("node id") { dup.node_id = first.node_id; }
  SECTION("fqdn") { dup.fqdn = first.fqdn; }
  SECTION("virtual IPv4") { dup.vip4 = first.vip4; }
  SECTION("virtual IPv6") { dup.vip6 = first.vip6; }
  SECTION("static key") { dup.static_public = first.static_public; }

  CHECK_FALSE(table.add(dup, true));
  CHECK(table.size() == 1);
  // The refused entry left none of its keys behind: each lookup finds nothing or the first.
  auto only_first = [&](const TunnelTable::Ref& ref) { return !ref || ref.shared() == entry; };
  CHECK(only_first(table.find_node_id(dup.node_id)));
  CHECK(only_first(table.find_fqdn(dup.fqdn)));
  CHECK(only_first(table.find_vip4(*dup.vip4)));
  CHECK(only_first(table.find_vip6(*dup.vip6)));
  CHECK(only_first(table.find_static_key(dup.static_public)));
}

TEST_CASE("tunnel table Ref counts every live copy of a reference", "[tunnel]") {
  TunnelTable table;
  auto ref = table.add(identity(1), false);
  REQUIRE(ref);
  CHECK(ref->refs.load() == 1);
  {
    TunnelTable::Ref copy = ref;
    CHECK(ref->refs.load() == 2);
    TunnelTable::Ref moved = std::move(copy);
    CHECK(ref->refs.load() == 2);
    TunnelTable::Ref assigned;
    assigned = moved;
    CHECK(ref->refs.load() == 3);
    assigned = TunnelTable::Ref();
    CHECK(ref->refs.load() == 2);
  }
  CHECK(ref->refs.load() == 1);
  auto found = table.find_node_id(1001);
  CHECK(ref->refs.load() == 2);
}

TEST_CASE("tunnel table does not expire an entry while a Ref holds it", "[tunnel]") {
  TunnelTable table;
  const PeerIdentity id = identity(3);
  {
    auto ref = table.add(id, false);
    REQUIRE(ref);
    ref->touch(kT0);
    CHECK(table.expire_idle(kT0 + 1h, 1min) == 0);
    CHECK(table.size() == 1);
    CHECK(table.find_node_id(id.node_id));
  }
  // Once nobody holds it, the idle entry goes.
  CHECK(table.expire_idle(kT0 + 1h, 1min) == 1);
  CHECK(table.size() == 0);
}

TEST_CASE("tunnel table expires idle unpinned entries and keeps pinned and recent ones",
          "[tunnel]") {
  TunnelTable table;
  const PeerIdentity idle = identity(1), pinned = identity(2), recent = identity(3);
  table.add(idle, false)->touch(kT0);
  table.add(pinned, true)->touch(kT0);
  table.add(recent, false)->touch(kT0 + 50s);
  REQUIRE(table.size() == 3);

  // Exactly at the timeout is not yet "longer than" it.
  CHECK(table.expire_idle(kT0 + 60s, 60s) == 0);
  CHECK(table.expire_idle(kT0 + 61s, 60s) == 1);
  CHECK(table.size() == 2);
  CHECK_FALSE(table.find_node_id(idle.node_id));
  CHECK_FALSE(table.find_fqdn(idle.fqdn));
  CHECK_FALSE(table.find_vip4(*idle.vip4));
  CHECK_FALSE(table.find_vip6(*idle.vip6));
  CHECK_FALSE(table.find_static_key(idle.static_public));
  CHECK(table.find_node_id(pinned.node_id));
  CHECK(table.find_node_id(recent.node_id));

  CHECK(table.expire_idle(kT0 + 1h, 60s) == 1);
  CHECK(table.find_node_id(pinned.node_id));
  CHECK_FALSE(table.find_node_id(recent.node_id));
  // Its keys are free again.
  CHECK(table.add(idle, false));
}

TEST_CASE("tunnel table remove drops all keys of an entry, PathIDs included", "[tunnel]") {
  TunnelTable table;
  const PeerIdentity id = identity(4), other = identity(5);
  auto ref = table.add(id, true);
  auto other_ref = table.add(other, false);
  REQUIRE(ref);
  REQUIRE(other_ref);
  REQUIRE(table.add_path(11, ref, dummy_session(11, 1)));
  REQUIRE(table.add_path(12, ref, nullptr));  // a pending handshake
  REQUIRE(table.add_path(13, other_ref, dummy_session(13, 3)));

  table.remove(*ref);  // even though held and pinned
  CHECK(table.size() == 1);
  CHECK_FALSE(table.find_node_id(id.node_id));
  CHECK_FALSE(table.find_fqdn(id.fqdn));
  CHECK_FALSE(table.find_vip4(*id.vip4));
  CHECK_FALSE(table.find_vip6(*id.vip6));
  CHECK_FALSE(table.find_static_key(id.static_public));
  CHECK_FALSE(table.find_path(11));
  CHECK_FALSE(table.find_path(12));
  // The other entry is untouched.
  CHECK(table.find_path(13));
  CHECK(table.find_node_id(other.node_id).shared() == other_ref.shared());
  // The held Ref still points at a live object.
  CHECK(ref->identity.node_id == id.node_id);
  // All keys of the removed entry can be reused.
  CHECK(table.add(id, false));
  CHECK(table.add_path(11, other_ref, nullptr));
}

TEST_CASE("tunnel table clear empties every index", "[tunnel]") {
  TunnelTable table;
  const PeerIdentity id = identity(6);
  auto ref = table.add(id, true);
  REQUIRE(table.add_path(5, ref, nullptr));
  table.clear();
  CHECK(table.size() == 0);
  CHECK(table.all().empty());
  CHECK_FALSE(table.find_path(5));
  CHECK_FALSE(table.find_static_key(id.static_public));
  CHECK(table.add(id, false));
}

TEST_CASE("tunnel table refuses a PathID that is already registered", "[tunnel]") {
  TunnelTable table;
  auto a = table.add(identity(1), false);
  auto b = table.add(identity(2), false);
  auto session = dummy_session(77, 1);
  REQUIRE(table.add_path(77, a, session));
  CHECK_FALSE(table.add_path(77, b, dummy_session(77, 2)));
  auto hit = table.find_path(77);
  REQUIRE(hit);
  CHECK(hit->peer.shared() == a.shared());
  CHECK(hit->session == session);
  table.remove_path(77);
  CHECK_FALSE(table.find_path(77));
  CHECK(table.add_path(77, b, nullptr));
}

TEST_CASE("tunnel table new_path_id never returns 0 or a PathID in use", "[tunnel]") {
  TunnelTable table;
  auto ref = table.add(identity(1), false);
  std::set<uint32_t> taken;
  for (int i = 0; i < 5000; ++i) {
    const uint32_t id = table.new_path_id();
    REQUIRE(id != 0);
    REQUIRE(taken.insert(id).second);
    REQUIRE(table.add_path(id, ref, nullptr));
  }
}

TEST_CASE("tunnel table all() lists every entry once", "[tunnel]") {
  TunnelTable table;
  std::set<uint64_t> ids;
  for (uint8_t n = 1; n <= 20; ++n) {
    const PeerIdentity id = identity(n);
    ids.insert(id.node_id);
    REQUIRE(table.add(id, n % 2 == 0));
  }
  std::set<uint64_t> listed;
  for (const auto& ref : table.all()) CHECK(listed.insert(ref->identity.node_id).second);
  CHECK(listed == ids);
}

}  // namespace
}  // namespace ntm::tunnel
