// sql::Database on SQLite (the state directory's `ntm.db`, WAL): the embedded default.
#pragma once

#include "store/sql_database.h"
#include "store/sqlite.h"

namespace ntm::servers::sql {

class SqliteSqlDatabase final : public Database {
 public:
  // Opens or creates the file (see sqlite::Database). Throws Error.
  explicit SqliteSqlDatabase(const std::string& path);

  Backend backend() const override { return Backend::sqlite; }
  void exec_script(std::string_view sql) override;
  std::vector<Row> query(std::string_view sql, const std::vector<Value>& params) override;
  int64_t execute(std::string_view sql, const std::vector<Value>& params) override;
  void begin_exclusive(std::string_view lock) override;
  void commit() override;
  void rollback() noexcept override;

  sqlite::Database& raw() { return db_; }

 private:
  sqlite::Statement prepare(std::string_view sql, const std::vector<Value>& params);

  sqlite::Database db_;
};

// "$1 ... $12" -> "?1 ... ?12" (SQLite's numbered parameters), outside quoted strings.
std::string to_sqlite_placeholders(std::string_view sql);

}  // namespace ntm::servers::sql
