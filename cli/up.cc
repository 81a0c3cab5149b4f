#include "up.h"

#include <ntm.h>
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>

#include "dns.h"
#include "log.h"
#include "proxies.h"
#include "tcp_services.h"
#include "udp_services.h"

namespace ntm::cli {

namespace {

const char* path_name(ntm_path_kind p) {
  return p == NTM_PATH_DIRECT ? "direct" : p == NTM_PATH_RELAY ? "relay" : "none";
}

// Node events become log lines (the event thread; never blocks for long).
void on_event(const ntm_event* e, void*) {
  switch (e->type) {
    case NTM_EVENT_TUNNEL_UP:
    case NTM_EVENT_PATH_CHANGED:
      CLI_INFO("%s: %s (%s %s)", e->peer_name, e->message, path_name(e->path), e->endpoint);
      break;
    case NTM_EVENT_TUNNEL_DOWN:
    case NTM_EVENT_PEER_REVOKED:
      CLI_INFO("%s: %s", e->peer_name, e->message);
      break;
    case NTM_EVENT_REVOKED:
      CLI_ERROR("%s", e->message);
      break;
    case NTM_EVENT_SERVER_UNREACHABLE:
      CLI_WARN("%s", e->message);
      break;
    default:
      CLI_DEBUG("%s", e->message);
      break;
  }
}

std::unique_ptr<Service> make_rule_service(const Rule& r, ConnectionLimit& limit) {
  if (r.kind == Rule::Kind::forward) {
    if (r.proto == Proto::tcp) return std::make_unique<TcpForward>(r, limit);
    return std::make_unique<UdpForward>(r);
  }
  if (r.proto == Proto::tcp) return std::make_unique<TcpExpose>(r, limit);
  return std::make_unique<UdpExpose>(r);
}

// The default control socket's directory may not exist yet (/run/ntm, /tmp/ntm-UID): make it
// private to this user.
void prepare_socket_dir(const std::string& socket_path) {
  const auto dir = std::filesystem::path(socket_path).parent_path();
  if (dir.empty() || std::filesystem::exists(dir)) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) ::chmod(dir.c_str(), 0700);
}

}  // namespace

Daemon::Daemon(std::string file, std::vector<std::pair<std::string, std::string>> flags)
    : file_(std::move(file)), flags_(std::move(flags)) {}

UpConfig Daemon::load() const {
  UpConfig c;
  if (!file_.empty()) load_config_file(file_, c);
  for (const auto& [k, v] : flags_) {
    try {
      apply_setting(c, k, v);
    } catch (const ConfigError& e) {
      throw ConfigError("--" + std::string(e.what()));
    }
  }
  validate(c);
  return c;
}

void Daemon::restart_service(std::unique_ptr<Service>& slot, std::string& current,
                             const std::string& wanted, const char* what, bool starting,
                             const std::function<std::unique_ptr<Service>(const HostPort&)>& make) {
  const std::string target = wanted == "off" ? "" : wanted;
  if (target == current) return;
  slot.reset();
  current.clear();
  if (target.empty()) {
    if (!starting) CLI_INFO("%s stopped", what);
    return;
  }
  try {
    slot = make(parse_host_port(target, what));
    current = target;
  } catch (const ConfigError& e) {
    if (starting) throw;
    CLI_ERROR("%s: %s", what, e.what());
  }
}

void Daemon::apply(const UpConfig& c, bool starting) {
  limit_.set_limit(c.max_connections);
  std::set<std::string> wanted;
  for (const auto& r : c.rules) wanted.insert(r.text());
  for (auto it = rules_.begin(); it != rules_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    CLI_INFO("stopped: %s", it->first.c_str());
    it = rules_.erase(it);
  }
  for (const auto& r : c.rules) {
    const std::string text = r.text();
    if (rules_.count(text)) continue;
    try {
      rules_[text] = make_rule_service(r, limit_);
      CLI_INFO("%s", text.c_str());
    } catch (const ConfigError& e) {
      if (starting) throw;
      CLI_ERROR("%s", e.what());
    }
  }
  using Make = std::function<std::unique_ptr<Service>(const HostPort&)>;
  restart_service(socks5_, socks5_at_, c.socks5, "socks5", starting, Make([this](const HostPort& at) {
                    return std::make_unique<Socks5Proxy>(at, limit_);
                  }));
  restart_service(http_proxy_, http_proxy_at_, c.http_proxy, "http-proxy", starting,
                  Make([this](const HostPort& at) { return std::make_unique<HttpProxy>(at, limit_); }));
  restart_service(dns_, dns_at_, c.dns, "dns", starting,
                  Make([](const HostPort& at) { return std::make_unique<DnsResponder>(at); }));
}

void Daemon::reload() {
  if (file_.empty()) {
    CLI_INFO("SIGHUP: no config file to re-read");
    return;
  }
  try {
    const UpConfig c = load();
    CLI_INFO("SIGHUP: re-reading %s", file_.c_str());
    apply(c, false);
  } catch (const ConfigError& e) {
    CLI_ERROR("SIGHUP: %s; keeping the running rules", e.what());
  }
}

int Daemon::run() {
  UpConfig config;
  try {
    config = load();
  } catch (const ConfigError& e) {
    CLI_ERROR("configuration: %s", e.what());
    return 2;
  }
  log::set_json(config.log_format == "json");
  log::set_level(config.log_level == "debug"  ? log::Level::debug
                 : config.log_level == "info" ? log::Level::info
                 : config.log_level == "warn" ? log::Level::warn
                                              : log::Level::error);
  std::unique_ptr<NodeOptions> options;
  try {
    options = std::make_unique<NodeOptions>(config);
  } catch (const ConfigError& e) {
    CLI_ERROR("configuration: %s", e.what());
    return 2;
  }
  ntm_options o = *options->get();
  o.event_cb = on_event;
  prepare_socket_dir(o.control_socket);

  // Only sigwait() below takes these; every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  if (o.server) CLI_INFO("logging in to %s as %s", o.server, o.account);
  const int rc = ntm_start(&o);
  if (rc != NTM_OK) {
    CLI_ERROR("cannot start the node: %s", ntm_last_error());
    return rc == NTM_EINVAL ? 2 : 1;
  }
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  ntm_get_node_info(&info);
  CLI_INFO("node %s up (node id %s): %s%s%s; control API on %s", info.name, info.node_id,
           info.virtual_ipv4, info.virtual_ipv4[0] && info.virtual_ipv6[0] ? " " : "",
           info.virtual_ipv6, o.control_socket);
  int status = 0;
  try {
    apply(config, true);
  } catch (const ConfigError& e) {
    CLI_ERROR("%s", e.what());
    status = 1;
  }
  while (status == 0) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    CLI_INFO("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  rules_.clear();
  socks5_.reset();
  http_proxy_.reset();
  dns_.reset();
  ntm_stop();
  CLI_INFO("stopped");
  return status;
}

}  // namespace ntm::cli
