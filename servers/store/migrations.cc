#include "store/migrations.h"

#include <ctime>
#include <string>

namespace ntm::servers {

namespace {

// Step 1 is the schema of the releases before versioning, with IF NOT EXISTS, so their
// databases adopt it unchanged.
constexpr std::string_view kAccountsAddressesSqlite = R"sql(
CREATE TABLE IF NOT EXISTS accounts (
  name            TEXT PRIMARY KEY,
  node_id         INTEGER NOT NULL UNIQUE,
  kind            INTEGER NOT NULL,          -- 0 password, 1 enrollment token
  secret_hash     TEXT NOT NULL,             -- $argon2id$... (or scrypt$...) or sha256$...
  disabled        INTEGER NOT NULL DEFAULT 0,
  token_used      INTEGER NOT NULL DEFAULT 0,
  static_public   BLOB,                      -- of the last successful login
  created_unix    INTEGER NOT NULL,
  last_login_unix INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS addresses (
  node_id    INTEGER PRIMARY KEY,
  host_index INTEGER NOT NULL,
  ipv4       BLOB NOT NULL UNIQUE,
  ipv6       BLOB NOT NULL UNIQUE
);
)sql";

constexpr std::string_view kAccountsAddressesPostgresql = R"sql(
CREATE TABLE IF NOT EXISTS accounts (
  name            TEXT PRIMARY KEY,
  node_id         BIGINT NOT NULL UNIQUE,    -- the u64 node id, reinterpreted as signed
  kind            INTEGER NOT NULL,          -- 0 password, 1 enrollment token
  secret_hash     TEXT NOT NULL,
  disabled        INTEGER NOT NULL DEFAULT 0,
  token_used      INTEGER NOT NULL DEFAULT 0,
  static_public   BYTEA,
  created_unix    BIGINT NOT NULL,
  last_login_unix BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS addresses (
  node_id    BIGINT PRIMARY KEY,
  host_index BIGINT NOT NULL,
  ipv4       BYTEA NOT NULL UNIQUE,
  ipv6       BYTEA NOT NULL UNIQUE
);
)sql";

// Step 2: the allocator's "highest host number" query uses an index instead of a scan.
constexpr std::string_view kHostIndex =
    "CREATE INDEX IF NOT EXISTS addresses_host_index ON addresses (host_index);";

// Step 3: where each node is registered, for a fleet of DCs on one database (dc/dc_bus.h): the
// DC that holds it (its bus id) and what another DC needs to direct a peer to it.
constexpr std::string_view kRegistrationsSqlite = R"sql(
CREATE TABLE IF NOT EXISTS dc_registrations (
  node_id      INTEGER PRIMARY KEY,
  fqdn         TEXT NOT NULL,
  dc           TEXT NOT NULL,
  certificate  BLOB NOT NULL,
  observed     TEXT NOT NULL,
  private      TEXT NOT NULL,
  ipv4         BLOB NOT NULL,
  ipv6         BLOB NOT NULL,
  updated_unix INTEGER NOT NULL,
  mac1_key     BLOB NOT NULL  -- the node's secret mac1 key, for peers another DC directs
);
CREATE INDEX IF NOT EXISTS dc_registrations_fqdn ON dc_registrations (fqdn);
)sql";
constexpr std::string_view kRegistrationsPostgresql = R"sql(
CREATE TABLE IF NOT EXISTS dc_registrations (
  node_id      BIGINT PRIMARY KEY,
  fqdn         TEXT NOT NULL,
  dc           TEXT NOT NULL,
  certificate  BYTEA NOT NULL,
  observed     TEXT NOT NULL,
  private      TEXT NOT NULL,
  ipv4         BYTEA NOT NULL,
  ipv6         BYTEA NOT NULL,
  updated_unix BIGINT NOT NULL,
  mac1_key     BYTEA NOT NULL  -- the node's secret mac1 key, for peers another DC directs
);
CREATE INDEX IF NOT EXISTS dc_registrations_fqdn ON dc_registrations (fqdn);
)sql";

constexpr std::string_view kVersionTableSqlite = R"sql(
CREATE TABLE IF NOT EXISTS ntm_schema_migrations (
  version      INTEGER PRIMARY KEY,
  name         TEXT NOT NULL,
  applied_unix INTEGER NOT NULL
);
)sql";

constexpr std::string_view kVersionTablePostgresql = R"sql(
CREATE TABLE IF NOT EXISTS ntm_schema_migrations (
  version      INTEGER PRIMARY KEY,
  name         TEXT NOT NULL,
  applied_unix BIGINT NOT NULL
);
)sql";

}  // namespace

const std::vector<Migration>& schema_migrations() {
  static const std::vector<Migration> steps = {
      {1, "accounts and virtual addresses", kAccountsAddressesSqlite, kAccountsAddressesPostgresql},
      {2, "index on addresses.host_index", kHostIndex, kHostIndex},
      {3, "registrations of a DC fleet", kRegistrationsSqlite, kRegistrationsPostgresql},
  };
  return steps;
}

int latest_schema_version() { return schema_migrations().back().version; }

int schema_version(sql::Database& db) {
  const auto rows = db.query(
      db.backend() == sql::Backend::sqlite
          ? "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
            "'ntm_schema_migrations'"
          : "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND "
            "tablename = 'ntm_schema_migrations'");
  if (rows.empty() || rows[0].int64(0) == 0) return 0;
  const auto v = db.query("SELECT COALESCE(MAX(version), 0) FROM ntm_schema_migrations");
  return static_cast<int>(v.at(0).int64(0));
}

int migrate(sql::Database& db) {
  const bool pg = db.backend() == sql::Backend::postgresql;
  const int latest = latest_schema_version();
  int before = -1;
  // Each step in its own transaction, under a lock every migrating server takes; the version
  // is read again inside it, since another server may have migrated meanwhile.
  for (;;) {
    sql::Transaction tx(db, "ntm_schema_migrations");
    db.exec_script(pg ? kVersionTablePostgresql : kVersionTableSqlite);
    const int current = schema_version(db);
    if (before < 0) before = current;
    if (current > latest)
      throw sql::Error("the database is at schema version " + std::to_string(current) +
                       ", newer than this ntm-server knows (" + std::to_string(latest) +
                       "): run a newer ntm-server");
    if (current == latest) {
      tx.commit();
      return before;
    }
    const Migration& step = schema_migrations().at(static_cast<size_t>(current));
    db.exec_script(pg ? step.postgresql : step.sqlite);
    db.execute("INSERT INTO ntm_schema_migrations (version, name, applied_unix) VALUES ($1, $2, $3)",
               {int64_t{step.version}, std::string(step.name),
                static_cast<int64_t>(std::time(nullptr))});
    tx.commit();
  }
}

}  // namespace ntm::servers
