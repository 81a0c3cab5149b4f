#include "config.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ntm::cli {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

unsigned parse_unsigned(std::string_view key, std::string_view v, unsigned max) {
  unsigned out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || out > max) {
    throw ConfigError(std::string(key) + ": '" + std::string(v) + "' is not a number in 0.." +
                      std::to_string(max));
  }
  return out;
}

std::string read_file_text(const std::string& path, std::string_view what) {
  std::ifstream in(path);
  if (!in) throw ConfigError(std::string(what) + ": cannot read '" + path + "'");
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

constexpr std::string_view kKeys[] = {
    "name", "key", "key-file", "vip4", "vip6", "peer", "server", "server-cert", "account",
    "password", "password-file", "state", "direct-timeout", "start-timeout", "listen", "cipher",
    "mtu", "idle-timeout", "keepalive-interval", "log-level", "log-format", "control-socket", "socks5", "http-proxy",
    "dns", "max-connections", "forward", "expose"};

}  // namespace

bool is_setting(std::string_view key) {
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

void apply_setting(UpConfig& c, std::string_view key, std::string_view raw) {
  const std::string v(trim(raw));
  if (key == "name") c.name = v;
  else if (key == "key") c.private_key = v;
  else if (key == "key-file") c.key_file = v;
  else if (key == "vip4") c.vip4 = v;
  else if (key == "vip6") c.vip6 = v;
  else if (key == "peer") c.peers.push_back(v);
  else if (key == "server") c.server = v;
  else if (key == "server-cert") c.server_cert = v;
  else if (key == "account") c.account = v;
  else if (key == "password") c.password = v;
  else if (key == "password-file") c.password_file = v;
  else if (key == "state") c.state_dir = v;
  else if (key == "direct-timeout") c.direct_timeout_ms = parse_unsigned(key, v, 600000);
  else if (key == "start-timeout") c.start_timeout_ms = parse_unsigned(key, v, 3600000);
  else if (key == "listen") c.listen.push_back(v);
  else if (key == "cipher") {
    if (v != "aes" && v != "chacha") throw ConfigError("cipher: '" + v + "' is not aes or chacha");
    c.cipher = v;
  } else if (key == "mtu") c.mtu = parse_unsigned(key, v, 65535);
  else if (key == "idle-timeout") c.idle_timeout_ms = parse_unsigned(key, v, 86400000);
  else if (key == "keepalive-interval") c.keepalive_interval_ms = parse_unsigned(key, v, 86400000);
  else if (key == "log-level") {
    if (v != "error" && v != "warn" && v != "info" && v != "debug")
      throw ConfigError("log-level: '" + v + "' is not error, warn, info or debug");
    c.log_level = v;
  } else if (key == "log-format") {
    if (v != "text" && v != "json") throw ConfigError("log-format: '" + v + "' is not text or json");
    c.log_format = v;
  } else if (key == "control-socket") c.control_socket = v;
  else if (key == "socks5") c.socks5 = v;
  else if (key == "http-proxy") c.http_proxy = v;
  else if (key == "dns") c.dns = v;
  else if (key == "max-connections") c.max_connections = parse_unsigned(key, v, 1000000);
  else if (key == "forward") c.rules.push_back(parse_rule(Rule::Kind::forward, v));
  else if (key == "expose") c.rules.push_back(parse_rule(Rule::Kind::expose, v));
  else throw ConfigError("unknown setting '" + std::string(key) + "'");
  // Addresses of services are checked now, so a typo fails at start, not at first use.
  if (key == "socks5" || key == "http-proxy" || key == "dns") {
    if (!v.empty() && v != "off") parse_host_port(v, key);
  }
}

void load_config_file(const std::filesystem::path& path, UpConfig& config) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path.string() + "'");
  load_config_stream(in, path.string(), config);
}

void load_config_stream(std::istream& in, const std::string& source, UpConfig& config) {
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = source + ":" + std::to_string(number) + ": ";
    std::string_view text = trim(line);
    if (text.empty() || text.front() == '#') continue;
    try {
      // Rule lines: "forward ..." / "expose ..."; the rest: "key = value".
      for (std::string_view kw : {"forward", "expose"}) {
        if (text.substr(0, kw.size()) == kw && text.size() > kw.size() &&
            (text[kw.size()] == ' ' || text[kw.size()] == '\t')) {
          apply_setting(config, kw, text.substr(kw.size()));
          text = {};
          break;
        }
      }
      if (text.empty()) continue;
      const size_t eq = text.find('=');
      if (eq == std::string_view::npos) {
        throw ConfigError("expected 'key = value', 'forward ...' or 'expose ...'");
      }
      const std::string_view key = trim(text.substr(0, eq));
      if (!is_setting(key)) throw ConfigError("unknown key '" + std::string(key) + "'");
      apply_setting(config, key, text.substr(eq + 1));
    } catch (const ConfigError& e) {
      throw ConfigError(where + e.what());
    }
  }
}

