// The stores (accounts, virtual addresses, schema migrations): each behaviour is checked on every
// backend, SQLite and a real PostgreSQL server (test_database.h).
#include <catch2/catch.hpp>
#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "common/state_dir.h"
#include "store/migrations.h"
#include "store/password_hash.h"
#include "store/sql_account_store.h"
#include "store/sql_address_store.h"
#include "test_client.h"
#include "test_database.h"
#ifdef NTM_HAVE_POSTGRESQL
#include "pg_cluster.h"
#endif

using namespace ntm;
using namespace ntm::servers;

namespace {

const PasswordCost kFast = kTestPasswordCost;

// Every test below that declares BACKEND runs once per store backend.
#define BACKEND                                                              \
  const auto backend = GENERATE(from_range(test::store_backends())); \
  INFO("backend: " << test::backend_name(backend));                          \
  test::TestDatabase database(backend)

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
  BACKEND;
  SqlAccountStore store(sql::open(database.location), kFast);
  store.add_password_account("alice", "pw");
  auto raw = sql::open(database.location);
  auto secret_of = [&] {
    const auto rows = raw->query("SELECT secret_hash FROM accounts WHERE name = 'alice'");
    REQUIRE(rows.size() == 1);
    return rows[0].text(0);
  };
  raw->execute("UPDATE accounts SET secret_hash = $1 WHERE name = 'alice'",
               {hash_password_scrypt("pw", ScryptParams{.n = 1024, .r = 8, .p = 1})});
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

TEST_CASE("the account roll has every account's node id and the names of the disabled ones, "
          "in one query",
          "[servers][store]") {
  BACKEND;
  SqlAccountStore store(sql::open(database.location), kFast);
  const auto alice = store.add_password_account("alice", "pw-a");
  const auto bob = store.add_password_account("bob", "pw-b");
  const auto carol = store.add_password_account("carol", "pw-c");
  REQUIRE(store.set_disabled("bob", true));
  REQUIRE(store.remove("carol"));
  const auto roll = store.roll();
  CHECK(roll.node_ids.size() == 2);
  CHECK(roll.node_ids.contains(alice.node_id));
  CHECK(roll.node_ids.contains(bob.node_id));
  CHECK(!roll.node_ids.contains(carol.node_id));
  REQUIRE(roll.disabled.size() == 1);
  CHECK(roll.disabled.at(bob.node_id) == "bob");
}

TEST_CASE("account store adds, authenticates, disables and lists accounts", "[servers][store]") {
  BACKEND;
  SqlAccountStore store(sql::open(database.location), kFast);
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

  // Deleted accounts and changed passwords.
  store.add_password_account("erin", "old");
  REQUIRE(store.set_password("erin", "new"));
  CHECK(store.authenticate("erin", "old", key, 102).result == AuthResult::bad_credentials);
  CHECK(store.authenticate("erin", "new", key, 102).result == AuthResult::ok);
  CHECK_FALSE(store.set_password("nobody", "x"));
  REQUIRE(store.remove("erin"));
  CHECK_FALSE(store.find("erin"));
  CHECK_FALSE(store.remove("erin"));
}

TEST_CASE("node ids are stable per account and survive reopening the database",
          "[servers][store]") {
  BACKEND;
  uint64_t id = 0;
  {
    SqlAccountStore store(sql::open(database.location), kFast);
    id = store.add_password_account("carol", "pw").node_id;
  }
  SqlAccountStore again(sql::open(database.location), kFast);
  CHECK(again.find("carol")->node_id == id);
  CHECK(again.authenticate("carol", "pw", test::fake_static_key(2), 5).node_id == id);
}

TEST_CASE("an enrollment token binds the first device and refuses others", "[servers][store]") {
  BACKEND;
  SqlAccountStore store(sql::open(database.location), kFast);
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
  BACKEND;
  VirtualAddresses a, b;
  {
    SqlAddressStore store(sql::open(database.location), AddressPools{});
    a = store.assign(111);
    b = store.assign(222);
    CHECK(a.v4 == control::Ipv4Address{100, 64, 0, 2});
    CHECK(b.v4 == control::Ipv4Address{100, 64, 0, 3});
    CHECK(a.v6[15] == 2);
    CHECK(store.assign(111) == a);
  }
  SqlAddressStore again(sql::open(database.location), AddressPools{});
  CHECK(again.assign(222) == b);
  CHECK(again.lookup(111) == a);
  CHECK(again.node_for_ipv4(b.v4) == 222u);
  CHECK(again.node_for_ipv6(a.v6) == 111u);
  CHECK_FALSE(again.node_for_ipv4({1, 2, 3, 4}));
  CHECK_FALSE(again.lookup(333));
}

TEST_CASE("a full address pool throws PoolExhausted", "[servers][store]") {
  BACKEND;
  AddressPools pools;
  pools.set_v4("10.9.0.0/29");  // hosts 2..6
  SqlAddressStore store(sql::open(database.location), pools);
  for (uint64_t id = 1; id <= 5; ++id) store.assign(id);
  CHECK_THROWS_AS(store.assign(6), PoolExhausted);
  CHECK(store.assign(3).v4 == control::Ipv4Address{10, 9, 0, 4});  // still there
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

TEST_CASE("a new database gets every schema version once; reopening it applies none",
          "[servers][store][migrations]") {
  BACKEND;
  auto db = sql::open(database.location);
  CHECK(schema_version(*db) == 0);
  CHECK(migrate(*db) == 0);
  CHECK(schema_version(*db) == latest_schema_version());
  CHECK(migrate(*db) == latest_schema_version());
  const auto rows = db->query("SELECT version, name FROM ntm_schema_migrations ORDER BY version");
  REQUIRE(rows.size() == schema_migrations().size());
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(rows[i].int64(0) == schema_migrations()[i].version);
    CHECK(rows[i].text(1) == schema_migrations()[i].name);
  }
  // Both stores migrate on open; neither applies anything again.
  SqlAccountStore accounts(sql::open(database.location), kFast);
  SqlAddressStore addresses(sql::open(database.location), AddressPools{});
  CHECK(db->query("SELECT count(*) FROM ntm_schema_migrations")[0].int64(0) ==
        static_cast<int64_t>(schema_migrations().size()));
}

TEST_CASE("a database from before schema versioning keeps its accounts and addresses",
          "[servers][store][migrations]") {
  BACKEND;
  uint64_t node_id = 0;
  VirtualAddresses addrs;
  {
    // What the releases before versioning created: the step-1 tables, no version table.
    auto db = sql::open(database.location);
    const auto& step1 = schema_migrations().at(0);
    db->exec_script(backend == sql::Backend::sqlite ? step1.sqlite : step1.postgresql);
    SqlAccountStore old_accounts(sql::open(database.location), kFast);
    node_id = old_accounts.add_password_account("frank", "pw").node_id;
    SqlAddressStore old_addresses(sql::open(database.location), AddressPools{});
    addrs = old_addresses.assign(node_id);
    db->exec_script("DROP TABLE ntm_schema_migrations");
    REQUIRE(schema_version(*db) == 0);
  }
  SqlAccountStore accounts(sql::open(database.location), kFast);
  SqlAddressStore addresses(sql::open(database.location), AddressPools{});
  auto db = sql::open(database.location);
  CHECK(schema_version(*db) == latest_schema_version());
  CHECK(accounts.authenticate("frank", "pw", test::fake_static_key(1), 1).node_id == node_id);
  CHECK(addresses.lookup(node_id) == addrs);
}

TEST_CASE("a database at a newer schema version than the server knows is refused",
          "[servers][store][migrations]") {
  BACKEND;
  auto db = sql::open(database.location);
  migrate(*db);
  const int future = latest_schema_version() + 1;
  db->execute("INSERT INTO ntm_schema_migrations (version, name, applied_unix) VALUES ($1, $2, 0)",
              {int64_t{future}, std::string("from the future")});
  try {
    SqlAccountStore store(sql::open(database.location), kFast);
    FAIL("a newer schema was accepted");
  } catch (const sql::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("schema version " + std::to_string(future)) &&
                             Catch::Contains("newer ntm-server"));
  }
}

