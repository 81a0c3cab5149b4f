// sql::Database on PostgreSQL through libpq (Debian's libpq5): the backend for operators who
// run several DCs, or want the state on a database they already back up and replicate.
// Selected by `database = postgresql://...` (docs/servers.md).
//
// One connection, used by one thread at a time (the stores lock). A connection lost outside a
// transaction (the server restarted, a fail-over) is re-established and the statement run once
// more; inside a transaction the error goes to the caller, whose transaction is then void.
#pragma once

#include <string>

#include "store/sql_database.h"

struct pg_conn;

namespace ntm::servers::sql {

class PgDatabase final : public Database {
 public:
  // Connects (libpq URI; connect_timeout defaults to 5 s unless the URI sets one). Throws Error
  // naming the database with its password redacted.
  explicit PgDatabase(const std::string& url);
  ~PgDatabase() override;
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;

  Backend backend() const override { return Backend::postgresql; }
  void exec_script(std::string_view sql) override;
  std::vector<Row> query(std::string_view sql, const std::vector<Value>& params) override;
  int64_t execute(std::string_view sql, const std::vector<Value>& params) override;
  void begin_exclusive(std::string_view lock) override;
  void commit() override;
  void rollback() noexcept override;

  // The libpq connection (LISTEN/NOTIFY users poll its socket).
  pg_conn* handle() const { return conn_; }

 private:
  struct Result;
  Result run(std::string_view sql, const std::vector<Value>* params);
  void ensure_connected();

  std::string where_;  // the URL, password redacted, for messages
  pg_conn* conn_ = nullptr;
  bool in_transaction_ = false;
};

}  // namespace ntm::servers::sql
