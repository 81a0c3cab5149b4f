// What `ntm-server status` and the Prometheus endpoint report about a running ServerApp: uptime,
// logins at the AS (by result), nodes registered, registrations and directions at the DC, relays
// at the RS, and every drop counter by reason. One snapshot, two renderings.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

namespace ntm::servers {

class ServerApp;

// The status document (docs/servers.md lists its fields).
nlohmann::json status_json(ServerApp& app, const std::string& program,
                           std::chrono::steady_clock::time_point started);

// The same counters in the Prometheus text exposition format (version 0.0.4).
std::string prometheus_text(const nlohmann::json& status);

// The human-readable form `ntm-server status` prints.
std::string status_text(const nlohmann::json& status);

}  // namespace ntm::servers
