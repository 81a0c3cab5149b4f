// `ntm up` configuration: one struct filled from a config file and from command-line flags of
// the same names (flags win for single values; lists add up). The file has `key = value` lines,
// `forward ...` / `expose ...` rule lines (rules.h) and `#` comments. docs/ntm.md describes
// every key.
#pragma once

#include <ntm.h>

#include <filesystem>
#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules.h"

namespace ntm::cli {

struct UpConfig {
  // Static-peer mode.
  std::string name, private_key, key_file, vip4, vip6;
  std::vector<std::string> peers;  // NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6
  // Control-plane mode.
  std::string server, server_cert, account, password, password_file, state_dir;
  unsigned direct_timeout_ms = 0, start_timeout_ms = 0;
  // Both.
  std::vector<std::string> listen;  // real UDP addresses of the tunnel sockets
  std::string cipher = "aes";
  unsigned mtu = 0;
  unsigned idle_timeout_ms = 0;
  unsigned keepalive_interval_ms = 0;  // 0: the library's default
  std::string log_level = "info";
  std::string log_format = "text";
  std::string control_socket;  // empty: the default path (default_control_socket())
  // Services on real local addresses.
  std::string socks5, http_proxy, dns;
  unsigned max_connections = 4096;  // proxied TCP connections at once, all services together
  std::vector<Rule> rules;
};

// Applies `key = value` (a flag or a config line; rules use the keys "forward" and "expose").
// Throws ConfigError.
void apply_setting(UpConfig& config, std::string_view key, std::string_view value);
// True for every key apply_setting() knows.
bool is_setting(std::string_view key);

// Reads a config file into `config`. Throws ConfigError("FILE:LINE: ...").
void load_config_file(const std::filesystem::path& path, UpConfig& config);
// The same over any stream (the fuzz target feeds it text); `source` names it in errors.
void load_config_stream(std::istream& in, const std::string& source, UpConfig& config);

// Checks the combination (a mode chosen, required values present). Throws ConfigError.
void validate(const UpConfig& config);

// Where `ntm up` serves, and `ntm status` looks for, the control API by default:
// $NTM_CONTROL_SOCKET, else $XDG_RUNTIME_DIR/ntm.sock, else /run/ntm/ntm.sock for root and
// /tmp/ntm-UID/ntm.sock for others.
std::string default_control_socket();

// ntm_options and the strings and peer array it points into.
class NodeOptions {
 public:
  explicit NodeOptions(const UpConfig& config);  // throws ConfigError
  const ntm_options* get() const { return &options_; }

 private:
  const char* keep(std::string text);
  ntm_options options_{};
  std::vector<std::unique_ptr<std::string>> strings_;
  std::vector<ntm_static_peer> peers_;
};

}  // namespace ntm::cli
