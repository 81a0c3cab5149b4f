// Server options: one struct filled from a config file (`key = value` lines) and command-line
// flags (`--key value`, the same names). Parsing is strict: an unknown key, a missing value or a
// malformed address is an error naming the line (file) or the flag.
//
// Keys (repeatable ones accumulate; a comma also separates values):
//   state DIR                 state directory (database and keys)               required
//   domain NAME               FQDN suffix: nodes are <account>.<domain>          default "ntm"
//   listen-as ADDR:PORT       AS (TLS over TCP)                                  127.0.0.1:7800
//   listen-dc ADDR:PORT       DC (UDP); repeatable (one IPv4, one IPv6)         127.0.0.1:7801
//   listen-rs ADDR:PORT       RS (UDP); repeatable (one IPv4, one IPv6)         127.0.0.1:7802
//   dc-public ADDR:PORT       DC address given to nodes; repeatable   default: the DC's bound addresses
//   relay ADDR:PORT[,ADDR:PORT]  one RS (its IPv4 and/or IPv6 address); repeatable
//                             default (all-in-one): the RS's bound addresses
//   rs-threads N|auto         RS forwarding threads, 1..16; auto: one per core   1
//   keepalive SECONDS         node -> DC keepalive interval                     20
//   session-lifetime SECONDS  certificate/ticket lifetime                       86400
//   pool-v4 CIDR              virtual IPv4 pool                                 100.64.0.0/10
//   pool-v6 CIDR              virtual IPv6 pool                                 fd00:6e74:6d::/48
//   log-level LEVEL           off, error, warn, info, debug                     warn
//   log-format FORMAT         text (timestamped lines) or json (one object a line)  text
//   metrics ADDR:PORT         Prometheus text endpoint (HTTP GET /metrics); `off`   off
//   policy FILE               access policy between nodes (dc/access_policy.h)  <state>/policy
//   database URL|PATH         accounts and addresses: postgresql://USER@HOST:PORT/DB (libpq URI;
//                             password from ~/.pgpass or PGPASSWORD rather than the URI), or a
//                             SQLite file                                        <state>/ntm.db
// Addresses may be host names ("dc.example.net:7801"), resolved once when the options are read,
// to each of their IPv4 and IPv6 addresses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/address_store.h"
#include "util/endpoint.h"
#include "util/log.h"

namespace ntm::servers {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerOptions {
  std::filesystem::path state;
  std::string domain = "ntm";
  // One AS socket per address (at most one IPv4 and one IPv6), so IPv6-only nodes can log in.
  std::vector<Endpoint> listen_as{Endpoint::v4({127, 0, 0, 1}, 7800)};
  std::vector<Endpoint> listen_dc{Endpoint::v4({127, 0, 0, 1}, 7801)};
  std::vector<Endpoint> listen_rs{Endpoint::v4({127, 0, 0, 1}, 7802)};
  std::vector<Endpoint> dc_public;                 // empty: derived
  std::vector<std::vector<Endpoint>> relays;       // empty: derived (all-in-one) or none
  unsigned rs_threads = 1;  // 0: one per core (RelayServerConfig::threads)
  uint16_t keepalive_s = 20;
  uint64_t session_lifetime_s = 86400;
  AddressPools pools;
  log::Level log_level = log::Level::warn;
  bool log_json = false;
  std::optional<Endpoint> metrics;  // nullopt: no metrics endpoint
  std::filesystem::path policy;     // empty: <state>/policy
  std::string database;             // empty: the state directory's SQLite file
};

// Where the AS and DC keep their state: `options.database`, or else `<state>/ntm.db`.
std::string database_location(const ServerOptions& options);

// True for the option names above.
bool is_option_key(std::string_view key);

// Applies one option. `explicit_lists` tracks which list options were already set from this
// source, so the first value from a new source replaces the defaults (or the config file's
// values) and later ones accumulate. Throws ConfigError with a message (no location).
class OptionSink {
 public:
  explicit OptionSink(ServerOptions& options) : options_(options) {}
  void apply(std::string_view key, std::string_view value);

 private:
  ServerOptions& options_;
  std::vector<std::string> lists_seen_;
};

// Reads a config file into `options`. Blank lines and lines starting with '#' are ignored.
// Throws ConfigError("FILE:LINE: ...") naming the offending line.
void load_config_file(const std::filesystem::path& path, ServerOptions& options);
// The same over any stream (the fuzz target feeds it text); `source` names it in errors.
void load_config_stream(std::istream& in, const std::string& source, ServerOptions& options);

// Checks the combination (state present, domain valid, ...). Throws ConfigError.
void validate(const ServerOptions& options);

// "debug" -> Level::debug. nullopt for anything else.
std::optional<log::Level> parse_log_level(std::string_view text);

// Parses "ADDR:PORT" / "[V6]:PORT". Throws ConfigError naming `what`.
Endpoint parse_endpoint(std::string_view text, std::string_view what);
// Like parse_endpoint(), and also "HOST:PORT" with a host name, resolved now to each of its
// addresses. Throws ConfigError naming `what`.
std::vector<Endpoint> parse_endpoints(std::string_view text, std::string_view what);

// True for 0.0.0.0 and ::.
bool is_wildcard(const Endpoint& e);

}  // namespace ntm::servers
