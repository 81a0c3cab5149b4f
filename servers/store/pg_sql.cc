#include "store/pg_sql.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "util/log.h"

namespace ntm::servers::sql {

namespace {

// Type OIDs (PostgreSQL's pg_type.dat; stable across versions).
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kText = 25;
// SQLSTATE of a unique_violation.
constexpr const char* kUniqueViolation = "23505";

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Value read_value(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return Null{};
  const char* text = PQgetvalue(r, row, col);
  switch (PQftype(r, col)) {
    case kInt2:
    case kInt4:
    case kInt8:
      return static_cast<int64_t>(std::strtoll(text, nullptr, 10));
    case kBool:
      return static_cast<int64_t>(text[0] == 't' ? 1 : 0);
    case kBytea: {
      size_t n = 0;
      unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &n);
      if (!raw) throw Error("postgresql: cannot decode a bytea column");
      Blob b(raw, raw + n);
      PQfreemem(raw);
      return b;
    }
    default:
      return std::string(text, static_cast<size_t>(PQgetlength(r, row, col)));
  }
}

void ignore_notice(void*, const char*) {}

}  // namespace

struct PgDatabase::Result {
  ResultPtr res;
};

PgDatabase::PgDatabase(const std::string& url) : where_(redact(url)) {
  // connect_timeout first: a value in the URI (expanded from dbname) overrides it.
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"5", url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, 1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    const std::string msg = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    PQfinish(conn_);
    conn_ = nullptr;
    throw Error("cannot connect to " + where_ + ": " + msg);
  }
  // CREATE ... IF NOT EXISTS and the like report NOTICEs; libpq prints them to stderr.
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
  exec_script("SET client_min_messages = warning");
}

PgDatabase::~PgDatabase() { PQfinish(conn_); }

void PgDatabase::ensure_connected() {
  if (PQstatus(conn_) == CONNECTION_OK) return;
  NTM_LOG_WARN("postgresql: connection to %s lost, reconnecting", where_.c_str());
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK)
    throw Error("cannot reconnect to " + where_ + ": " + trimmed(PQerrorMessage(conn_)));
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
}

PgDatabase::Result PgDatabase::run(std::string_view sql, const std::vector<Value>* params) {
  const std::string statement(sql);
  for (int attempt = 0;; ++attempt) {
    if (!in_transaction_) ensure_connected();
    PGresult* raw = nullptr;
    if (!params) {
      raw = PQexec(conn_, statement.c_str());
    } else {
      const size_t n = params->size();
      std::vector<Oid> types(n);
      std::vector<std::string> texts(n);
      std::vector<const char*> values(n);
      std::vector<int> lengths(n), formats(n);
      for (size_t i = 0; i < n; ++i) {
        const Value& v = (*params)[i];
        if (std::holds_alternative<Null>(v)) {
          types[i] = 0;  // inferred from the context
          values[i] = nullptr;
        } else if (const auto* x = std::get_if<int64_t>(&v)) {
          types[i] = kInt8;
          texts[i] = std::to_string(*x);
          values[i] = texts[i].c_str();
        } else if (const auto* s = std::get_if<std::string>(&v)) {
          types[i] = kText;
          values[i] = s->c_str();
        } else {
          const Blob& b = std::get<Blob>(v);
          types[i] = kBytea;
          values[i] = reinterpret_cast<const char*>(b.data());
          lengths[i] = static_cast<int>(b.size());
          formats[i] = 1;  // binary: no escaping
        }
      }
      raw = PQexecParams(conn_, statement.c_str(), static_cast<int>(n), types.data(),
                         values.data(), lengths.data(), formats.data(), 0);
    }
    ResultPtr res(raw);
    const auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Result{std::move(res)};
    // A broken connection outside a transaction: reconnect and run the statement once more.
    if (PQstatus(conn_) == CONNECTION_BAD && !in_transaction_ && attempt == 0) continue;
    const char* state = res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
    const std::string msg =
        "postgresql (" + where_ + "): " +
        trimmed(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_));
    if (state && std::strcmp(state, kUniqueViolation) == 0) throw ConstraintError(msg);
    throw Error(msg);
  }
}

void PgDatabase::exec_script(std::string_view sql) { run(sql, nullptr); }

std::vector<Row> PgDatabase::query(std::string_view sql, const std::vector<Value>& params) {
  Result r = run(sql, &params);
  PGresult* res = r.res.get();
  const int rows = PQntuples(res);
  const int cols = PQnfields(res);
  std::vector<Row> out;
  out.reserve(static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    std::vector<Value> values;
    values.reserve(static_cast<size_t>(cols));
    for (int c = 0; c < cols; ++c) values.push_back(read_value(res, i, c));
    out.emplace_back(std::move(values));
  }
  return out;
}

int64_t PgDatabase::execute(std::string_view sql, const std::vector<Value>& params) {
  Result r = run(sql, &params);
  const char* n = PQcmdTuples(r.res.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

void PgDatabase::begin_exclusive(std::string_view lock) {
  run("BEGIN", nullptr);
  in_transaction_ = true;
  try {
    // FNV-1a of the name: the advisory lock's 64-bit key.
    uint64_t key = 14695981039346656037ull;
    for (unsigned char c : lock) key = (key ^ c) * 1099511628211ull;
    const std::vector<Value> params{static_cast<int64_t>(key)};
    run("SELECT pg_advisory_xact_lock($1)", &params);
  } catch (...) {
    rollback();
    throw;
  }
}

void PgDatabase::commit() {
  try {
    run("COMMIT", nullptr);
  } catch (...) {
    in_transaction_ = false;
    throw;
  }
  in_transaction_ = false;
}

void PgDatabase::rollback() noexcept {
  in_transaction_ = false;
  if (PQstatus(conn_) != CONNECTION_OK) return;  // the server rolled it back with the connection
  PQclear(PQexec(conn_, "ROLLBACK"));
}

}  // namespace ntm::servers::sql
