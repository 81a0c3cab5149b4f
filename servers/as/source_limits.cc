#include "as/source_limits.h"

namespace ntm::servers {

std::string source_key(const Endpoint& from) {
  const size_t bytes = from.is_v6() ? 8 : 4;
  std::string key(1, from.is_v6() ? '6' : '4');
  key.append(reinterpret_cast<const char*>(from.address.data()), bytes);
  return key;
}

bool SourceCounter::try_add(const Endpoint& from) {
  unsigned& n = counts_[source_key(from)];
  if (n >= max_) return false;
  ++n;
  return true;
}

void SourceCounter::remove(const Endpoint& from) {
  auto it = counts_.find(source_key(from));
  if (it == counts_.end()) return;
  if (--it->second == 0) counts_.erase(it);
}

}  // namespace ntm::servers
