// The address store on a SQLite file (the state directory's `ntm.db`): SqlAddressStore opened
// on a path.
#pragma once

#include "store/sql_address_store.h"
#include "store/sqlite_sql.h"

namespace ntm::servers {

class SqliteAddressStore final : public SqlAddressStore {
 public:
  SqliteAddressStore(const std::string& db_path, AddressPools pools)
      : SqlAddressStore(std::make_unique<sql::SqliteSqlDatabase>(db_path), pools) {}
};

}  // namespace ntm::servers