void validate(const UpConfig& c) {
  if (!c.server.empty()) {
    if (c.server_cert.empty()) throw ConfigError("server: also give server-cert (the AS certificate to pin)");
    if (c.account.empty()) throw ConfigError("server: also give account");
    if (c.password.empty() && c.password_file.empty())
      throw ConfigError("server: also give password or password-file");
    if (!c.name.empty() || !c.vip4.empty() || !c.vip6.empty())
      throw ConfigError("name, vip4 and vip6 come from the servers in control-plane mode; remove them");
  } else {
    if (c.name.empty()) throw ConfigError("give server (control-plane mode) or name (static-peer mode)");
    if (c.private_key.empty() && c.key_file.empty())
      throw ConfigError("static-peer mode needs key or key-file (make one with 'ntm keygen')");
    if (c.vip4.empty() && c.vip6.empty()) throw ConfigError("static-peer mode needs vip4 or vip6");
  }
}

std::string default_control_socket() {
  if (const char* env = std::getenv("NTM_CONTROL_SOCKET"); env && *env) return env;
  if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run) return std::string(run) + "/ntm.sock";
  if (::geteuid() == 0) return "/run/ntm/ntm.sock";
  return "/tmp/ntm-" + std::to_string(::geteuid()) + "/ntm.sock";
}

const char* NodeOptions::keep(std::string text) {
  strings_.push_back(std::make_unique<std::string>(std::move(text)));
  return strings_.back()->c_str();
}

NodeOptions::NodeOptions(const UpConfig& c) {
  ntm_options_init(&options_, NTM_OPTIONS_VERSION);
  auto opt = [&](const std::string& s) -> const char* { return s.empty() ? nullptr : keep(s); };
  options_.name = opt(c.name);
  options_.private_key = c.key_file.empty() ? opt(c.private_key) : keep(read_file_text(c.key_file, "key-file"));
  options_.virtual_ipv4 = opt(c.vip4);
  options_.virtual_ipv6 = opt(c.vip6);
  if (!c.listen.empty()) {
    // Listing addresses disables the families not listed (no wildcard bind by surprise).
    options_.listen_ipv4 = "";
    options_.listen_ipv6 = "";
    for (const auto& l : c.listen) {
      (l.starts_with("[") ? options_.listen_ipv6 : options_.listen_ipv4) = keep(l);
    }
  }
  for (const auto& spec : c.peers) {
    std::vector<std::string> fields;
    size_t start = 0;
    for (;;) {
      const size_t comma = spec.find(',', start);
      fields.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (fields.size() != 5) {
      throw ConfigError("peer '" + spec + "': expected NAME,PUBLIC_KEY,ENDPOINT,VIP4,VIP6 (empty fields allowed)");
    }
    ntm_static_peer p;
    ntm_static_peer_init(&p, NTM_STATIC_PEER_VERSION);
    p.name = opt(fields[0]);
    p.public_key = opt(fields[1]);
    p.endpoint = opt(fields[2]);
    p.virtual_ipv4 = opt(fields[3]);
    p.virtual_ipv6 = opt(fields[4]);
    peers_.push_back(p);
  }
  options_.peers = peers_.empty() ? nullptr : peers_.data();
  options_.peer_count = peers_.size();
  options_.cipher = c.cipher == "chacha" ? NTM_CIPHER_CHACHA20_POLY1305 : NTM_CIPHER_AES_256_GCM;
  options_.mtu = c.mtu;
  options_.idle_timeout_ms = c.idle_timeout_ms;
  options_.keepalive_interval_ms = c.keepalive_interval_ms;
  options_.log_level = c.log_level == "debug"  ? NTM_LOG_DEBUG
                       : c.log_level == "info" ? NTM_LOG_INFO
                       : c.log_level == "warn" ? NTM_LOG_WARN
                                               : NTM_LOG_ERROR;
  options_.server = opt(c.server);
  options_.server_certificate = opt(c.server_cert);
  options_.account = opt(c.account);
  options_.password = c.password_file.empty() ? opt(c.password)
                                              : keep(read_file_text(c.password_file, "password-file"));
  options_.state_dir = opt(c.state_dir);
  options_.direct_timeout_ms = c.direct_timeout_ms;
  options_.start_timeout_ms = c.start_timeout_ms;
  options_.control_socket = keep(c.control_socket.empty() ? default_control_socket() : c.control_socket);
}

}  // namespace ntm::cli
