// `ntm status`, `ntm peers`, `ntm ping`: clients of a node's local control API (a Unix socket,
// see core/node/control_server.h). Human-readable tables by default, the node's JSON with
// --json. Return the exit status: 0, 1 if the node cannot be reached or a ping got no answer.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ntm::cli {

// Sends one request to the control socket and returns the answer. Throws std::runtime_error
// ("no node is serving ... (is ntm up running?)").
nlohmann::json control_request(const std::string& socket_path, const nlohmann::json& request,
                               int timeout_ms);

int cmd_status(const std::string& socket_path, bool json);
int cmd_peers(const std::string& socket_path, bool json);
int cmd_ping(const std::string& socket_path, const std::string& peer, int count, int interval_ms,
             int timeout_ms, bool json);
// Asks the node to probe its AS, DCs and RSs per address family (reachability, RTT, NAT and
// mapping behaviour, path MTU). Exit status 1 when no DC or RS answered in any family.
int cmd_netcheck(const std::string& socket_path, bool json);

// Formats for the tables: "1.2 ms", "12.3 KiB", "2m05s", "5s ago".
std::string format_rtt(int64_t rtt_us);
std::string format_bytes(uint64_t bytes);
std::string format_duration(int64_t ms);
std::string format_age(int64_t ms);

}  // namespace ntm::cli
