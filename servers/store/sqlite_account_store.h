// AccountStore on SQLite (the `accounts` table of the state directory's database).
// Thread-safe (one connection behind a mutex); several processes may share the file (WAL).
#pragma once

#include <functional>
#include <memory>
#include <mutex>

#include "store/account_store.h"
#include "store/password_hash.h"
#include "store/sqlite.h"

namespace ntm::servers {

class SqliteAccountStore final : public AccountStore {
 public:
  // Opens or creates the database and the table. `cost` is the password hash cost for new
  // passwords and for hashes upgraded at login (tests lower it; verification always uses the
  // parameters stored with each hash).
  explicit SqliteAccountStore(const std::string& db_path, PasswordCost cost = {});

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

 private:
  AccountInfo insert(std::string_view name, CredentialKind kind, const std::string& secret_hash);
  std::optional<AccountInfo> find_where(const char* where, const std::function<void(sqlite::Statement&)>& bind);

  std::mutex mu_;
  sqlite::Database db_;
  PasswordCost cost_;
};

}  // namespace ntm::servers
