// Virtual addresses: one stable IPv4 and one stable IPv6 address per node_id, allocated from two
// pools (default 100.64.0.0/10 and fd00:6e74:6d::/48) with host numbers from 2, persisted.
// Host number n gives the n-th address of both pools, so a node's two addresses correspond.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "control/codec_util.h"

namespace ntm::servers {

struct AddressPools {
  control::Ipv4Address v4_base{100, 64, 0, 0};
  unsigned v4_prefix = 10;
  control::Ipv6Address v6_base{0xfd, 0x00, 0x6e, 0x74, 0x00, 0x6d};
  unsigned v6_prefix = 48;

  // Parses "A.B.C.D/len" (len 8..30) and "X::/len" (len 16..120); the host bits must be zero.
  // Throw std::invalid_argument with a clear message.
  void set_v4(std::string_view cidr);
  void set_v6(std::string_view cidr);
  std::string v4_string() const;
  std::string v6_string() const;
  // The number of usable host numbers (2 .. capacity + 1), limited by the smaller pool.
  uint64_t capacity() const;
  control::Ipv4Address v4_host(uint64_t n) const;
  control::Ipv6Address v6_host(uint64_t n) const;
};

struct VirtualAddresses {
  control::Ipv4Address v4{};
  control::Ipv6Address v6{};
  friend bool operator==(const VirtualAddresses&, const VirtualAddresses&) = default;
};

class PoolExhausted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class AddressStore {
 public:
  virtual ~AddressStore() = default;
  // The node's addresses, allocating them on first use. Throws PoolExhausted.
  virtual VirtualAddresses assign(uint64_t node_id) = 0;
  virtual std::optional<VirtualAddresses> lookup(uint64_t node_id) = 0;
  virtual std::optional<uint64_t> node_for_ipv4(const control::Ipv4Address& a) = 0;
  virtual std::optional<uint64_t> node_for_ipv6(const control::Ipv6Address& a) = 0;
};

}  // namespace ntm::servers
