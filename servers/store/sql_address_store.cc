#include "store/sql_address_store.h"

#include <algorithm>

#include "store/migrations.h"

namespace ntm::servers {

namespace {

template <size_t N>
bool to_array(const std::vector<uint8_t>& v, std::array<uint8_t, N>& out) {
  if (v.size() != N) return false;
  std::copy(v.begin(), v.end(), out.begin());
  return true;
}

}  // namespace

SqlAddressStore::SqlAddressStore(std::unique_ptr<sql::Database> db, AddressPools pools)
    : db_(std::move(db)), pools_(pools) {
  migrate(*db_);
}

std::optional<VirtualAddresses> SqlAddressStore::lookup_locked(uint64_t node_id) {
  const auto rows = db_->query("SELECT ipv4, ipv6 FROM addresses WHERE node_id = $1",
                               {static_cast<int64_t>(node_id)});
  if (rows.empty()) return std::nullopt;
  VirtualAddresses v;
  if (!to_array(rows[0].blob(0), v.v4) || !to_array(rows[0].blob(1), v.v6)) return std::nullopt;
  return v;
}

std::optional<VirtualAddresses> SqlAddressStore::lookup(uint64_t node_id) {
  std::lock_guard lock(mu_);
  return lookup_locked(node_id);
}

VirtualAddresses SqlAddressStore::assign(uint64_t node_id) {
  std::lock_guard lock(mu_);
  if (auto v = lookup_locked(node_id)) return *v;
  sql::Transaction tx(*db_, "addresses");
  if (auto v = lookup_locked(node_id)) return *v;  // another process won the race
  // The next host number after the highest in use; when the pool's end is reached (or an
  // address is taken, e.g. after the pools changed), scan for the lowest free number.
  const auto max = db_->query("SELECT COALESCE(MAX(host_index), 1) FROM addresses");
  uint64_t n = static_cast<uint64_t>(max.at(0).int64(0)) + 1;
  const uint64_t last = pools_.capacity() + 1;
  auto taken = [&](uint64_t i) {
    return !db_->query("SELECT 1 FROM addresses WHERE ipv4 = $1 OR ipv6 = $2",
                       {sql::blob(pools_.v4_host(i)), sql::blob(pools_.v6_host(i))})
                .empty();
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
  db_->execute("INSERT INTO addresses (node_id, host_index, ipv4, ipv6) VALUES ($1, $2, $3, $4)",
               {static_cast<int64_t>(node_id), static_cast<int64_t>(n), sql::blob(v.v4),
                sql::blob(v.v6)});
  tx.commit();
  return v;
}

std::optional<uint64_t> SqlAddressStore::node_where(const char* column, sql::Value address) {
  std::lock_guard lock(mu_);
  const auto rows = db_->query(std::string("SELECT node_id FROM addresses WHERE ") + column +
                                   " = $1",
                               {std::move(address)});
  if (rows.empty()) return std::nullopt;
  return static_cast<uint64_t>(rows[0].int64(0));
}

std::optional<uint64_t> SqlAddressStore::node_for_ipv4(const control::Ipv4Address& a) {
  return node_where("ipv4", sql::blob(a));
}

std::optional<uint64_t> SqlAddressStore::node_for_ipv6(const control::Ipv6Address& a) {
  return node_where("ipv6", sql::blob(a));
}

}  // namespace ntm::servers
