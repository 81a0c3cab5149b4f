// Thin RAII wrappers over the sqlite3 C API: a connection, prepared statements, transactions.
// Every failure throws sqlite::Error with SQLite's message. Not thread-safe: one Database per
// thread, or a lock around it (the stores lock).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace ntm::servers::sqlite {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Statement;

enum class ColumnType { null, integer, text, blob };

class Database {
 public:
  // Opens (creating if needed) the database file, switches it to WAL, sets a busy timeout (other
  // processes, e.g. ntm-as and ntm-dc sharing a state directory, may hold the write lock) and
  // turns foreign keys on. ":memory:" opens a private in-memory database.
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results.
  void exec(const char* sql);
  Statement prepare(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int changes() const;
  sqlite3* handle() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds by 1-based index. Chainable.
  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind_blob(int index, std::span<const uint8_t> blob);
  Statement& bind_null(int index);

  // Runs one step: true when a row is available, false when done. Throws on errors (including
  // constraint violations; see is_constraint()).
  bool step();
  // Runs to completion, ignoring rows.
  void run();
  // Ready to run again with new bindings.
  void reset();

  int64_t column_int64(int col) const;
  std::string column_text(int col) const;
  std::vector<uint8_t> column_blob(int col) const;
  bool column_is_null(int col) const;
  int column_count() const;
  // A REAL column reads as integer (no store uses one).
  ColumnType column_type(int col) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Thrown by step() for a UNIQUE / PRIMARY KEY violation (callers turn it into "already exists").
class ConstraintError : public Error {
 public:
  using Error::Error;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed without commit().
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace ntm::servers::sqlite
