// The servers put together from ServerOptions: any of AS, DC and RS in one process sharing one
// state directory (keys, and SQLite unless `database` names a PostgreSQL database). The all-in-one `ntm-server` runs all three; `ntm-as`,
// `ntm-dc` and `ntm-rs` run one each (split deployments share keys through the state
// directory's files). Tests embed a ServerApp on loopback (port 0 picks free ports).
#pragma once

#include <memory>
#include <string>

#include "as/account_server.h"
#include "common/config.h"
#include "common/state_dir.h"
#include "dc/direction_coordinator.h"
#include "rs/relay_server.h"
#include "store/sql_account_store.h"
#include "store/sql_address_store.h"

namespace ntm::servers {

struct Roles {
  bool as = true;
  bool dc = true;
  bool rs = true;
};

class ServerApp {
 public:
  // Validates the options, opens the state directory (creating keys and the TLS identity as
  // needed) and the database. Throws ConfigError / StateError / sql::Error with a clear
  // message. `password_cost` is the cost of new password hashes (tests lower it).
  ServerApp(ServerOptions options, Roles roles, PasswordCost password_cost = {});
  ~ServerApp();

  // Starts RS, then DC (given the RS addresses), then AS (given the DC addresses).
  void start();
  void stop();

  const ServerOptions& options() const { return options_; }
  const StateDir& state() const { return state_; }
  std::filesystem::path tls_cert_path() const { return state_.file(kTlsCertFile); }
  AccountStore& accounts() { return *accounts_; }

  AccountServer* as() { return as_.get(); }  // the first of the AS sockets
  std::vector<AccountServer*> account_servers();  // all of them (one per listen-as address)
  DirectionCoordinator* dc() { return dc_.get(); }
  RelayServer* rs() { return rs_.get(); }
  // Where nodes reach each server (after start()).
  std::vector<Endpoint> dc_endpoints() const;
  std::vector<std::vector<Endpoint>> relay_endpoints() const;

 private:
  void start_account_server(size_t index);

  ServerOptions options_;
  Roles roles_;
  StateDir state_;
  std::unique_ptr<SqlAccountStore> accounts_;
  std::unique_ptr<SqlAddressStore> addresses_;
  std::unique_ptr<RelayServer> rs_;
  std::unique_ptr<DirectionCoordinator> dc_;
  std::unique_ptr<AccountServer> as_;                     // on the first listen-as address
  std::vector<std::unique_ptr<AccountServer>> more_as_;  // on the others (other families)
};

// The command line shared by ntm-server, ntm-as, ntm-dc and ntm-rs:
//   PROG run [--config FILE] [--state DIR] [--OPTION VALUE]...
//   PROG accounts add NAME (--password PW | --password-stdin | --token) [--state DIR | --config FILE]
//   PROG accounts list|disable NAME|enable NAME [--state DIR | --config FILE]
//   PROG help
// Returns the process exit code: 0 ok, 1 runtime failure, 2 bad usage or configuration.
// `run` blocks until SIGTERM or SIGINT.
int cli_main(int argc, char** argv, Roles roles, const char* program);

}  // namespace ntm::servers
