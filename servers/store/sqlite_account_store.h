// The account store on a SQLite file (the state directory's `ntm.db`; WAL, so several
// processes may share it): SqlAccountStore opened on a path.
#pragma once

#include "store/sql_account_store.h"
#include "store/sqlite_sql.h"

namespace ntm::servers {

class SqliteAccountStore final : public SqlAccountStore {
 public:
  explicit SqliteAccountStore(const std::string& db_path, PasswordCost cost = {})
      : SqlAccountStore(std::make_unique<sql::SqliteSqlDatabase>(db_path), cost) {}
};

}  // namespace ntm::servers
