// AddressStore on SQL (the `addresses` table), for both backends (sql_database.h). Thread-safe;
// an allocation runs in one transaction under the "addresses" lock, so several processes (or
// several DCs on one PostgreSQL database) never hand out one address twice. The constructor
// brings the schema up to date (migrations.h).
#pragma once

#include <memory>
#include <mutex>

#include "store/address_store.h"
#include "store/sql_database.h"

namespace ntm::servers {

class SqlAddressStore : public AddressStore {
 public:
  // Throws sql::Error.
  SqlAddressStore(std::unique_ptr<sql::Database> db, AddressPools pools);

  VirtualAddresses assign(uint64_t node_id) override;
  std::optional<VirtualAddresses> lookup(uint64_t node_id) override;
  std::optional<uint64_t> node_for_ipv4(const control::Ipv4Address& a) override;
  std::optional<uint64_t> node_for_ipv6(const control::Ipv6Address& a) override;

 private:
  std::optional<VirtualAddresses> lookup_locked(uint64_t node_id);
  std::optional<uint64_t> node_where(const char* column, sql::Value address);

  std::mutex mu_;
  std::unique_ptr<sql::Database> db_;
  AddressPools pools_;
};

}  // namespace ntm::servers
