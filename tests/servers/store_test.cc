#include <catch2/catch.hpp>
#include <fstream>

#include "common/state_dir.h"
#include "store/password_hash.h"
#include "store/sqlite_account_store.h"
#include "store/sqlite_address_store.h"
#include "test_client.h"

using namespace ntm;
using namespace ntm::servers;

namespace {

const PasswordCost kFast = kTestPasswordCost;

}  // namespace

TEST_CASE("argon2id password hash verifies the right password only", "[servers][store]") {
  const auto h = hash_password("hunter2", kFast);
  CHECK(h.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0) == 0);
  CHECK(verify_password("hunter2", h));
  CHECK_FALSE(verify_password("hunter3", h));
  CHECK_FALSE(verify_password("hunter2", "$argon2id$v=19$m=64,t=1,p=1$bad$bad"));
  // A tampered database cannot make the server burn 4 TiB.
  CHECK_FALSE(verify_password("hunter2", "$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA"));
  CHECK(hash_password("x", kFast) != hash_password("x", kFast));  // salted
}

TEST_CASE("default password cost is argon2id m=19 MiB t=2 p=1 (OWASP)", "[servers][store]") {
  const auto h = hash_password("pw");
  CHECK(h.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0) == 0);
  CHECK(verify_password("pw", h));
  CHECK_FALSE(needs_rehash(h));
}

TEST_CASE("earlier scrypt hashes still verify and ask to be rehashed", "[servers][store]") {
  const auto old = hash_password_scrypt("hunter2", ScryptParams{.n = 1024, .r = 8, .p = 1});
  CHECK(old.rfind("scrypt$1024$8$1$", 0) == 0);
  CHECK(verify_password("hunter2", old));
  CHECK_FALSE(verify_password("hunter3", old));
  CHECK_FALSE(verify_password("hunter2", "scrypt$3$8$1$AAAA$AAAA"));
  CHECK(needs_rehash(old));
  CHECK(needs_rehash(hash_password("x", kFast)));  // weaker than the default
  CHECK_FALSE(needs_rehash(hash_password("x", kFast), kFast));
}

TEST_CASE("a login replaces an old password hash with the current one", "[servers][store]") {
  test::TempDir dir;
  const auto db = (dir.path / "ntm.db").string();
  SqliteAccountStore store(db, kFast);
  store.add_password_account("alice", "pw");
  auto secret_of = [&] {
    sqlite::Database raw(db);
    auto st = raw.prepare("SELECT secret_hash FROM accounts WHERE name = 'alice'");
    REQUIRE(st.step());
    return st.column_text(0);
  };
  {
    sqlite::Database raw(db);
    auto st = raw.prepare("UPDATE accounts SET secret_hash = ?1 WHERE name = 'alice'");
    st.bind(1, hash_password_scrypt("pw", ScryptParams{.n = 1024, .r = 8, .p = 1}));
    st.run();
  }
  REQUIRE(secret_of().rfind("scrypt$", 0) == 0);
  // A wrong password changes nothing.
  CHECK(store.authenticate("alice", "nope", test::fake_static_key(1), 1).result ==
        AuthResult::bad_credentials);
  CHECK(secret_of().rfind("scrypt$", 0) == 0);
  CHECK(store.authenticate("alice", "pw", test::fake_static_key(1), 1).result == AuthResult::ok);
  const auto now = secret_of();
  CHECK(now.rfind("$argon2id$", 0) == 0);
  CHECK(store.authenticate("alice", "pw", test::fake_static_key(1), 2).result == AuthResult::ok);
  CHECK(secret_of() == now);  // rehashed once, not at every login
}

