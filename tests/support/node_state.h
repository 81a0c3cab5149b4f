// What the node programs read back from their running node: its info, its counters and its
// tunnel table (ntm.h's snapshot calls), with their versioning and freeing done once here.
#pragma once

#include <ntm.h>

#include <cstddef>

namespace ntm_test {

// ntm_get_node_info(); a failure ends the process ("ERROR what=ntm_get_node_info rc=...").
ntm_node_info node_info();

// ntm_get_stats(); a failure ends the process ("ERROR what=ntm_get_stats rc=...").
ntm_stats node_stats();

// The tunnel table at one moment (ntm_tunnels_snapshot), freed with the object. A failed snapshot
// is an empty table with ok() false and rc() its code.
class Tunnels {
 public:
  Tunnels();
  ~Tunnels();
  Tunnels(const Tunnels &) = delete;
  Tunnels &operator=(const Tunnels &) = delete;

  bool ok() const { return rc_ == NTM_OK; }
  int rc() const { return rc_; }
  size_t size() const { return count_; }
  const ntm_tunnel_info &operator[](size_t i) const { return rows_[i]; }
  const ntm_tunnel_info *begin() const { return rows_; }
  const ntm_tunnel_info *end() const { return rows_ + count_; }

 private:
  ntm_tunnel_info *rows_ = nullptr;
  size_t count_ = 0;
  int rc_;
};

}  // namespace ntm_test
