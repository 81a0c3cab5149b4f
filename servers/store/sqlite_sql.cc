#include "store/sqlite_sql.h"

namespace ntm::servers::sql {

namespace {

// sqlite::Database throws its own errors; the stores catch sql:: ones.
template <typename F>
auto translated(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const sqlite::ConstraintError& e) {
    throw ConstraintError(e.what());
  } catch (const sqlite::Error& e) {
    throw Error(e.what());
  }
}

}  // namespace

std::string to_sqlite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '1' && sql[i + 1] <= '9') {
      out += '?';
      continue;
    }
    out += c;
  }
  return out;
}

SqliteSqlDatabase::SqliteSqlDatabase(const std::string& path)
    : db_(translated([&] { return sqlite::Database(path); })) {}

void SqliteSqlDatabase::exec_script(std::string_view sql) {
  translated([&] { db_.exec(std::string(sql).c_str()); });
}

sqlite::Statement SqliteSqlDatabase::prepare(std::string_view sql,
                                             const std::vector<Value>& params) {
  auto st = db_.prepare(to_sqlite_placeholders(sql));
  for (size_t i = 0; i < params.size(); ++i) {
    const int index = static_cast<int>(i + 1);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, Null>) st.bind_null(index);
          else if constexpr (std::is_same_v<T, int64_t>) st.bind(index, v);
          else if constexpr (std::is_same_v<T, std::string>) st.bind(index, std::string_view(v));
          else st.bind_blob(index, v);
        },
        params[i]);
  }
  return st;
}

std::vector<Row> SqliteSqlDatabase::query(std::string_view sql, const std::vector<Value>& params) {
  return translated([&] {
    auto st = prepare(sql, params);
    std::vector<Row> rows;
    while (st.step()) {
      std::vector<Value> values;
      const int n = st.column_count();
      values.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        switch (st.column_type(c)) {
          case sqlite::ColumnType::null: values.emplace_back(Null{}); break;
          case sqlite::ColumnType::integer: values.emplace_back(st.column_int64(c)); break;
          case sqlite::ColumnType::text: values.emplace_back(st.column_text(c)); break;
          case sqlite::ColumnType::blob: values.emplace_back(st.column_blob(c)); break;
        }
      }
      rows.emplace_back(std::move(values));
    }
    return rows;
  });
}

int64_t SqliteSqlDatabase::execute(std::string_view sql, const std::vector<Value>& params) {
  return translated([&] {
    auto st = prepare(sql, params);
    st.run();
    return static_cast<int64_t>(db_.changes());
  });
}

void SqliteSqlDatabase::begin_exclusive(std::string_view) {
  translated([&] { db_.exec("BEGIN IMMEDIATE"); });
}

void SqliteSqlDatabase::commit() {
  translated([&] { db_.exec("COMMIT"); });
}

void SqliteSqlDatabase::rollback() noexcept {
  try {
    db_.exec("ROLLBACK");
  } catch (...) {
  }
}

}  // namespace ntm::servers::sql
