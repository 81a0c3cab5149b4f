// AddressStore on SQLite (the `addresses` table). Thread-safe; the allocation runs in one
// write transaction, so several processes sharing the file never hand out one address twice.
#pragma once

#include <mutex>

#include "store/address_store.h"
#include "store/sqlite.h"

namespace ntm::servers {

class SqliteAddressStore final : public AddressStore {
 public:
  SqliteAddressStore(const std::string& db_path, AddressPools pools);

  VirtualAddresses assign(uint64_t node_id) override;
  std::optional<VirtualAddresses> lookup(uint64_t node_id) override;
  std::optional<uint64_t> node_for_ipv4(const control::Ipv4Address& a) override;
  std::optional<uint64_t> node_for_ipv6(const control::Ipv6Address& a) override;

 private:
  std::optional<VirtualAddresses> lookup_locked(uint64_t node_id);

  std::mutex mu_;
  sqlite::Database db_;
  AddressPools pools_;
};

}  // namespace ntm::servers
