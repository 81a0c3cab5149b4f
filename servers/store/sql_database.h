// One small interface over the SQL engines the stores run on (SQLite, PostgreSQL), so the
// account and address logic is written once and behaves the same on both.
//
// Statements use PostgreSQL's numbered placeholders ($1, $2, ...), which the SQLite backend
// rewrites to ?1, ?2; the SQL itself sticks to what both engines accept (the schema differs per
// backend and lives in migrations.cc). Integers are 64-bit (node ids are stored as the signed
// reinterpretation of their u64), blobs are BLOB / BYTEA.
//
// Not thread-safe: one Database per thread, or a lock around it (the stores lock).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ntm::servers::sql {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A UNIQUE / PRIMARY KEY violation (callers turn it into "already exists" or draw again).
class ConstraintError : public Error {
 public:
  using Error::Error;
};

enum class Backend { sqlite, postgresql };

// A statement parameter: NULL, a 64-bit integer, text or a blob.
using Blob = std::vector<uint8_t>;
struct Null {};
using Value = std::variant<Null, int64_t, std::string, Blob>;

inline Value blob(std::span<const uint8_t> bytes) { return Blob(bytes.begin(), bytes.end()); }

// One result row; columns are read in the type the statement selected.
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  bool is_null(size_t col) const { return std::holds_alternative<Null>(values_.at(col)); }
  // Throws Error when the column holds another type (a NULL reads as 0 / "" / empty).
  int64_t int64(size_t col) const;
  std::string text(size_t col) const;
  Blob blob(size_t col) const;

 private:
  std::vector<Value> values_;
};

class Database {
 public:
  virtual ~Database() = default;
  virtual Backend backend() const = 0;

  // Runs one or more statements without parameters or results (schema changes).
  virtual void exec_script(std::string_view sql) = 0;
  // Runs one statement; returns its rows (empty for statements without results).
  virtual std::vector<Row> query(std::string_view sql, const std::vector<Value>& params = {}) = 0;
  // Runs one INSERT / UPDATE / DELETE; returns the number of rows it changed.
  virtual int64_t execute(std::string_view sql, const std::vector<Value>& params = {}) = 0;

  // A write transaction that excludes every other transaction begun with the same `lock` name
  // until commit or rollback, in this and in other processes (SQLite: BEGIN IMMEDIATE, which
  // takes the database's one write lock; PostgreSQL: BEGIN and a transaction-scoped advisory
  // lock on the name, so plain readers go on).
  virtual void begin_exclusive(std::string_view lock) = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
};

// Rolls back unless commit() was called.
class Transaction {
 public:
  Transaction(Database& db, std::string_view lock) : db_(db) { db_.begin_exclusive(lock); }
  ~Transaction() {
    if (!done_) db_.rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Database& db_;
  bool done_ = false;
};

// True for "postgresql://..." and "postgres://..." (libpq's URI forms): a PostgreSQL database.
bool is_postgresql_url(std::string_view location);

// Opens a database: a PostgreSQL URL (see is_postgresql_url) or else a SQLite file path
// (created when missing; ":memory:" for a private in-memory one). Throws Error with a message
// that names the database without any password it contains.
std::unique_ptr<Database> open(const std::string& location);

// The location with any password replaced by "***", for messages and logs.
std::string redact(std::string_view location);

}  // namespace ntm::servers::sql
