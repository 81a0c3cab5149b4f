// An Account Server embedded on loopback for the server tests: a temporary state directory with
// its own TLS identity, signing and ticket keys, and a SQLite account store at the test password
// cost. `tune` adjusts the configuration before the server starts.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "as/account_server.h"
#include "as/tls.h"
#include "common/state_dir.h"
#include "store/sqlite_account_store.h"
#include "test_client.h"

namespace ntm::test {

struct AsUnderTest {
  TempDir dir;
  servers::StateDir state{dir.path / "state"};
  servers::SqliteAccountStore accounts{state.database_path(), servers::kTestPasswordCost};
  control::Key32 ticket_key = state.load_or_create_key(servers::kTicketKeyFile);
  crypto::Ed25519PrivateKey sign_key = state.load_or_create_signing_key();
  std::unique_ptr<servers::AccountServer> server;

  explicit AsUnderTest(const std::function<void(servers::AccountServerConfig&)>& tune = {}) {
    servers::tls::ensure_identity(certificate(), state.file(servers::kTlsKeyFile), "as.example");
    servers::AccountServerConfig c;
    c.listen = Endpoint::v4({127, 0, 0, 1}, 0);
    c.domain = "example";
    c.tls_cert = certificate();
    c.tls_key = state.file(servers::kTlsKeyFile);
    c.sign_key = sign_key;
    c.ticket_key = ticket_key;
    c.dc_endpoints = {Endpoint::v4({127, 0, 0, 1}, 7801)};
    if (tune) tune(c);
    server = std::make_unique<servers::AccountServer>(std::move(c), accounts);
    server->start();
  }

  // The AS's certificate (PEM), the one a node pins.
  std::filesystem::path certificate() const { return state.file(servers::kTlsCertFile); }

  LoginResult login(const std::string& account, const std::string& secret,
                    uint8_t key_seed = 1) {
    return tls_login(server->local_endpoint(), certificate(),
                     {account, secret, fake_static_key(key_seed)});
  }
};

}  // namespace ntm::test