TEST_CASE("account store adds, authenticates, disables and lists accounts", "[servers][store]") {
  test::TempDir dir;
  const auto db = (dir.path / "ntm.db").string();
  SqliteAccountStore store(db, kFast);
  const auto alice = store.add_password_account("alice", "pw-a");
  CHECK(alice.node_id != 0);
  CHECK_THROWS_AS(store.add_password_account("alice", "again"), AccountError);
  CHECK_THROWS_AS(store.add_password_account("Alice", "x"), AccountError);
  CHECK_THROWS_AS(store.add_password_account("-x", "x"), AccountError);
  CHECK_THROWS_AS(store.add_password_account("bob", ""), AccountError);

  const auto key = test::fake_static_key(1);
  auto ok = store.authenticate("alice", "pw-a", key, 100);
  CHECK(ok.result == AuthResult::ok);
  CHECK(ok.node_id == alice.node_id);
  CHECK(store.authenticate("alice", "wrong", key, 100).result == AuthResult::bad_credentials);
  CHECK(store.authenticate("nobody", "pw-a", key, 100).result == AuthResult::bad_credentials);

  REQUIRE(store.set_disabled("alice", true));
  CHECK(store.authenticate("alice", "pw-a", key, 100).result == AuthResult::disabled);
  CHECK(store.authenticate("alice", "wrong", key, 100).result == AuthResult::bad_credentials);
  REQUIRE(store.set_disabled("alice", false));
  CHECK(store.authenticate("alice", "pw-a", key, 101).result == AuthResult::ok);
  CHECK_FALSE(store.set_disabled("nobody", true));

  const auto list = store.list();
  REQUIRE(list.size() == 1);
  CHECK(list[0].name == "alice");
  CHECK(list[0].last_login_unix == 101);
  REQUIRE(list[0].static_public);
  CHECK(*list[0].static_public == key);
  CHECK(store.find_by_node_id(alice.node_id)->name == "alice");
  CHECK_FALSE(store.find("bob"));
}

TEST_CASE("node ids are stable per account and survive reopening the database",
          "[servers][store]") {
  test::TempDir dir;
  const auto db = (dir.path / "ntm.db").string();
  uint64_t id = 0;
  {
    SqliteAccountStore store(db, kFast);
    id = store.add_password_account("carol", "pw").node_id;
  }
  SqliteAccountStore again(db, kFast);
  CHECK(again.find("carol")->node_id == id);
  CHECK(again.authenticate("carol", "pw", test::fake_static_key(2), 5).node_id == id);
}

TEST_CASE("an enrollment token binds the first device and refuses others", "[servers][store]") {
  test::TempDir dir;
  SqliteAccountStore store((dir.path / "ntm.db").string(), kFast);
  auto [info, token] = store.add_token_account("dave");
  CHECK(token.size() == 32);
  const auto k1 = test::fake_static_key(1);
  const auto k2 = test::fake_static_key(2);
  CHECK(store.authenticate("dave", "not-the-token", k1, 1).result == AuthResult::bad_credentials);
  CHECK(store.authenticate("dave", token, k1, 1).result == AuthResult::ok);
  CHECK(store.find("dave")->token_used);
  CHECK(store.authenticate("dave", token, k2, 2).result == AuthResult::token_used);
  CHECK(store.authenticate("dave", token, k1, 3).result == AuthResult::ok);  // same device
}

TEST_CASE("address pools parse CIDRs strictly and compute hosts from 2", "[servers][store]") {
  AddressPools p;
  CHECK(p.v4_string() == "100.64.0.0/10");
  CHECK(p.v6_string() == "fd00:6e74:6d::/48");
  CHECK(p.v4_host(2) == control::Ipv4Address{100, 64, 0, 2});
  CHECK(p.v4_host(300) == control::Ipv4Address{100, 64, 1, 44});
  auto v6 = p.v6_host(2);
  CHECK(v6[0] == 0xfd);
  CHECK(v6[15] == 2);
  CHECK_THROWS_AS(p.set_v4("10.0.0.1/24"), std::invalid_argument);  // host bits
  CHECK_THROWS_AS(p.set_v4("10.0.0.0"), std::invalid_argument);
  CHECK_THROWS_AS(p.set_v4("10.0.0.0/31"), std::invalid_argument);
  CHECK_THROWS_AS(p.set_v6("fd00::/129"), std::invalid_argument);
  CHECK_THROWS_AS(p.set_v6("10.0.0.0/24"), std::invalid_argument);
  p.set_v4("10.9.0.0/30");
  CHECK(p.capacity() == 1);
}

