// AccountStore on SQL (the `accounts` table), written once for both backends (sql_database.h):
// SQLite in the state directory by default, PostgreSQL with `database = postgresql://...`.
// Thread-safe (one connection behind a mutex); several processes may share the database.
// The constructor brings the schema up to date (migrations.h).
#pragma once

#include <memory>
#include <mutex>

#include "store/account_store.h"
#include "store/password_hash.h"
#include "store/sql_database.h"

namespace ntm::servers {

class SqlAccountStore : public AccountStore {
 public:
  // Takes the connection and migrates its schema. `cost` is the password hash cost for new
  // passwords and for hashes upgraded at login (tests lower it; verification always uses the
  // parameters stored with each hash). Throws sql::Error.
  SqlAccountStore(std::unique_ptr<sql::Database> db, PasswordCost cost = {});

  AccountInfo add_password_account(std::string_view name, std::string_view password) override;
  std::pair<AccountInfo, std::string> add_token_account(std::string_view name) override;
  AuthOutcome authenticate(std::string_view name, std::string_view secret,
                           const control::Key32& static_public, uint64_t now_unix) override;
  bool set_disabled(std::string_view name, bool disabled) override;
  bool remove(std::string_view name) override;
  bool set_password(std::string_view name, std::string_view password) override;
  std::vector<AccountInfo> list() override;
  std::optional<AccountInfo> find(std::string_view name) override;
  std::optional<AccountInfo> find_by_node_id(uint64_t node_id) override;
  Roll roll() override;

 private:
  AccountInfo insert(std::string_view name, CredentialKind kind, const std::string& secret_hash);
  std::optional<AccountInfo> find_where(const char* where, sql::Value key);

  std::mutex mu_;
  std::unique_ptr<sql::Database> db_;
  PasswordCost cost_;
};

}  // namespace ntm::servers
