#include "aio/status_report.h"

#include <array>
#include <cstdio>

#include "aio/server_app.h"

namespace ntm::servers {

namespace {

template <class Reason>
nlohmann::json by_reason(const ReasonCounters<Reason>& c) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < ReasonCounters<Reason>::kSize; ++i) {
    const auto r = static_cast<Reason>(i);
    out[reason_name(r)] = c.get(r);
  }
  return out;
}

nlohmann::json endpoints(const std::vector<Endpoint>& list) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : list) out.push_back(e.to_string());
  return out;
}

void metric(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, uint64_t value) {
  out += name + " " + std::to_string(value) + "\n";
}

uint64_t u(const nlohmann::json& j, const char* key) { return j.value(key, uint64_t{0}); }

}  // namespace

nlohmann::json status_json(ServerApp& app, const std::string& program,
                           std::chrono::steady_clock::time_point started) {
  nlohmann::json s{{"program", program},
                   {"version", NTM_SERVERS_VERSION},
                   {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                                    std::chrono::steady_clock::now() - started).count()},
                   {"domain", app.options().domain}};
  if (const auto servers = app.account_servers(); !servers.empty()) {
    std::vector<Endpoint> listen;
    std::array<uint64_t, ReasonCounters<AsLogin>::kSize> sums{};
    for (AccountServer* as : servers) {
      listen.push_back(as->local_endpoint());
      for (size_t i = 0; i < sums.size(); ++i) sums[i] += as->logins().get(static_cast<AsLogin>(i));
    }
    nlohmann::json logins = nlohmann::json::object();
    uint64_t failures = 0;
    for (size_t i = 0; i < sums.size(); ++i) {
      const auto r = static_cast<AsLogin>(i);
      logins[reason_name(r)] = sums[i];
      if (r != AsLogin::ok) failures += sums[i];
    }
    s["as"] = {{"listen", endpoints(listen)},
               {"logins", logins},
               {"logins_ok", sums[static_cast<size_t>(AsLogin::ok)]},
               {"login_failures", failures}};
  }
  if (DirectionCoordinator* dc = app.dc()) {
    s["dc"] = {{"listen", endpoints(dc->local_endpoints())},
               {"nodes_registered", dc->registered_nodes()},
               {"registrations", dc->registrations()},
               {"directions", dc->directions()},
               {"dropped", by_reason(dc->drops())}};
  }
  if (RelayServer* rs = app.rs()) {
    const auto st = rs->stats();
    s["rs"] = {{"listen", endpoints(rs->local_endpoints())},
               {"relays_active", rs->relay_count()},
               {"binds", st.binds},
               {"forwarded", st.forwarded},
               {"dropped", by_reason(rs->drops())}};
  }
  return s;
}

std::string prometheus_text(const nlohmann::json& s) {
  std::string out;
  metric(out, "ntm_server_uptime_seconds", "gauge", "Seconds since the server started.");
  sample(out, "ntm_server_uptime_seconds", u(s, "uptime_s"));
  if (s.contains("as")) {
    metric(out, "ntm_as_logins_total", "counter", "Login connections at the AS by result.");
    for (const auto& [k, v] : s["as"]["logins"].items())
      sample(out, "ntm_as_logins_total{result=\"" + k + "\"}", v.get<uint64_t>());
    metric(out, "ntm_as_login_failures_total", "counter", "Logins that did not succeed.");
    sample(out, "ntm_as_login_failures_total", u(s["as"], "login_failures"));
  }
  if (s.contains("dc")) {
    const auto& dc = s["dc"];
    metric(out, "ntm_dc_nodes_registered", "gauge", "Nodes registered with the DC now.");
    sample(out, "ntm_dc_nodes_registered", u(dc, "nodes_registered"));
    metric(out, "ntm_dc_registrations_total", "counter", "Registrations the DC accepted.");
    sample(out, "ntm_dc_registrations_total", u(dc, "registrations"));
    metric(out, "ntm_dc_directions_total", "counter", "Tunnels the DC directed.");
    sample(out, "ntm_dc_directions_total", u(dc, "directions"));
    metric(out, "ntm_dc_dropped_total", "counter", "Datagrams the DC dropped, by reason.");
    for (const auto& [k, v] : dc["dropped"].items())
      sample(out, "ntm_dc_dropped_total{reason=\"" + k + "\"}", v.get<uint64_t>());
  }
  if (s.contains("rs")) {
    const auto& rs = s["rs"];
    metric(out, "ntm_rs_relays_active", "gauge", "Relays (tunnels relayed) the RS holds now.");
    sample(out, "ntm_rs_relays_active", u(rs, "relays_active"));
    metric(out, "ntm_rs_binds_total", "counter", "RelayBinds the RS accepted.");
    sample(out, "ntm_rs_binds_total", u(rs, "binds"));
    metric(out, "ntm_rs_forwarded_total", "counter", "Datagrams the RS forwarded.");
    sample(out, "ntm_rs_forwarded_total", u(rs, "forwarded"));
    metric(out, "ntm_rs_dropped_total", "counter", "Datagrams the RS dropped, by reason.");
    for (const auto& [k, v] : rs["dropped"].items())
      sample(out, "ntm_rs_dropped_total{reason=\"" + k + "\"}", v.get<uint64_t>());
  }
  return out;
}

