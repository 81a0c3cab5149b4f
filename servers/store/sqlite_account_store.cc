#include "store/sqlite_account_store.h"

#include <ctime>
#include <functional>

#include "crypto/random.h"

namespace ntm::servers {

namespace {

constexpr const char* kSchema = R"sql(
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
)sql";

constexpr const char* kColumns =
    "name, node_id, kind, disabled, token_used, static_public, created_unix, last_login_unix";

AccountInfo read_row(const sqlite::Statement& s) {
  AccountInfo a;
  a.name = s.column_text(0);
  a.node_id = static_cast<uint64_t>(s.column_int64(1));
  a.kind = s.column_int64(2) == 1 ? CredentialKind::token : CredentialKind::password;
  a.disabled = s.column_int64(3) != 0;
  a.token_used = s.column_int64(4) != 0;
  if (!s.column_is_null(5)) {
    auto b = s.column_blob(5);
    if (b.size() == 32) {
      control::Key32 k;
      std::copy(b.begin(), b.end(), k.begin());
      a.static_public = k;
    }
  }
  a.created_unix = static_cast<uint64_t>(s.column_int64(6));
  a.last_login_unix = static_cast<uint64_t>(s.column_int64(7));
  return a;
}

}  // namespace

bool valid_account_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (name.front() == '-' || name.back() == '-') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

SqliteAccountStore::SqliteAccountStore(const std::string& db_path, PasswordCost cost)
    : db_(db_path), cost_(cost) {
  db_.exec(kSchema);
}

AccountInfo SqliteAccountStore::insert(std::string_view name, CredentialKind kind,
                                       const std::string& secret_hash) {
  if (!valid_account_name(name))
    throw AccountError("invalid account name '" + std::string(name) +
                       "': use 1-63 characters a-z, 0-9 and '-' (not first or last)");
  std::lock_guard lock(mu_);
  const auto now = static_cast<int64_t>(std::time(nullptr));
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t node_id = 0;
    while (node_id == 0) node_id = crypto::random_u64();
    auto st = db_.prepare(
        "INSERT INTO accounts (name, node_id, kind, secret_hash, created_unix) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    st.bind(1, name).bind(2, static_cast<int64_t>(node_id)).bind(3, static_cast<int64_t>(kind));
    st.bind(4, secret_hash).bind(5, now);
    try {
      st.run();
    } catch (const sqlite::ConstraintError&) {
      auto check = db_.prepare("SELECT 1 FROM accounts WHERE name = ?1");
      check.bind(1, name);
      if (check.step()) throw AccountError("account '" + std::string(name) + "' already exists");
      continue;  // a node_id collision: draw again
    }
    AccountInfo a;
    a.name = std::string(name);
    a.node_id = node_id;
    a.kind = kind;
    a.created_unix = static_cast<uint64_t>(now);
    return a;
  }
  throw AccountError("could not allocate a unique node id");
}

AccountInfo SqliteAccountStore::add_password_account(std::string_view name,
                                                     std::string_view password) {
  if (password.empty()) throw AccountError("the password must not be empty");
  return insert(name, CredentialKind::password, hash_password(password, cost_));
}

std::pair<AccountInfo, std::string> SqliteAccountStore::add_token_account(std::string_view name) {
  std::string token = new_enrollment_token();
  auto a = insert(name, CredentialKind::token, hash_token(token));
  return {std::move(a), std::move(token)};
}

