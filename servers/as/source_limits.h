// Who a connection comes from, for per-source limits: an IPv4 address, or an IPv6 /64 (one
// host usually has a whole /64, so counting single IPv6 addresses would limit nothing).
#pragma once

#include <string>
#include <unordered_map>

#include "util/endpoint.h"

namespace ntm::servers {

// The key of `from`'s source: family byte + the address (IPv4) or its first 8 bytes (IPv6).
std::string source_key(const Endpoint& from);

// Connections per source in the phase a client controls (TLS handshake, request). Used by one
// thread (the AS event loop): no locking.
class SourceCounter {
 public:
  explicit SourceCounter(unsigned max_per_source) : max_(max_per_source) {}
  // Counts one more connection from `from`; false (nothing counted) at the limit.
  bool try_add(const Endpoint& from);
  void remove(const Endpoint& from);
  size_t sources() const { return counts_.size(); }

 private:
  unsigned max_;
  std::unordered_map<std::string, unsigned> counts_;
};

}  // namespace ntm::servers
