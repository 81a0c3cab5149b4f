// ntm: a node for unmodified programs, and a window into a running node.
//   ntm up [--config FILE] [--KEY VALUE]...   run a node (forwards, proxies, DNS) in the foreground
//   ntm status | peers | ping NAME | netcheck  inspect the running node (--json for machines)
//   ntm keygen                                 a static-peer key pair
//   ntm --version
#include <ntm.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>

#include "config.h"
#include "inspect.h"
#include "up.h"

namespace {

constexpr const char* kProgramVersion = NTM_CLI_VERSION;

// Every `ntm up` setting as a --flag of the same name (docs/ntm.md lists them).
struct UpFlags {
  std::string config;
  std::map<std::string, std::vector<std::string>> values;
};

void add_up_flags(CLI::App& up, UpFlags& flags) {
  up.add_option("-c,--config", flags.config, "config file (key = value lines, forward/expose rules)");
  const std::pair<const char*, const char*> keys[] = {
      {"name", "static-peer mode: this node's name (FQDN)"},
      {"key", "static-peer mode: private key (base64; see 'ntm keygen')"},
      {"key-file", "file holding the private key"},
      {"vip4", "static-peer mode: virtual IPv4 address"},
      {"vip6", "static-peer mode: virtual IPv6 address"},
      {"peer", "static peer NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6 (repeatable)"},
      {"server", "control-plane mode: the Account Server HOST:PORT"},
      {"server-cert", "the AS certificate to pin (PEM file)"},
      {"account", "account name at the AS"},
      {"password", "account password or enrollment token"},
      {"password-file", "file holding the password"},
      {"state", "directory keeping the node's key across restarts"},
      {"direct-timeout", "ms of hole punching before a relay is used"},
      {"start-timeout", "ms start-up keeps retrying a silent AS/DC"},
      {"listen", "real UDP address of the tunnels, HOST:PORT (repeatable: one IPv4, one IPv6)"},
      {"cipher", "aes (default) or chacha"},
      {"mtu", "virtual MTU"},
      {"idle-timeout", "ms before idle tunnels are dropped"},
      {"keepalive-interval", "ms between keepalives on quiet tunnels (NAT mappings)"},
      {"log-level", "error, warn, info (default), debug"},
      {"log-format", "text (default) or json"},
      {"control-socket", "path of the control API socket"},
      {"socks5", "SOCKS5 proxy address, e.g. 127.0.0.1:1080"},
      {"http-proxy", "HTTP proxy address, e.g. 127.0.0.1:8080"},
      {"dns", "DNS responder address, e.g. 127.0.0.1:5353"},
      {"max-connections", "proxied TCP connections at once (default 4096)"},
      {"forward", "'[tcp|udp] LISTEN_ADDR:PORT -> PEER:PORT' (repeatable)"},
      {"expose", "'[tcp|udp] VIRTUAL_PORT -> ADDR:PORT' (repeatable)"}};
  for (const auto& [key, help] : keys) {
    up.add_option(std::string("--") + key, flags.values[key], help)->take_all();
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ntm: a node of the ntmobile virtual network for unmodified programs"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ntm ") + kProgramVersion + " (libntm " + ntm_version() + ")");
  std::string socket_path;
  bool json = false;

  auto* up = app.add_subcommand("up", "run a node in the foreground (forwards, proxies, DNS)");
  UpFlags up_flags;
  add_up_flags(*up, up_flags);

  auto add_inspect = [&](const char* name, const char* help) {
    auto* cmd = app.add_subcommand(name, help);
    cmd->add_option("--socket", socket_path, "control API socket of the node (default: as ntm up)");
    cmd->add_flag("--json", json, "print JSON");
    return cmd;
  };
  auto* status = add_inspect("status", "the node, its tunnels and counters");
  auto* peers = add_inspect("peers", "the tunnel table");
  auto* ping = add_inspect("ping", "tunnel round-trip time and path to a peer");
  std::string ping_peer;
  int ping_count = 4;
  int ping_interval_ms = 1000;
  int ping_timeout_ms = 3000;
  ping->add_option("peer", ping_peer, "peer name or virtual address")->required();
  ping->add_option("-c,--count", ping_count, "pings to send (default 4)")->check(CLI::Range(1, 1000));
  ping->add_option("-i,--interval", ping_interval_ms, "ms between pings (default 1000)")->check(CLI::Range(0, 60000));
  ping->add_option("-W,--timeout", ping_timeout_ms, "ms to wait for each answer (default 3000)")->check(CLI::Range(1, 60000));
  auto* netcheck = add_inspect("netcheck", "reachability of the node's AS, DC and RS per family, NAT "
                                           "mapping behaviour, path MTU");
  auto* keygen = app.add_subcommand("keygen", "print a new private key and its public key");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (*keygen) {
    char priv[NTM_KEY_TEXT_SIZE], pub[NTM_KEY_TEXT_SIZE];
    if (ntm_keypair_generate(priv, pub) != NTM_OK) {
      std::fprintf(stderr, "ntm: keygen: %s\n", ntm_last_error());
      return 1;
    }
    std::printf("private_key %s\npublic_key  %s\n", priv, pub);
    return 0;
  }
  if (*up) {
    std::vector<std::pair<std::string, std::string>> flags;
    for (const auto& [key, values] : up_flags.values)
      for (const auto& v : values) flags.emplace_back(key, v);
    ntm::cli::Daemon daemon(up_flags.config, std::move(flags));
    return daemon.run();
  }
  const std::string path = socket_path.empty() ? ntm::cli::default_control_socket() : socket_path;
  if (*status) return ntm::cli::cmd_status(path, json);
  if (*peers) return ntm::cli::cmd_peers(path, json);
  if (*netcheck) return ntm::cli::cmd_netcheck(path, json);
  if (*ping) return ntm::cli::cmd_ping(path, ping_peer, ping_count, ping_interval_ms, ping_timeout_ms, json);
  return 2;
}
