#include "test_database.h"

#ifdef NTM_HAVE_POSTGRESQL
#include "pg_cluster.h"
#endif

namespace ntm::test {

using servers::sql::Backend;

std::vector<Backend> store_backends() {
#ifdef NTM_HAVE_POSTGRESQL
  return {Backend::sqlite, Backend::postgresql};
#else
  return {Backend::sqlite};
#endif
}

const char* backend_name(Backend b) { return b == Backend::sqlite ? "sqlite" : "postgresql"; }

TestDatabase::TestDatabase(Backend backend) {
  if (backend == Backend::sqlite) {
    location = (dir.path / "ntm.db").string();
    return;
  }
#ifdef NTM_HAVE_POSTGRESQL
  location = PgCluster::shared().create_database();
#else
  throw std::logic_error("this build has no PostgreSQL backend");
#endif
}

}  // namespace ntm::test