std::string status_text(const nlohmann::json& s) {
  char line[512];
  std::string out;
  const uint64_t up = u(s, "uptime_s");
  std::snprintf(line, sizeof(line), "%s %s, domain %s, up %llud %02lluh%02llum%02llus\n",
                s.value("program", "").c_str(), s.value("version", "").c_str(),
                s.value("domain", "").c_str(), static_cast<unsigned long long>(up / 86400),
                static_cast<unsigned long long>(up / 3600 % 24),
                static_cast<unsigned long long>(up / 60 % 60), static_cast<unsigned long long>(up % 60));
  out += line;
  auto reasons = [](const nlohmann::json& j) {
    std::string r;
    for (const auto& [k, v] : j.items())
      if (v.get<uint64_t>() > 0) r += (r.empty() ? "" : ", ") + k + " " + std::to_string(v.get<uint64_t>());
    return r.empty() ? std::string("none") : r;
  };
  auto listen = [](const nlohmann::json& j) {
    std::string r;
    for (const auto& e : j) r += (r.empty() ? "" : " ") + e.get<std::string>();
    return r;
  };
  if (s.contains("as")) {
    const auto& as = s["as"];
    std::snprintf(line, sizeof(line), "AS  %s\n    logins ok %llu, failed %llu (%s)\n",
                  listen(as["listen"]).c_str(), static_cast<unsigned long long>(u(as, "logins_ok")),
                  static_cast<unsigned long long>(u(as, "login_failures")), [&] {
                    nlohmann::json f = as["logins"];
                    f.erase("ok");
                    return reasons(f);
                  }().c_str());
    out += line;
  }
  if (s.contains("dc")) {
    const auto& dc = s["dc"];
    std::snprintf(line, sizeof(line),
                  "DC  %s\n    nodes registered %llu; registrations %llu, directions %llu\n"
                  "    dropped: %s\n",
                  listen(dc["listen"]).c_str(), static_cast<unsigned long long>(u(dc, "nodes_registered")),
                  static_cast<unsigned long long>(u(dc, "registrations")),
                  static_cast<unsigned long long>(u(dc, "directions")), reasons(dc["dropped"]).c_str());
    out += line;
  }
  if (s.contains("rs")) {
    const auto& rs = s["rs"];
    std::snprintf(line, sizeof(line),
                  "RS  %s\n    tunnels relayed now %llu; binds %llu, datagrams forwarded %llu\n"
                  "    dropped: %s\n",
                  listen(rs["listen"]).c_str(), static_cast<unsigned long long>(u(rs, "relays_active")),
                  static_cast<unsigned long long>(u(rs, "binds")),
                  static_cast<unsigned long long>(u(rs, "forwarded")), reasons(rs["dropped"]).c_str());
    out += line;
  }
  return out;
}

}  // namespace ntm::servers