TEST_CASE("servers starting together on one database apply each migration once",
          "[servers][store][migrations]") {
  BACKEND;
  constexpr int kServers = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kServers; ++i)
    threads.emplace_back([&] {
      try {
        auto db = sql::open(database.location);
        migrate(*db);
      } catch (const std::exception& e) {
        ++failures;
        UNSCOPED_INFO(e.what());
      }
    });
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  auto db = sql::open(database.location);
  CHECK(db->query("SELECT count(*) FROM ntm_schema_migrations")[0].int64(0) ==
        static_cast<int64_t>(schema_migrations().size()));
}

TEST_CASE("several DCs on one database never hand out one virtual address twice",
          "[servers][store]") {
  BACKEND;
  // Four stores with their own connections (as four DC processes), allocating at once.
  constexpr int kStores = 4, kNodes = 25;
  { SqlAddressStore init(sql::open(database.location), AddressPools{}); }
  std::vector<std::unique_ptr<SqlAddressStore>> stores;
  for (int i = 0; i < kStores; ++i)
    stores.push_back(std::make_unique<SqlAddressStore>(sql::open(database.location), AddressPools{}));
  std::vector<std::vector<VirtualAddresses>> got(kStores);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int s = 0; s < kStores; ++s)
    threads.emplace_back([&, s] {
      try {
        for (int n = 0; n < kNodes; ++n)
          got[s].push_back(stores[s]->assign(static_cast<uint64_t>(1000 * (s + 1) + n)));
      } catch (const std::exception& e) {
        ++failures;
        UNSCOPED_INFO(e.what());
      }
    });
  for (auto& t : threads) t.join();
  REQUIRE(failures == 0);
  std::set<control::Ipv4Address> v4;
  std::set<control::Ipv6Address> v6;
  for (const auto& list : got)
    for (const auto& a : list) {
      v4.insert(a.v4);
      v6.insert(a.v6);
    }
  CHECK(v4.size() == kStores * kNodes);
  CHECK(v6.size() == kStores * kNodes);
  // Every store sees the others' allocations.
  CHECK(stores[0]->lookup(4000)->v4 == got[3][0].v4);
  CHECK(stores[3]->node_for_ipv4(got[0][1].v4) == 1001u);
}

