// Versioned schema migrations for both backends. The table `ntm_schema_migrations` records
// each applied version (with its name and when); migrate() applies the missing ones in order,
// each in its own transaction, holding a lock so several servers starting together on one
// database apply each step exactly once. A database written by a newer ntm-server (a version
// this one does not know) is refused rather than used.
//
// Adding a step: append a Migration with the next version and the SQL for both engines; never
// change a released step (databases already ran it).
#pragma once

#include <string_view>
#include <vector>

#include "store/sql_database.h"

namespace ntm::servers {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sqlite;      // statements for SQLite
  std::string_view postgresql;  // statements for PostgreSQL
};

// Every step, in order (versions 1, 2, ...).
const std::vector<Migration>& schema_migrations();

// The newest version this build knows.
int latest_schema_version();

// Brings the database to latest_schema_version(). Returns the version it was at before (0:
// empty, or a database from before versioning, whose tables step 1 adopts). Throws sql::Error,
// also for a database at a newer version than this build knows.
int migrate(sql::Database& db);

// The database's current version (0 when none was applied).
int schema_version(sql::Database& db);

}  // namespace ntm::servers
