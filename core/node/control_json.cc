#include "node/control_json.h"

#include <arpa/inet.h>

#include <ctime>

#include "crypto/encoding.h"

namespace ntm::node {

namespace {

std::string ip4_text(const std::optional<std::array<uint8_t, 4>>& a) {
  if (!a) return "";
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a->data(), text, sizeof(text));
  return text;
}

std::string ip6_text(const std::optional<std::array<uint8_t, 16>>& a) {
  if (!a) return "";
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a->data(), text, sizeof(text));
  return text;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms));
  return buf;
}

}  // namespace

const char* tunnel_state_name(int state) {
  return state == 2 ? "up" : state == 1 ? "handshake" : "idle";
}

const char* path_name(tunnel::PathKind path) {
  switch (path) {
    case tunnel::PathKind::direct: return "direct";
    case tunnel::PathKind::relay: return "relay";
    default: return "none";
  }
}

const char* event_type_name(NodeEvent::Type type) {
  switch (type) {
    case NodeEvent::Type::started: return "started";
    case NodeEvent::Type::stopping: return "stopping";
    case NodeEvent::Type::tunnel_up: return "tunnel_up";
    case NodeEvent::Type::tunnel_down: return "tunnel_down";
    case NodeEvent::Type::path_changed: return "path_changed";
    case NodeEvent::Type::registered: return "registered";
    case NodeEvent::Type::peer_revoked: return "peer_revoked";
    case NodeEvent::Type::revoked: return "revoked";
    case NodeEvent::Type::server_unreachable: return "server_unreachable";
  }
  return "unknown";
}

nlohmann::json node_json(const NodeInfo& info, bool control_plane, int64_t uptime_ms) {
  nlohmann::json endpoints = nlohmann::json::array();
  for (const auto& e : info.endpoints) endpoints.push_back(e.to_string());
  return {{"name", info.name},
          {"node_id", node_id_hex(info.node_id)},
          {"public_key", crypto::base64_encode(info.public_key)},
          {"virtual_ipv4", ip4_text(info.vip4)},
          {"virtual_ipv6", ip6_text(info.vip6)},
          {"endpoints", endpoints},
          {"mtu", info.mtu},
          {"mode", control_plane ? "control-plane" : "static-peer"},
          {"uptime_ms", uptime_ms}};
}

nlohmann::json tunnel_json(const TunnelInfo& t) {
  return {{"peer", t.peer_name},
          {"node_id", node_id_hex(t.peer_node_id)},
          {"virtual_ipv4", ip4_text(t.vip4)},
          {"virtual_ipv6", ip6_text(t.vip6)},
          {"state", tunnel_state_name(t.state)},
          {"path", path_name(t.path)},
          {"endpoint", t.endpoint.valid() ? t.endpoint.to_string() : ""},
          {"local_path_id", t.local_path_id},
          {"rtt_us", t.rtt_us},
          {"path_mtu", t.path_mtu},
          {"bytes_sent", t.bytes_sent},
          {"bytes_received", t.bytes_received},
          {"packets_sent", t.packets_sent},
          {"packets_received", t.packets_received},
          {"last_activity_ms", t.last_activity_ms},
          {"last_handshake_ms", t.session_age_ms}};
}

nlohmann::json stats_json(const NodeStats& s) {
  return {{"packets_sent", s.packets_sent},
          {"packets_received", s.packets_received},
          {"bytes_sent", s.bytes_sent},
          {"bytes_received", s.bytes_received},
          {"dropped_malformed", s.dropped_malformed},
          {"dropped_unknown_path", s.dropped_unknown_path},
          {"dropped_auth", s.dropped_auth},
          {"dropped_replay", s.dropped_replay},
          {"dropped_no_tunnel", s.dropped_no_tunnel},
          {"dropped_spoofed", s.dropped_spoofed},
          {"dropped_policy", s.dropped_policy},
          {"dropped_limit", s.dropped_limit},
          {"handshakes_initiated", s.handshakes_initiated},
          {"handshakes_completed", s.handshakes_completed},
          {"handshakes_failed", s.handshakes_failed},
          {"logins", s.logins},
          {"registrations", s.registrations},
          {"network_changes", s.network_changes},
          {"resolves_sent", s.resolves_sent},
          {"directions_received", s.directions_received},
          {"dc_keepalives_sent", s.dc_keepalives_sent},
          {"dc_keepalives_missed", s.dc_keepalives_missed},
          {"relay_fallbacks", s.relay_fallbacks},
          {"direct_upgrades", s.direct_upgrades},
          {"tcp_connections", s.tcp_connections},
          {"memory_used", s.memory_used}};
}

nlohmann::json events_json(const std::vector<RecentEvent>& events) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : events) {
    nlohmann::json e{{"time", iso_time(r.time)},
                     {"type", event_type_name(r.event.type)},
                     {"message", r.event.message}};
    if (!r.event.peer_name.empty()) e["peer"] = r.event.peer_name;
    if (!r.event.endpoint.empty()) e["endpoint"] = r.event.endpoint;
    if (r.event.type == NodeEvent::Type::tunnel_up || r.event.type == NodeEvent::Type::path_changed)
      e["path"] = path_name(static_cast<tunnel::PathKind>(r.event.path));
    out.push_back(std::move(e));
  }
  return out;
}

nlohmann::json ping_json(const PingResult& r) {
  nlohmann::json j{{"peer", r.peer_name}, {"address", r.address}};
  if (!r.error.empty()) {
    j["error"] = r.error;
    return j;
  }
  if (r.timed_out) {
    j["timeout"] = true;
    return j;
  }
  j["rtt_us"] = r.rtt_us;
  j["path"] = path_name(r.path);
  j["endpoint"] = r.endpoint.valid() ? r.endpoint.to_string() : "";
  return j;
}

namespace {

std::string endpoint_text(const Endpoint& e) { return e.valid() ? e.to_string() : ""; }

nlohmann::json family_json(const FamilyReport& f) {
  nlohmann::json j{{"available", f.available}};
  if (!f.available) {
    j["reason"] = f.unavailable_reason;
    return j;
  }
  nlohmann::json servers = nlohmann::json::array();
  for (const auto& s : f.servers) {
    nlohmann::json e{{"role", s.role}, {"server", endpoint_text(s.server)}, {"reachable", s.reachable}};
    if (s.reachable) e["rtt_us"] = s.rtt_us;
    if (s.observed.valid()) e["observed"] = s.observed.to_string();
    servers.push_back(std::move(e));
  }
  j["local"] = endpoint_text(f.local);
  j["servers"] = std::move(servers);
  j["nat"] = f.nat;
  j["mapping"] = f.mapping;
  j["path_mtu"] = f.path_mtu;
  j["mtu_server"] = endpoint_text(f.mtu_server);
  return j;
}

}  // namespace

nlohmann::json netcheck_json(const NetcheckReport& r) {
  return {{"ipv4", family_json(r.ipv4)}, {"ipv6", family_json(r.ipv6)}};
}

}  // namespace ntm::node