TEST_CASE("virtual addresses are stable per node id, persisted and looked up both ways",
          "[servers][store]") {
  test::TempDir dir;
  const auto db = (dir.path / "ntm.db").string();
  VirtualAddresses a, b;
  {
    SqliteAddressStore store(db, AddressPools{});
    a = store.assign(111);
    b = store.assign(222);
    CHECK(a.v4 == control::Ipv4Address{100, 64, 0, 2});
    CHECK(b.v4 == control::Ipv4Address{100, 64, 0, 3});
    CHECK(a.v6[15] == 2);
    CHECK(store.assign(111) == a);
  }
  SqliteAddressStore again(db, AddressPools{});
  CHECK(again.assign(222) == b);
  CHECK(again.lookup(111) == a);
  CHECK(again.node_for_ipv4(b.v4) == 222u);
  CHECK(again.node_for_ipv6(a.v6) == 111u);
  CHECK_FALSE(again.node_for_ipv4({1, 2, 3, 4}));
  CHECK_FALSE(again.lookup(333));
}

TEST_CASE("a full address pool throws PoolExhausted", "[servers][store]") {
  test::TempDir dir;
  AddressPools pools;
  pools.set_v4("10.9.0.0/29");  // hosts 2..6
  SqliteAddressStore store((dir.path / "ntm.db").string(), pools);
  for (uint64_t id = 1; id <= 5; ++id) store.assign(id);
  CHECK_THROWS_AS(store.assign(6), PoolExhausted);
}

TEST_CASE("an existing state directory is tightened to 0700; an unusable one is named",
          "[servers][store]") {
  test::TempDir dir;
  const auto path = dir.path / "lax";
  std::filesystem::create_directory(path);
  std::filesystem::permissions(path, std::filesystem::perms::all);  // 0777
  StateDir state(path);
  const auto perms = std::filesystem::status(path).permissions();
  CHECK((perms & std::filesystem::perms::group_all) == std::filesystem::perms::none);
  CHECK((perms & std::filesystem::perms::others_all) == std::filesystem::perms::none);
  CHECK((perms & std::filesystem::perms::owner_all) == std::filesystem::perms::owner_all);
  // A directory nobody can create files in (even root: /proc is not a real file system).
  try {
    StateDir proc("/proc/self");
    FAIL("no error for /proc/self");
  } catch (const StateError& e) {
    CHECK_THAT(e.what(), Catch::Contains("state directory /proc/self is not writable"));
  }
  std::ofstream(dir.path / "file") << "x";
  CHECK_THROWS_WITH(StateDir(dir.path / "file"), Catch::Contains("is not a directory"));
}

TEST_CASE("state directory creates private keys once and reloads them", "[servers][store]") {
  test::TempDir dir;
  StateDir state(dir.path / "state");
  const auto k1 = state.load_or_create_key(kTicketKeyFile);
  const auto k2 = state.load_or_create_key(kTicketKeyFile);
  CHECK(k1 == k2);
  const auto perms = std::filesystem::status(state.file(kTicketKeyFile)).permissions();
  CHECK((perms & std::filesystem::perms::group_all) == std::filesystem::perms::none);
  CHECK((perms & std::filesystem::perms::others_all) == std::filesystem::perms::none);
  const auto db_perms = std::filesystem::status(state.file(kDatabaseFile)).permissions();
  CHECK((db_perms & std::filesystem::perms::others_all) == std::filesystem::perms::none);
  {
    std::ofstream(state.file(kRelayKeyFile)) << "not a key\n";
  }
  CHECK_THROWS_AS(state.load_or_create_key(kRelayKeyFile), StateError);
}
