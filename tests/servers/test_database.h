// The databases the store tests run against: every test that takes a `backend` from
// GENERATE(from_range(store_backends())) runs once on SQLite and once on a real PostgreSQL
// server (a cluster this test process starts, tests/pgtest) when the build has that backend.
#pragma once

#include <string>
#include <vector>

#include "store/sql_database.h"
#include "test_client.h"

namespace ntm::test {

std::vector<servers::sql::Backend> store_backends();
const char* backend_name(servers::sql::Backend b);

// A fresh, empty database: a SQLite file in a temporary directory, or a new database on the
// process's PostgreSQL test cluster. `location` is what sql::open() and `database` take.
struct TestDatabase {
  explicit TestDatabase(servers::sql::Backend backend);
  TempDir dir;
  std::string location;
};

}  // namespace ntm::test
