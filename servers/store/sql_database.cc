#include "store/sql_database.h"

#include "store/sqlite_sql.h"
#ifdef NTM_HAVE_POSTGRESQL
#include "store/pg_sql.h"
#endif

namespace ntm::servers::sql {

int64_t Row::int64(size_t col) const {
  const Value& v = values_.at(col);
  if (std::holds_alternative<Null>(v)) return 0;
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  throw Error("column " + std::to_string(col) + " is not an integer");
}

std::string Row::text(size_t col) const {
  const Value& v = values_.at(col);
  if (std::holds_alternative<Null>(v)) return {};
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  throw Error("column " + std::to_string(col) + " is not text");
}

Blob Row::blob(size_t col) const {
  const Value& v = values_.at(col);
  if (std::holds_alternative<Null>(v)) return {};
  if (const auto* b = std::get_if<Blob>(&v)) return *b;
  throw Error("column " + std::to_string(col) + " is not a blob");
}

bool is_postgresql_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::string redact(std::string_view location) {
  if (!is_postgresql_url(location)) return std::string(location);
  // scheme://[user[:password]@]host...: hide what lies between the user's ':' and the '@'.
  const size_t authority = location.find("://") + 3;
  const size_t end = location.find_first_of("/?", authority);
  const std::string_view auth = location.substr(authority, end == std::string_view::npos
                                                               ? std::string_view::npos
                                                               : end - authority);
  std::string out(location);
  const size_t at = auth.rfind('@');
  if (at != std::string_view::npos) {
    const size_t colon = auth.substr(0, at).find(':');
    if (colon != std::string_view::npos)
      out.replace(authority + colon + 1, at - colon - 1, "***");
  }
  // A password given as a query parameter (?password=...).
  for (size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    const size_t v = p + 9;
    const size_t e = out.find('&', v);
    out.replace(v, e == std::string::npos ? std::string::npos : e - v, "***");
  }
  return out;
}

std::unique_ptr<Database> open(const std::string& location) {
  if (is_postgresql_url(location)) {
#ifdef NTM_HAVE_POSTGRESQL
    return std::make_unique<PgDatabase>(location);
#else
    throw Error("cannot open " + redact(location) +
                ": this build has no PostgreSQL support (configure with -DNTM_POSTGRESQL=ON and "
                "libpq installed)");
#endif
  }
  return std::make_unique<SqliteSqlDatabase>(location);
}

}  // namespace ntm::servers::sql