AuthOutcome SqliteAccountStore::authenticate(std::string_view name, std::string_view secret,
                                             const control::Key32& static_public,
                                             uint64_t now_unix) {
  std::optional<AccountInfo> account;
  std::string secret_hash;
  {
    std::lock_guard lock(mu_);
    auto st = db_.prepare(std::string("SELECT ") + kColumns +
                          ", secret_hash FROM accounts WHERE name = ?1");
    st.bind(1, name);
    if (st.step()) {
      account = read_row(st);
      secret_hash = st.column_text(8);
    }
  }
  // The slow check runs outside the lock so logins proceed in parallel.
  if (!account) {
    dummy_password_work(cost_);
    return {AuthResult::bad_credentials, 0};
  }
  std::string upgraded;  // a stronger hash of the right password, replacing an old one
  if (account->kind == CredentialKind::password) {
    if (!verify_password(secret, secret_hash)) return {AuthResult::bad_credentials, 0};
    if (needs_rehash(secret_hash, cost_)) upgraded = hash_password(secret, cost_);
  } else {
    if (!verify_token(secret, secret_hash)) return {AuthResult::bad_credentials, 0};
  }
  if (account->disabled) return {AuthResult::disabled, 0};

  std::lock_guard lock(mu_);
  if (account->kind == CredentialKind::token) {
    // Consume the token atomically: only the first device binds.
    auto st = db_.prepare(
        "UPDATE accounts SET token_used = 1, static_public = ?2, last_login_unix = ?3 "
        "WHERE name = ?1 AND (token_used = 0 OR static_public = ?2)");
    st.bind(1, name).bind_blob(2, static_public).bind(3, static_cast<int64_t>(now_unix));
    st.run();
    if (db_.changes() == 0) return {AuthResult::token_used, 0};
  } else {
    auto st = db_.prepare(
        "UPDATE accounts SET static_public = ?2, last_login_unix = ?3 WHERE name = ?1");
    st.bind(1, name).bind_blob(2, static_public).bind(3, static_cast<int64_t>(now_unix));
    st.run();
    if (!upgraded.empty()) {
      // Only if the hash is still the one verified (not changed meanwhile).
      auto up = db_.prepare(
          "UPDATE accounts SET secret_hash = ?2 WHERE name = ?1 AND secret_hash = ?3");
      up.bind(1, name).bind(2, upgraded).bind(3, secret_hash);
      up.run();
    }
  }
  return {AuthResult::ok, account->node_id};
}

bool SqliteAccountStore::set_disabled(std::string_view name, bool disabled) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("UPDATE accounts SET disabled = ?2 WHERE name = ?1");
  st.bind(1, name).bind(2, int64_t{disabled ? 1 : 0});
  st.run();
  return db_.changes() > 0;
}

bool SqliteAccountStore::remove(std::string_view name) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("DELETE FROM accounts WHERE name = ?1");
  st.bind(1, name);
  st.run();
  return db_.changes() > 0;
}

bool SqliteAccountStore::set_password(std::string_view name, std::string_view password) {
  if (password.empty()) throw AccountError("the password must not be empty");
  const std::string hash = hash_password(password, cost_);  // slow: outside the lock
  std::lock_guard lock(mu_);
  auto st = db_.prepare("UPDATE accounts SET kind = 0, secret_hash = ?2 WHERE name = ?1");
  st.bind(1, name).bind(2, std::string_view(hash));
  st.run();
  return db_.changes() > 0;
}

std::vector<AccountInfo> SqliteAccountStore::list() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM accounts ORDER BY name");
  std::vector<AccountInfo> out;
  while (st.step()) out.push_back(read_row(st));
  return out;
}

std::optional<AccountInfo> SqliteAccountStore::find_where(
    const char* where, const std::function<void(sqlite::Statement&)>& bind) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM accounts WHERE " + where);
  bind(st);
  if (!st.step()) return std::nullopt;
  return read_row(st);
}

std::optional<AccountInfo> SqliteAccountStore::find(std::string_view name) {
  return find_where("name = ?1", [&](sqlite::Statement& s) { s.bind(1, name); });
}

std::optional<AccountInfo> SqliteAccountStore::find_by_node_id(uint64_t node_id) {
  return find_where("node_id = ?1",
                    [&](sqlite::Statement& s) { s.bind(1, static_cast<int64_t>(node_id)); });
}

}  // namespace ntm::servers