TEST_CASE("database locations: PostgreSQL URLs are told apart and never show a password",
          "[servers][store]") {
  CHECK(sql::is_postgresql_url("postgresql://ntm@db.example/ntm"));
  CHECK(sql::is_postgresql_url("postgres://ntm@db.example/ntm"));
  CHECK_FALSE(sql::is_postgresql_url("/var/lib/ntm/ntm.db"));
  CHECK_FALSE(sql::is_postgresql_url("postgresql.db"));
  CHECK(sql::redact("postgresql://ntm:s3cret@db.example:5432/ntm") ==
        "postgresql://ntm:***@db.example:5432/ntm");
  CHECK(sql::redact("postgresql://ntm@db.example/ntm?password=s3cret&sslmode=require") ==
        "postgresql://ntm@db.example/ntm?password=***&sslmode=require");
  CHECK(sql::redact("postgres://db.example/ntm") == "postgres://db.example/ntm");
  CHECK(sql::redact("/var/lib/ntm/ntm.db") == "/var/lib/ntm/ntm.db");
}

#ifdef NTM_HAVE_POSTGRESQL
TEST_CASE("a PostgreSQL store that cannot connect says where, without the password",
          "[servers][store][postgresql]") {
  // A loopback port nothing listens on.
  test::UdpSocket probe;  // any free port number; TCP on it is refused
  const std::string url = "postgresql://ntm:s3cret@127.0.0.1:" +
                          std::to_string(probe.local().port) + "/ntm?connect_timeout=2";
  try {
    SqlAccountStore store(sql::open(url), kFast);
    FAIL("connected to nothing");
  } catch (const sql::Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("cannot connect to postgresql://ntm:***@127.0.0.1:"));
    CHECK(msg.find("s3cret") == std::string::npos);
  }
}

TEST_CASE("a PostgreSQL store goes on after the database server restarts",
          "[servers][store][postgresql]") {
  test::TestDatabase database(sql::Backend::postgresql);
  SqlAccountStore accounts(sql::open(database.location), kFast);
  SqlAddressStore addresses(sql::open(database.location), AddressPools{});
  const auto alice = accounts.add_password_account("alice", "pw");
  const auto a = addresses.assign(alice.node_id);
  test::PgCluster::shared().restart();  // every connection is cut
  CHECK(accounts.find("alice")->node_id == alice.node_id);
  CHECK(addresses.lookup(alice.node_id) == a);
  CHECK(addresses.assign(77).v4 != a.v4);
  accounts.add_password_account("bob", "pw");
  CHECK(accounts.list().size() == 2);
}
#endif
