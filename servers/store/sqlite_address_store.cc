#include "store/sqlite_address_store.h"

#include <algorithm>

namespace ntm::servers {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS addresses (
  node_id    INTEGER PRIMARY KEY,
  host_index INTEGER NOT NULL,
  ipv4       BLOB NOT NULL UNIQUE,
  ipv6       BLOB NOT NULL UNIQUE
);
)sql";

template <size_t N>
bool to_array(const std::vector<uint8_t>& v, std::array<uint8_t, N>& out) {
  if (v.size() != N) return false;
  std::copy(v.begin(), v.end(), out.begin());
  return true;
}

}  // namespace

SqliteAddressStore::SqliteAddressStore(const std::string& db_path, AddressPools pools)
    : db_(db_path), pools_(pools) {
  db_.exec(kSchema);
}

std::optional<VirtualAddresses> SqliteAddressStore::lookup_locked(uint64_t node_id) {
  auto st = db_.prepare("SELECT ipv4, ipv6 FROM addresses WHERE node_id = ?1");
  st.bind(1, static_cast<int64_t>(node_id));
  if (!st.step()) return std::nullopt;
  VirtualAddresses v;
  if (!to_array(st.column_blob(0), v.v4) || !to_array(st.column_blob(1), v.v6))
    return std::nullopt;
  return v;
}

std::optional<VirtualAddresses> SqliteAddressStore::lookup(uint64_t node_id) {
  std::lock_guard lock(mu_);
  return lookup_locked(node_id);
}

VirtualAddresses SqliteAddressStore::assign(uint64_t node_id) {
  std::lock_guard lock(mu_);
  if (auto v = lookup_locked(node_id)) return *v;
  sqlite::Transaction tx(db_);
  if (auto v = lookup_locked(node_id)) return *v;  // another process won the race
  // The next host number after the highest in use; when the pool's end is reached (or an
  // address is taken, e.g. after the pools changed), scan for the lowest free number.
  auto max = db_.prepare("SELECT COALESCE(MAX(host_index), 1) FROM addresses");
  max.step();
  uint64_t n = static_cast<uint64_t>(max.column_int64(0)) + 1;
  const uint64_t last = pools_.capacity() + 1;
  auto taken = [&](uint64_t i) {
    auto st = db_.prepare("SELECT 1 FROM addresses WHERE ipv4 = ?1 OR ipv6 = ?2");
    st.bind_blob(1, pools_.v4_host(i)).bind_blob(2, pools_.v6_host(i));
    return st.step();
  };
  if (n > last || taken(n)) {
    n = 0;
    for (uint64_t i = 2; i <= last; ++i) {
      if (!taken(i)) {
        n = i;
        break;
      }
    }
    if (n == 0)
      throw PoolExhausted("virtual address pools " + pools_.v4_string() + " / " +
                          pools_.v6_string() + " are exhausted");
  }
  VirtualAddresses v{pools_.v4_host(n), pools_.v6_host(n)};
  auto ins = db_.prepare(
      "INSERT INTO addresses (node_id, host_index, ipv4, ipv6) VALUES (?1, ?2, ?3, ?4)");
  ins.bind(1, static_cast<int64_t>(node_id)).bind(2, static_cast<int64_t>(n));
  ins.bind_blob(3, v.v4).bind_blob(4, v.v6);
  ins.run();
  tx.commit();
  return v;
}

std::optional<uint64_t> SqliteAddressStore::node_for_ipv4(const control::Ipv4Address& a) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT node_id FROM addresses WHERE ipv4 = ?1");
  st.bind_blob(1, a);
  if (!st.step()) return std::nullopt;
  return static_cast<uint64_t>(st.column_int64(0));
}

std::optional<uint64_t> SqliteAddressStore::node_for_ipv6(const control::Ipv6Address& a) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT node_id FROM addresses WHERE ipv6 = ?1");
  st.bind_blob(1, a);
  if (!st.step()) return std::nullopt;
  return static_cast<uint64_t>(st.column_int64(0));
}

}  // namespace ntm::servers
