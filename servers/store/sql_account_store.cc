#include "store/sql_account_store.h"

#include <ctime>

#include "crypto/random.h"
#include "store/migrations.h"

namespace ntm::servers {

namespace {

constexpr const char* kColumns =
    "name, node_id, kind, disabled, token_used, static_public, created_unix, last_login_unix";

AccountInfo read_row(const sql::Row& r) {
  AccountInfo a;
  a.name = r.text(0);
  a.node_id = static_cast<uint64_t>(r.int64(1));
  a.kind = r.int64(2) == 1 ? CredentialKind::token : CredentialKind::password;
  a.disabled = r.int64(3) != 0;
  a.token_used = r.int64(4) != 0;
  if (!r.is_null(5)) {
    auto b = r.blob(5);
    if (b.size() == 32) {
      control::Key32 k;
      std::copy(b.begin(), b.end(), k.begin());
      a.static_public = k;
    }
  }
  a.created_unix = static_cast<uint64_t>(r.int64(6));
  a.last_login_unix = static_cast<uint64_t>(r.int64(7));
  return a;
}

sql::Value text(std::string_view s) { return std::string(s); }

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

SqlAccountStore::SqlAccountStore(std::unique_ptr<sql::Database> db, PasswordCost cost)
    : db_(std::move(db)), cost_(cost) {
  migrate(*db_);
}

AccountInfo SqlAccountStore::insert(std::string_view name, CredentialKind kind,
                                       const std::string& secret_hash) {
  if (!valid_account_name(name))
    throw AccountError("invalid account name '" + std::string(name) +
                       "': use 1-63 characters a-z, 0-9 and '-' (not first or last)");
  std::lock_guard lock(mu_);
  const auto now = static_cast<int64_t>(std::time(nullptr));
  for (int attempt = 0; attempt < 8; ++attempt) {
    uint64_t node_id = 0;
    while (node_id == 0) node_id = crypto::random_u64();
    try {
      db_->execute(
          "INSERT INTO accounts (name, node_id, kind, secret_hash, created_unix) "
          "VALUES ($1, $2, $3, $4, $5)",
          {text(name), static_cast<int64_t>(node_id), static_cast<int64_t>(kind), secret_hash,
           now});
    } catch (const sql::ConstraintError&) {
      if (!db_->query("SELECT 1 FROM accounts WHERE name = $1", {text(name)}).empty())
        throw AccountError("account '" + std::string(name) + "' already exists");
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

AccountInfo SqlAccountStore::add_password_account(std::string_view name,
                                                     std::string_view password) {
  if (password.empty()) throw AccountError("the password must not be empty");
  return insert(name, CredentialKind::password, hash_password(password, cost_));
}

std::pair<AccountInfo, std::string> SqlAccountStore::add_token_account(std::string_view name) {
  std::string token = new_enrollment_token();
  auto a = insert(name, CredentialKind::token, hash_token(token));
  return {std::move(a), std::move(token)};
}

AuthOutcome SqlAccountStore::authenticate(std::string_view name, std::string_view secret,
                                             const control::Key32& static_public,
                                             uint64_t now_unix) {
  std::optional<AccountInfo> account;
  std::string secret_hash;
  {
    std::lock_guard lock(mu_);
    const auto rows = db_->query(std::string("SELECT ") + kColumns +
                                     ", secret_hash FROM accounts WHERE name = $1",
                                 {text(name)});
    if (!rows.empty()) {
      account = read_row(rows[0]);
      secret_hash = rows[0].text(8);
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
    const auto changed = db_->execute(
        "UPDATE accounts SET token_used = 1, static_public = $2, last_login_unix = $3 "
        "WHERE name = $1 AND (token_used = 0 OR static_public = $2)",
        {text(name), sql::blob(static_public), static_cast<int64_t>(now_unix)});
    if (changed == 0) return {AuthResult::token_used, 0};
  } else {
    db_->execute("UPDATE accounts SET static_public = $2, last_login_unix = $3 WHERE name = $1",
                 {text(name), sql::blob(static_public), static_cast<int64_t>(now_unix)});
    if (!upgraded.empty()) {
      // Only if the hash is still the one verified (not changed meanwhile).
      db_->execute("UPDATE accounts SET secret_hash = $2 WHERE name = $1 AND secret_hash = $3",
                   {text(name), upgraded, secret_hash});
    }
  }
  return {AuthResult::ok, account->node_id};
}

bool SqlAccountStore::set_disabled(std::string_view name, bool disabled) {
  std::lock_guard lock(mu_);
  return db_->execute("UPDATE accounts SET disabled = $2 WHERE name = $1",
                      {text(name), int64_t{disabled ? 1 : 0}}) > 0;
}

bool SqlAccountStore::remove(std::string_view name) {
  std::lock_guard lock(mu_);
  return db_->execute("DELETE FROM accounts WHERE name = $1", {text(name)}) > 0;
}

bool SqlAccountStore::set_password(std::string_view name, std::string_view password) {
  if (password.empty()) throw AccountError("the password must not be empty");
  const std::string hash = hash_password(password, cost_);  // slow: outside the lock
  std::lock_guard lock(mu_);
  return db_->execute("UPDATE accounts SET kind = 0, secret_hash = $2 WHERE name = $1",
                      {text(name), hash}) > 0;
}

std::vector<AccountInfo> SqlAccountStore::list() {
  std::lock_guard lock(mu_);
  std::vector<AccountInfo> out;
  for (const auto& row : db_->query(std::string("SELECT ") + kColumns +
                                    " FROM accounts ORDER BY name"))
    out.push_back(read_row(row));
  return out;
}

std::optional<AccountInfo> SqlAccountStore::find_where(const char* where, sql::Value key) {
  std::lock_guard lock(mu_);
  const auto rows = db_->query(std::string("SELECT ") + kColumns + " FROM accounts WHERE " + where,
                               {std::move(key)});
  if (rows.empty()) return std::nullopt;
  return read_row(rows[0]);
}

std::optional<AccountInfo> SqlAccountStore::find(std::string_view name) {
  return find_where("name = $1", text(name));
}

std::optional<AccountInfo> SqlAccountStore::find_by_node_id(uint64_t node_id) {
  return find_where("node_id = $1", static_cast<int64_t>(node_id));
}

AccountStore::Roll SqlAccountStore::roll() {
  std::lock_guard lock(mu_);
  Roll out;
  // The name only for disabled accounts: 100k rows of two integers and an empty string.
  const auto rows = db_->query(
      "SELECT node_id, disabled, CASE WHEN disabled <> 0 THEN name ELSE '' END FROM accounts");
  out.node_ids.reserve(rows.size());
  for (const auto& row : rows) {
    const auto node_id = static_cast<uint64_t>(row.int64(0));
    out.node_ids.insert(node_id);
    if (row.int64(1) != 0) out.disabled.emplace(node_id, row.text(2));
  }
  return out;
}

}  // namespace ntm::servers
