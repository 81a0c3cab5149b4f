#include "aio/server_app.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <iostream>

#include <nlohmann/json.hpp>

#include "aio/status_report.h"
#include "aio/status_server.h"
#include "as/tls.h"
#include "crypto/encoding.h"

namespace ntm::servers {

namespace {
// The access policy file: --policy, else STATE/policy (absent: no policy).
std::filesystem::path policy_path(const ServerOptions& o) {
  if (!o.policy.empty()) return o.policy;
  return o.state.empty() ? std::filesystem::path{} : o.state / kPolicyFile;
}
}  // namespace

ServerApp::ServerApp(ServerOptions options, Roles roles, PasswordCost password_cost)
    : options_((validate(options), std::move(options))), roles_(roles), state_(options_.state) {
  // One connection per store: each store serialises its own use of it.
  const std::string db = database_location(options_);
  if (roles_.as || roles_.dc)
    accounts_ = std::make_unique<SqlAccountStore>(sql::open(db), password_cost);
  // The AS certifies the addresses the DC gives out: both use the store's.
  if (roles_.as || roles_.dc)
    addresses_ = std::make_unique<SqlAddressStore>(sql::open(db), options_.pools);
  if (roles_.as) tls::ensure_identity(tls_cert_path(), state_.file(kTlsKeyFile), "as." + options_.domain);
}

ServerApp::~ServerApp() { stop(); }

void ServerApp::start() {
  if (roles_.rs) {
    RelayServerConfig c;
    c.listen = options_.listen_rs;
    c.relay_key = state_.load_or_create_key(kRelayKeyFile);
    c.table_file = state_.file(kRelayTableFile);
    c.threads = options_.rs_threads;
    c.idle_timeout = std::chrono::seconds(std::max<unsigned>(90, 4u * options_.keepalive_s));
    rs_ = std::make_unique<RelayServer>(std::move(c));
    rs_->start();
  }
  if (roles_.dc) {
    DirectionCoordinatorConfig c;
    c.listen = options_.listen_dc;
    c.ticket_key = state_.load_or_create_key(kTicketKeyFile);
    c.relay_key = state_.load_or_create_key(kRelayKeyFile);
    c.keepalive_s = options_.keepalive_s;
    c.known_nodes_file = state_.file(kKnownNodesFile);
    c.policy_file = policy_path(options_);
    // On PostgreSQL the DCs sharing the database form a fleet (dc/dc_bus.h).
    if (sql::is_postgresql_url(database_location(options_)))
      c.fleet_database = database_location(options_);
    for (const auto& rs : relay_endpoints()) c.relays.push_back(RelayServerInfo{rs});
    dc_ = std::make_unique<DirectionCoordinator>(std::move(c), *addresses_, accounts_.get());
    dc_->start();
  }
  if (roles_.as) {
    for (size_t i = 0; i < options_.listen_as.size(); ++i) start_account_server(i);
  }
}

void ServerApp::start_account_server(size_t index) {
  {
    AccountServerConfig c;
    c.listen = options_.listen_as[index];
    c.domain = options_.domain;
    c.tls_cert = tls_cert_path();
    c.tls_key = state_.file(kTlsKeyFile);
    c.sign_key = state_.load_or_create_signing_key();
    c.ticket_key = state_.load_or_create_key(kTicketKeyFile);
    c.dc_endpoints = dc_endpoints();
    if (c.dc_endpoints.empty())
      throw ConfigError("no DC address to give nodes: set dc-public ADDR:PORT");
    c.session_lifetime = std::chrono::seconds(options_.session_lifetime_s);
    auto server = std::make_unique<AccountServer>(std::move(c), *accounts_, addresses_.get());
    server->start();
    if (index == 0) {
      as_ = std::move(server);
    } else {
      more_as_.push_back(std::move(server));
    }
  }
}

void ServerApp::stop() {
  for (auto& more : more_as_) more->stop();
  if (as_) as_->stop();
  if (dc_) dc_->stop();
  if (rs_) rs_->stop();
}

std::vector<AccountServer*> ServerApp::account_servers() {
  std::vector<AccountServer*> out;
  if (as_) out.push_back(as_.get());
  for (auto& more : more_as_) out.push_back(more.get());
  return out;
}

std::vector<Endpoint> ServerApp::dc_endpoints() const {
  if (!options_.dc_public.empty()) return options_.dc_public;
  std::vector<Endpoint> out;
  if (dc_) {
    for (const auto& e : dc_->local_endpoints())
      if (!is_wildcard(e)) out.push_back(e);
  } else {
    for (const auto& e : options_.listen_dc)
      if (!is_wildcard(e) && e.port != 0) out.push_back(e);
  }
  return out;
}

std::vector<std::vector<Endpoint>> ServerApp::relay_endpoints() const {
  if (!options_.relays.empty()) return options_.relays;
  std::vector<Endpoint> rs;
  if (rs_) {
    for (const auto& e : rs_->local_endpoints())
      if (!is_wildcard(e)) rs.push_back(e);
  }
  if (rs.empty()) return {};
  return {rs};
}

// ---------------------------------------------------------------------------------------------
// Command line

namespace {

struct Usage : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void print_help(const char* prog, Roles roles) {
  std::printf(
      "usage:\n"
      "  %s run [--config FILE] [--state DIR] [--OPTION VALUE]...\n"
      "  %s status [--json] (--state DIR | --config FILE)\n"
      "  %s --version\n", prog, prog, prog);
  if (roles.as || roles.dc)
    std::printf(
        "  %s accounts add NAME (--password-stdin | --password-file FILE | --token) --state DIR\n"
        "  %s accounts list [--json] --state DIR\n"
        "  %s accounts disable NAME --state DIR   (its node is revoked within seconds)\n"
        "  %s accounts enable NAME --state DIR\n"
        "  %s accounts delete NAME --state DIR    (revoked like a disabled one)\n"
        "  %s accounts passwd NAME (--password-stdin | --password-file FILE) --state DIR\n"
        "  %s policy check [FILE] (--state DIR | --config FILE)  (parse the access policy and\n"
        "      print its rules; a running DC applies a changed file within a second)\n",
        prog, prog, prog, prog, prog, prog, prog);
  std::printf(
      "\noptions (also as `key = value` lines in the --config file):\n"
      "  --state DIR                state directory (database, keys)\n"
      "  --domain NAME              nodes are <account>.<NAME> (default ntm)\n"
      "  --listen-as ADDR:PORT      AS, TLS over TCP; repeat for IPv4 and IPv6 (default 127.0.0.1:7800)\n"
      "  --listen-dc ADDR:PORT      DC, UDP; repeat for IPv4 and IPv6 (default 127.0.0.1:7801)\n"
      "  --listen-rs ADDR:PORT      RS, UDP; repeat for IPv4 and IPv6 (default 127.0.0.1:7802)\n"
      "  --dc-public ADDR:PORT      DC address given to nodes (default: the bound DC address)\n"
      "  --relay ADDR:PORT[,ADDR:PORT]  a relay server's addresses; repeat per RS\n"
      "  --rs-threads N|auto        RS forwarding threads, 1-16 (default 1; auto: one per core)\n"
      "  --keepalive SECONDS        keepalive interval (default 20)\n"
      "  --session-lifetime SECONDS certificate and ticket lifetime (default 86400)\n"
      "  --pool-v4 CIDR --pool-v6 CIDR  virtual address pools\n"
      "  --log-level LEVEL          off, error, warn (default), info, debug\n"
      "  --log-format FORMAT        text (default: timestamped lines) or json\n"
      "  --metrics ADDR:PORT        Prometheus endpoint, e.g. 127.0.0.1:9464 (default off)\n"
      "  --policy FILE              access policy between nodes (default STATE/policy; none:\n"
      "                             every node may reach every port of every other)\n"
      "  --database URL|PATH        postgresql://USER@HOST:PORT/DB, or a SQLite file\n"
      "                             (default: ntm.db in the state directory)\n"
      "Addresses may be host names (resolved at start).\n");
}

// Splits "--key value" pairs; --config is read first, flags override it.
ServerOptions parse_options(const std::vector<std::string>& args, size_t from,
                            std::vector<std::string>* positional,
                            std::vector<std::pair<std::string, std::string>>* extra_flags) {
  ServerOptions o;
  std::vector<std::pair<std::string, std::string>> flags;
  std::optional<std::string> config;
  for (size_t i = from; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) {
      if (!positional) throw Usage("unexpected argument '" + a + "'");
      positional->push_back(a);
      continue;
    }
    std::string key = a.substr(2);
    std::string value;
    if (const auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (key == "token" || key == "password-stdin" || key == "json") {
      if (!extra_flags) throw Usage("unknown flag '" + a + "'");
      extra_flags->emplace_back(key, "");
      continue;
    } else {
      if (i + 1 >= args.size()) throw Usage("flag '" + a + "' needs a value");
      value = args[++i];
    }
    if (key == "config") {
      config = value;
    } else if (is_option_key(key)) {
      flags.emplace_back(key, value);
    } else if (extra_flags && (key == "password" || key == "password-file")) {
      extra_flags->emplace_back(key, value);
    } else {
      throw Usage("unknown flag '--" + key + "'");
    }
  }
  if (config) load_config_file(*config, o);
  OptionSink sink(o);
  for (const auto& [k, v] : flags) {
    try {
      sink.apply(k, v);
    } catch (const ConfigError& e) {
      throw ConfigError("--" + std::string(e.what()));
    }
  }
  return o;
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

void apply_logging(const ServerOptions& o, const char* prog) {
  log::set_level(o.log_level);
  log::set_json(o.log_json);
  log::set_program(prog);
}

int cmd_run(const std::vector<std::string>& args, Roles roles, const char* prog) {
  ServerOptions o = parse_options(args, 1, nullptr, nullptr);
  apply_logging(o, prog);
  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // only sigwait() below receives them.
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  const std::optional<Endpoint> metrics = o.metrics;
  ServerApp app(std::move(o), roles);
  app.start();
  StatusServer status(app, prog, status_socket_path(app.options().state, prog), metrics);
  if (auto m = status.metrics_endpoint()) {
    std::printf("%s: metrics on http://%s/metrics\n", prog, m->to_string().c_str());
  }
  if (app.as()) {
    std::printf("%s: AS on %s (TLS 1.3); nodes pin the certificate %s\n", prog,
                app.as()->local_endpoint().to_string().c_str(),
                std::filesystem::absolute(app.tls_cert_path()).c_str());
  }
  if (app.dc())
    for (const auto& e : app.dc()->local_endpoints())
      std::printf("%s: DC on %s (UDP)\n", prog, e.to_string().c_str());
  if (app.rs())
    for (const auto& e : app.rs()->local_endpoints())
      std::printf("%s: RS on %s (UDP)\n", prog, e.to_string().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  NTM_LOG_INFO("%s: %s, shutting down", prog, sig == SIGTERM ? "SIGTERM" : "SIGINT");
  app.stop();
  return 0;
}

std::string read_password_stdin() {
  std::string pw;
  std::getline(std::cin, pw);
  if (!pw.empty() && pw.back() == '\r') pw.pop_back();
  return pw;
}

// The first line of FILE (without its line end): the password.
std::string read_password_file(const std::string& path) {
  std::string text = read_text_file(path);
  const auto end = text.find_first_of("\r\n");
  if (end != std::string::npos) text.resize(end);
  if (text.empty()) throw Usage("--password-file " + path + ": the first line is empty");
  return text;
}

// The password an option of `accounts add`/`accounts passwd` gives, if it is one of the three
// password options. --password is still accepted for scripts, with a warning: argv is visible to
// every user (ps, /proc) and kept in shell history.
std::optional<std::string> password_option(const char* prog, const std::string& key,
                                           const std::string& value) {
  if (key == "password-stdin") return read_password_stdin();
  if (key == "password-file") return read_password_file(value);
  if (key != "password") return std::nullopt;
  std::fprintf(stderr,
               "%s: warning: --password puts the password in the process list and shell "
               "history; prefer --password-stdin or --password-file FILE\n",
               prog);
  return value;
}

std::string format_time(uint64_t t) {
  if (t == 0) return "never";
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int cmd_policy(const std::vector<std::string>& args, const char* prog) {
  std::vector<std::string> pos;
  ServerOptions o = parse_options(args, 1, &pos, nullptr);
  if (pos.empty() || pos[0] != "check" || pos.size() > 2) throw Usage("policy: give check [FILE]");
  std::filesystem::path file = pos.size() == 2 ? std::filesystem::path(pos[1]) : policy_path(o);
  if (file.empty()) throw ConfigError("no policy file: give FILE, --policy FILE or --state DIR");
  std::ifstream in(file);
  if (!in) {
    std::printf("%s: no such file: every node may reach every port of every other\n",
                file.c_str());
    return 0;
  }
  const std::string text(std::istreambuf_iterator<char>(in), {});
  try {
    std::fputs(AccessPolicy::parse(text, file.string()).describe().c_str(), stdout);
  } catch (const PolicyError& e) {
    std::fprintf(stderr, "%s: %s\n", prog, e.what());
    return 1;
  }
  return 0;
}

int cmd_accounts(const std::vector<std::string>& args, const char* prog) {
  std::vector<std::string> pos;
  std::vector<std::pair<std::string, std::string>> extra;
  ServerOptions o = parse_options(args, 1, &pos, &extra);
  if (pos.empty()) throw Usage("accounts: give add, list, disable, enable, delete or passwd");
  if (o.state.empty() && o.database.empty())
    throw ConfigError("no state directory: give --state DIR, --database URL or --config FILE");
  apply_logging(o, prog);
  // The state directory creates its SQLite file private; a PostgreSQL database needs none.
  if (!o.state.empty()) StateDir state(o.state);
  SqlAccountStore store(sql::open(database_location(o)));
  const std::string& verb = pos[0];
  if (verb == "list") {
    if (pos.size() != 1) throw Usage("accounts list takes no name");
    const bool json = std::any_of(extra.begin(), extra.end(), [](const auto& f) { return f.first == "json"; });
    if (json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& a : store.list()) {
        rows.push_back({{"name", a.name},
                        {"node_id", [&] {
                           char id[17];
                           std::snprintf(id, sizeof(id), "%016llx",
                                         static_cast<unsigned long long>(a.node_id));
                           return std::string(id);
                         }()},
                        {"kind", a.kind == CredentialKind::password ? "password" : "token"},
                        {"token_used", a.token_used},
                        {"disabled", a.disabled},
                        {"last_login", a.last_login_unix == 0 ? nlohmann::json(nullptr)
                                                              : nlohmann::json(format_time(a.last_login_unix))},
                        {"static_key", a.static_public ? nlohmann::json(crypto::base64_encode(*a.static_public))
                                                       : nlohmann::json(nullptr)}});
      }
      std::printf("%s\n", rows.dump(2).c_str());
      return 0;
    }
    std::printf("%-24s %-16s %-8s %-9s %-20s %s\n", "NAME", "NODE_ID", "KIND", "STATE",
                "LAST_LOGIN", "STATIC_KEY");
    for (const auto& a : store.list()) {
      std::string kind = a.kind == CredentialKind::password ? "password"
                         : a.token_used                     ? "token*"
                                                            : "token";
      std::printf("%-24s %016llx %-8s %-9s %-20s %s\n", a.name.c_str(),
                  static_cast<unsigned long long>(a.node_id), kind.c_str(),
                  a.disabled ? "disabled" : "enabled", format_time(a.last_login_unix).c_str(),
                  a.static_public ? crypto::base64_encode(*a.static_public).c_str() : "-");
    }
    return 0;
  }
  if (pos.size() != 2) throw Usage("accounts " + verb + ": give exactly one account NAME");
  const std::string& name = pos[1];
  if (verb == "add") {
    std::optional<std::string> password;
    bool token = false;
    for (const auto& [k, v] : extra) {
      if (auto pw = password_option(prog, k, v)) password = std::move(pw);
      if (k == "token") token = true;
    }
    if (token == password.has_value())
      throw Usage("accounts add: give one of --password-stdin, --password-file FILE or --token");
    if (token) {
      auto [a, tok] = store.add_token_account(name);
      std::printf("added %s (node %016llx); one-time enrollment token: %s\n", a.name.c_str(),
                  static_cast<unsigned long long>(a.node_id), tok.c_str());
    } else {
      auto a = store.add_password_account(name, *password);
      std::printf("added %s (node %016llx)\n", a.name.c_str(),
                  static_cast<unsigned long long>(a.node_id));
    }
    return 0;
  }
  if (verb == "passwd") {
    std::optional<std::string> password;
    for (const auto& [k, v] : extra) {
      if (auto pw = password_option(prog, k, v)) password = std::move(pw);
      else throw Usage("accounts passwd: unexpected --" + k);
    }
    if (!password)
      throw Usage("accounts passwd: give one of --password-stdin or --password-file FILE");
    if (!store.set_password(name, *password)) {
      std::fprintf(stderr, "%s: no account named '%s'\n", prog, name.c_str());
      return 1;
    }
    std::printf("password of %s changed (a node logged in keeps its session; disable the "
                "account to cut it off)\n", name.c_str());
    return 0;
  }
  for (const auto& [k, v] : extra)
    if (k == "json") throw Usage("--json goes with accounts list");
  if (!extra.empty()) throw Usage("accounts " + verb + ": unexpected --" + extra[0].first);
  if (verb == "delete") {
    if (!store.remove(name)) {
      std::fprintf(stderr, "%s: no account named '%s'\n", prog, name.c_str());
      return 1;
    }
    std::printf("deleted %s (its node is revoked within seconds)\n", name.c_str());
    return 0;
  }
  if (verb == "disable" || verb == "enable") {
    if (!store.set_disabled(name, verb == "disable")) {
      std::fprintf(stderr, "%s: no account named '%s'\n", prog, name.c_str());
      return 1;
    }
    std::printf("%s %s%s\n", verb == "disable" ? "disabled" : "enabled", name.c_str(),
                verb == "disable" ? " (its node is revoked within seconds)" : "");
    return 0;
  }
  throw Usage("accounts: unknown command '" + verb +
              "' (add, list, disable, enable, delete, passwd)");
}

}  // namespace

int cmd_status(const std::vector<std::string>& args, const char* prog) {
  std::vector<std::pair<std::string, std::string>> extra;
  ServerOptions o = parse_options(args, 1, nullptr, &extra);
  if (o.state.empty()) throw ConfigError("no state directory: give --state DIR (or --config FILE)");
  bool json = false;
  for (const auto& [k, v] : extra) {
    if (k != "json") throw Usage("status: unexpected --" + k);
    json = true;
  }
  const auto doc = nlohmann::json::parse(fetch_status(status_socket_path(o.state, prog)));
  std::printf("%s", json ? (doc.dump(2) + "\n").c_str() : status_text(doc).c_str());
  return 0;
}

int cli_main(int argc, char** argv, Roles roles, const char* program) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    // Help wherever it is asked for ("ntm-server run --help" too), before any other parsing.
    const bool wants_help = std::any_of(args.begin(), args.end(), [](const std::string& a) {
      return a == "--help" || a == "-h";
    });
    if (args.empty() || args[0] == "help" || wants_help) {
      print_help(program, roles);
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version" || args[0] == "version") {
      std::printf("%s %s\n", program, NTM_SERVERS_VERSION);
      return 0;
    }
    if (args[0] == "run") return cmd_run(args, roles, program);
    if (args[0] == "status") return cmd_status(args, program);
    if (args[0] == "accounts" && (roles.as || roles.dc)) return cmd_accounts(args, program);
    if (args[0] == "policy" && roles.dc) return cmd_policy(args, program);
    throw Usage("unknown command '" + args[0] + "'");
  } catch (const Usage& e) {
    std::fprintf(stderr, "%s: %s (see '%s help')\n", program, e.what(), program);
    return 2;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s: configuration error: %s\n", program, e.what());
    return 2;
  } catch (const PolicyError& e) {
    std::fprintf(stderr, "%s: access policy: %s\n", program, e.what());
    return 2;
  } catch (const AccountError& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

}  // namespace ntm::servers
