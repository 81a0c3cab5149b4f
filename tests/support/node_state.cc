// The node's state as the node programs read it: see node_state.h.
#include "node_state.h"

#include "report.h"

namespace ntm_test {

ntm_node_info node_info() {
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  int rc = ntm_get_node_info(&info);
  if (rc != NTM_OK) die_ntm("ntm_get_node_info", rc);
  return info;
}

ntm_stats node_stats() {
  ntm_stats s{};
  s.version = NTM_STATS_VERSION;
  int rc = ntm_get_stats(&s);
  if (rc != NTM_OK) die_ntm("ntm_get_stats", rc);
  return s;
}

Tunnels::Tunnels() : rc_(ntm_tunnels_snapshot(&rows_, &count_)) {
  if (rc_ != NTM_OK) {
    rows_ = nullptr;
    count_ = 0;
  }
}

Tunnels::~Tunnels() {
  if (rows_ != nullptr) ntm_tunnels_free(rows_);
}

}  // namespace ntm_test
