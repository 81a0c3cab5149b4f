// The local control API's JSON documents (docs/ntm.md describes every field): the node, its
// tunnels, its counters, recent events and ping answers, built from the Node's snapshots.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "node/event_queue.h"
#include "node/node.h"

namespace ntm::node {

nlohmann::json node_json(const NodeInfo& info, bool control_plane, int64_t uptime_ms);
nlohmann::json tunnel_json(const TunnelInfo& tunnel);
nlohmann::json stats_json(const NodeStats& stats);
nlohmann::json events_json(const std::vector<RecentEvent>& events);
nlohmann::json ping_json(const PingResult& result);
nlohmann::json netcheck_json(const NetcheckReport& report);

// "up", "handshake", "idle"; "direct", "relay", "none"; "tunnel_up", ...
const char* tunnel_state_name(int state);
const char* path_name(tunnel::PathKind path);
const char* event_type_name(NodeEvent::Type type);

}  // namespace ntm::node
