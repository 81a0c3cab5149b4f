#include "common/config.h"

#include <algorithm>
#include <charconv>
#include <fstream>

#include "common/state_dir.h"
#include "store/account_store.h"
#include "util/resolve.h"

namespace ntm::servers {

namespace {

constexpr std::string_view kKeys[] = {"state",      "domain",    "listen-as",        "listen-dc",
                                      "listen-rs",  "dc-public", "relay",            "keepalive",
                                      "session-lifetime", "pool-v4", "pool-v6",     "log-level",
                                      "log-format", "metrics", "policy",    "database", "rs-threads"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_commas(std::string_view v) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = v.find(',', start);
    out.push_back(trim(v.substr(start, at == std::string_view::npos ? v.npos : at - start)));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

template <class T>
T parse_number(std::string_view key, std::string_view v, T min, T max) {
  T out{};
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty() || out < min || out > max)
    throw ConfigError(std::string(key) + ": '" + std::string(v) + "' is not a number in " +
                      std::to_string(min) + ".." + std::to_string(max));
  return out;
}

}  // namespace

bool is_option_key(std::string_view key) {
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

std::optional<log::Level> parse_log_level(std::string_view t) {
  if (t == "off") return log::Level::off;
  if (t == "error") return log::Level::error;
  if (t == "warn") return log::Level::warn;
  if (t == "info") return log::Level::info;
  if (t == "debug") return log::Level::debug;
  return std::nullopt;
}

Endpoint parse_endpoint(std::string_view text, std::string_view what) {
  auto e = Endpoint::parse(text);
  if (!e)
    throw ConfigError(std::string(what) + ": '" + std::string(text) +
                      "' is not an address with a port (1.2.3.4:7801 or [2001:db8::1]:7801)");
  return *e;
}

std::vector<Endpoint> parse_endpoints(std::string_view text, std::string_view what) {
  std::string error;
  auto out = resolve_host_port(text, &error);
  if (out.empty()) throw ConfigError(std::string(what) + ": " + error);
  return out;
}

bool is_wildcard(const Endpoint& e) {
  return std::all_of(e.address.begin(), e.address.begin() + (e.is_v4() ? 4 : 16),
                     [](uint8_t b) { return b == 0; });
}

void OptionSink::apply(std::string_view key, std::string_view value) {
  value = trim(value);
  if (!is_option_key(key)) throw ConfigError("unknown option '" + std::string(key) + "'");
  if (value.empty()) throw ConfigError(std::string(key) + ": missing value");
  const std::string k(key);
  const bool first_in_source =
      std::find(lists_seen_.begin(), lists_seen_.end(), k) == lists_seen_.end();
  if (first_in_source) lists_seen_.push_back(k);

  auto endpoints = [&](std::vector<Endpoint>& list) {
    if (first_in_source) list.clear();
    for (auto part : split_commas(value))
      for (const auto& e : parse_endpoints(part, key)) list.push_back(e);
  };

  if (key == "state") {
    options_.state = std::string(value);
  } else if (key == "domain") {
    options_.domain = std::string(value);
  } else if (key == "listen-as") {
    endpoints(options_.listen_as);
  } else if (key == "listen-dc") {
    endpoints(options_.listen_dc);
  } else if (key == "listen-rs") {
    endpoints(options_.listen_rs);
  } else if (key == "dc-public") {
    endpoints(options_.dc_public);
  } else if (key == "relay") {
    if (first_in_source) options_.relays.clear();
    std::vector<Endpoint> rs;
    for (auto part : split_commas(value))
      for (const auto& e : parse_endpoints(part, key)) rs.push_back(e);
    options_.relays.push_back(std::move(rs));
  } else if (key == "keepalive") {
    options_.keepalive_s = parse_number<uint16_t>(key, value, 1, 3600);
  } else if (key == "rs-threads") {
    options_.rs_threads = value == "auto" ? 0u : parse_number<unsigned>(key, value, 1, 16);
  } else if (key == "session-lifetime") {
    options_.session_lifetime_s = parse_number<uint64_t>(key, value, 60, uint64_t{10} * 365 * 86400);
  } else if (key == "pool-v4") {
    try {
      options_.pools.set_v4(value);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string(key) + ": " + e.what());
    }
  } else if (key == "pool-v6") {
    try {
      options_.pools.set_v6(value);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string(key) + ": " + e.what());
    }
  } else if (key == "log-level") {
    auto l = parse_log_level(value);
    if (!l)
      throw ConfigError("log-level: '" + std::string(value) +
                        "' is not one of off, error, warn, info, debug");
    options_.log_level = *l;
  } else if (key == "log-format") {
    if (value != "text" && value != "json")
      throw ConfigError("log-format: '" + std::string(value) + "' is not text or json");
    options_.log_json = value == "json";
  } else if (key == "policy") {
    options_.policy = std::string(value);
  } else if (key == "database") {
    if (value.empty())
      throw ConfigError("database: give postgresql://... or the path of a SQLite file");
    options_.database = std::string(value);
  } else if (key == "metrics") {
    if (value == "off") {
      options_.metrics.reset();
    } else {
      const auto e = parse_endpoints(value, key);
      options_.metrics = e.front();
    }
  }
}

void load_config_file(const std::filesystem::path& path, ServerOptions& options) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file " + path.string());
  load_config_stream(in, path.string(), options);
}

void load_config_stream(std::istream& in, const std::string& source, ServerOptions& options) {
  OptionSink sink(options);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = source + ":" + std::to_string(number) + ": ";
    std::string_view l = trim(line);
    if (l.empty() || l.front() == '#') continue;
    const size_t eq = l.find('=');
    if (eq == std::string_view::npos)
      throw ConfigError(where + "expected 'key = value', got '" + std::string(l) + "'");
    const std::string_view key = trim(l.substr(0, eq));
    const std::string_view value = trim(l.substr(eq + 1));
    if (key.empty()) throw ConfigError(where + "missing key before '='");
    try {
      sink.apply(key, value);
    } catch (const ConfigError& e) {
      throw ConfigError(where + e.what());
    }
  }
}

std::string database_location(const ServerOptions& options) {
  if (!options.database.empty()) return options.database;
  return (options.state / kDatabaseFile).string();
}

void validate(const ServerOptions& o) {
  if (o.state.empty()) throw ConfigError("no state directory: give --state DIR (or state = DIR)");
  // The domain: DNS labels separated by dots.
  if (o.domain.empty() || o.domain.size() > 190 || o.domain.front() == '.' ||
      o.domain.back() == '.')
    throw ConfigError("domain: '" + o.domain + "' is not a domain name");
  size_t start = 0;
  while (start <= o.domain.size()) {
    const size_t dot = o.domain.find('.', start);
    const std::string label = o.domain.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!valid_account_name(label))
      throw ConfigError("domain: '" + o.domain + "' is not a lower-case domain name");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  auto one_per_family = [](const std::vector<Endpoint>& v, const char* what) {
    int v4 = 0, v6 = 0;
    for (const auto& e : v) (e.is_v4() ? v4 : v6)++;
    if (v4 > 1 || v6 > 1)
      throw ConfigError(std::string(what) + ": at most one IPv4 and one IPv6 address");
    if (v.empty()) throw ConfigError(std::string(what) + ": no address");
  };
  one_per_family(o.listen_as, "listen-as");
  one_per_family(o.listen_dc, "listen-dc");
  one_per_family(o.listen_rs, "listen-rs");
}

}  // namespace ntm::servers
