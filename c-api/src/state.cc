// Node state: identity and addresses, the tunnel table snapshot, and counters.
#include <cstdlib>
#include <cstring>

#include "api_common.h"
#include "capi_util.h"
#include "crypto/encoding.h"

using namespace ntm;

extern "C" NTM_EXTERN(int) ntm_get_node_info(ntm_node_info *info) {
  return capi::guarded([&]() -> int {
    if (info == nullptr) return capi::fail(NTM_EINVAL, "ntm_get_node_info: NULL info");
    if (info->version != NTM_NODE_INFO_VERSION) {
      return capi::fail(NTM_EVERSION, "ntm_get_node_info: set info->version to "
                                      "NTM_NODE_INFO_VERSION");
    }
    auto& rt = capi::runtime();
    std::lock_guard lock(rt.mutex);
    if (!rt.node) return capi::fail(NTM_ESTATE, "ntm_get_node_info: no node is running");
    auto i = rt.node->info();
    const unsigned version = info->version;
    std::memset(info, 0, sizeof(*info));
    info->version = version;
    capi::copy_text(node::node_id_hex(i.node_id), info->node_id, sizeof(info->node_id));
    capi::copy_text(i.name, info->name, sizeof(info->name));
    capi::copy_text(crypto::base64_encode(i.public_key), info->public_key,
                    sizeof(info->public_key));
    if (i.vip4) capi::copy_text(capi::format_ipv4(*i.vip4), info->virtual_ipv4, 16);
    if (i.vip6) capi::copy_text(capi::format_ipv6(*i.vip6), info->virtual_ipv6, 46);
    for (const auto& e : i.endpoints) {
      if (e.is_v4()) capi::copy_text(e.to_string(), info->endpoint_ipv4, 64);
      if (e.is_v6()) capi::copy_text(e.to_string(), info->endpoint_ipv6, 64);
    }
    info->mtu = i.mtu;
    return NTM_OK;
  });
}

extern "C" NTM_EXTERN(int) ntm_tunnels_snapshot(ntm_tunnel_info **tunnels, size_t *count) {
  return capi::guarded([&]() -> int {
    if (tunnels == nullptr || count == nullptr) {
      return capi::fail(NTM_EINVAL, "ntm_tunnels_snapshot: NULL output");
    }
    *tunnels = nullptr;
    *count = 0;
    auto& rt = capi::runtime();
    std::lock_guard lock(rt.mutex);
    if (!rt.node) return capi::fail(NTM_ESTATE, "ntm_tunnels_snapshot: no node is running");
    auto rows = rt.node->tunnels();
    if (rows.empty()) return NTM_OK;
    auto* out = static_cast<ntm_tunnel_info*>(std::calloc(rows.size(), sizeof(ntm_tunnel_info)));
    if (out == nullptr) return capi::fail(NTM_ENOMEM, "ntm_tunnels_snapshot: out of memory");
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      ntm_tunnel_info& t = out[i];
      capi::copy_text(r.peer_name, t.peer_name, sizeof(t.peer_name));
      capi::copy_text(node::node_id_hex(r.peer_node_id), t.peer_node_id, sizeof(t.peer_node_id));
      if (r.vip4) capi::copy_text(capi::format_ipv4(*r.vip4), t.virtual_ipv4, 16);
      if (r.vip6) capi::copy_text(capi::format_ipv6(*r.vip6), t.virtual_ipv6, 46);
      t.state = static_cast<ntm_tunnel_state>(r.state);
      t.path = static_cast<ntm_path_kind>(r.path);
      if (r.endpoint.valid()) capi::copy_text(r.endpoint.to_string(), t.endpoint, 64);
      t.local_path_id = r.local_path_id;
      t.bytes_sent = r.bytes_sent;
      t.bytes_received = r.bytes_received;
      t.packets_sent = r.packets_sent;
      t.packets_received = r.packets_received;
      t.last_activity_ms = r.last_activity_ms;
      t.session_age_ms = r.session_age_ms;
      t.rtt_us = r.rtt_us;
      t.path_mtu = r.path_mtu;
    }
    *tunnels = out;
    *count = rows.size();
    return NTM_OK;
  });
}

extern "C" NTM_EXTERN(void) ntm_tunnels_free(ntm_tunnel_info *tunnels) { std::free(tunnels); }

extern "C" NTM_EXTERN(int) ntm_get_stats(ntm_stats *stats) {
  return capi::guarded([&]() -> int {
    if (stats == nullptr) return capi::fail(NTM_EINVAL, "ntm_get_stats: NULL stats");
    if (stats->version != 1 && stats->version != NTM_STATS_VERSION) {
      return capi::fail(NTM_EVERSION, "ntm_get_stats: set stats->version to NTM_STATS_VERSION");
    }
    auto& rt = capi::runtime();
    std::lock_guard lock(rt.mutex);
    if (!rt.node) return capi::fail(NTM_ESTATE, "ntm_get_stats: no node is running");
    const auto s = rt.node->stats();
    stats->packets_sent = s.packets_sent;
    stats->packets_received = s.packets_received;
    stats->bytes_sent = s.bytes_sent;
    stats->bytes_received = s.bytes_received;
    stats->dropped_malformed = s.dropped_malformed;
    stats->dropped_unknown_path = s.dropped_unknown_path;
    stats->dropped_auth = s.dropped_auth;
    stats->dropped_replay = s.dropped_replay;
    stats->dropped_no_tunnel = s.dropped_no_tunnel;
    stats->handshakes_completed = s.handshakes_completed;
    stats->handshakes_failed = s.handshakes_failed;
    if (stats->version < 2) return NTM_OK;  // a caller built against header 0.2
    stats->dropped_spoofed = s.dropped_spoofed;
    stats->dropped_policy = s.dropped_policy;
    stats->dropped_limit = s.dropped_limit;
    stats->handshakes_initiated = s.handshakes_initiated;
    stats->logins = s.logins;
    stats->registrations = s.registrations;
    stats->network_changes = s.network_changes;
    stats->resolves_sent = s.resolves_sent;
    stats->directions_received = s.directions_received;
    stats->dc_keepalives_sent = s.dc_keepalives_sent;
    stats->dc_keepalives_missed = s.dc_keepalives_missed;
    stats->relay_fallbacks = s.relay_fallbacks;
    stats->direct_upgrades = s.direct_upgrades;
    stats->tcp_connections = s.tcp_connections;
    stats->memory_used = s.memory_used;
    return NTM_OK;
  });
}
