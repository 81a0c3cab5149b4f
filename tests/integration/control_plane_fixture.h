// control_plane_fixture.h - the servers (AS + DC + RS, a ServerApp) embedded in a test process
// on 127.0.0.1 with free ports and a temporary state directory, accounts alice and bob, and the
// helpers that start node processes against them. Shared by control_plane_tests.cc and
// field_tests.cc (one translation unit each).
#pragma once

#include <catch2/catch.hpp>

#include "aio/server_app.h"
#include "child_process.h"
#include "report_fields.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ntm_test {

using ntm::Endpoint;
using std::chrono::seconds;
namespace servers = ntm::servers;
namespace fs = std::filesystem;
using ntm::test::Fields;
using ntm::test::parse;

inline constexpr const char *kDomain = "example";
inline constexpr const char *kAlicePassword = "alice-pw";
inline constexpr const char *kBobPassword = "bob-pw";
constexpr uint64_t kTransfer = 4u << 20;  // 4 MiB each way
// Tests lower the password KDF cost (the servers' tests do the same).
inline constexpr servers::PasswordCost kFastScrypt = servers::kTestPasswordCost;

inline std::vector<std::string> operator+(std::vector<std::string> a,
                                          const std::vector<std::string> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- the embedded servers ----

// A temporary directory, removed (with everything in it) when destroyed.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ntm-cp-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(strerror(errno)));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  fs::path path;
};

// AS + DC + RS on 127.0.0.1 (free ports), state in a temporary directory, accounts alice and bob.
class ControlPlane {
 public:
  // `cost`: of password hashes the servers write (tests lower it; the burst test does not).
  explicit ControlPlane(const std::function<void(servers::ServerOptions &)> &tweak = {},
                        servers::PasswordCost cost = kFastScrypt)
      : cost_(cost) {
    servers::ServerOptions o;
    o.state = dir_.path / "server-state";
    o.domain = kDomain;
    const Endpoint loopback = Endpoint::v4({127, 0, 0, 1}, 0);
    o.listen_as = {loopback};
    o.listen_dc = {loopback};
    o.listen_rs = {loopback};
    if (tweak) tweak(o);
    app_ = std::make_unique<servers::ServerApp>(std::move(o), servers::Roles{}, cost_);
    app_->accounts().add_password_account("alice", kAlicePassword);
    app_->accounts().add_password_account("bob", kBobPassword);
    app_->start();
  }
  ~ControlPlane() { app_->stop(); }  // then the app, then the directory

  // Stops every server and starts them again on the same addresses and state directory (the
  // DC forgets its sessions and registrations; keys, accounts and address leases persist).
  void restart() {
    servers::ServerOptions o = app_->options();
    o.listen_as = {app_->as()->local_endpoint()};
    o.listen_dc = app_->dc()->local_endpoints();
    o.listen_rs = app_->rs()->local_endpoints();
    app_->stop();
    app_.reset();
    app_ = std::make_unique<servers::ServerApp>(std::move(o), servers::Roles{}, cost_);
    app_->start();
  }
  ControlPlane(const ControlPlane &) = delete;
  ControlPlane &operator=(const ControlPlane &) = delete;

  servers::ServerApp &app() { return *app_; }
  const fs::path &dir() const { return dir_.path; }

  // A node program (`program SCENARIO --role ROLE ...`) in control-plane mode, on the IPv4
  // loopback only.
  std::vector<std::string> program_argv(const std::string &program, const std::string &scenario,
                                        const std::string &role, const std::string &account,
                                        const std::string &password,
                                        const std::vector<std::string> &extra = {},
                                        const std::string &server_cert = "") const {
    std::vector<std::string> argv = {
        program, scenario, "--role", role,
        "--server", app_->as()->local_endpoint().to_string(),
        "--server-cert", server_cert.empty() ? app_->tls_cert_path().string() : server_cert,
        "--listen", "127.0.0.1:0", "--account", account, "--password", password,
        "--port", "5000", "--timeout", "90"};
    return argv + extra;
  }

#ifdef NTM_TEST_NODE_PATH
  // ntm-test-node tcp-transfer in control-plane mode, on the IPv4 loopback only.
  std::vector<std::string> node_argv(const std::string &role, const std::string &account,
                                     const std::string &password,
                                     const std::vector<std::string> &extra = {},
                                     const std::string &server_cert = "") const {
    return program_argv(NTM_TEST_NODE_PATH, "tcp-transfer", role, account, password, extra,
                        server_cert);
  }
#endif

 private:
  servers::PasswordCost cost_;
  TempDir dir_;
  std::unique_ptr<servers::ServerApp> app_;
};

// Waits for a node's READY line (it has logged in and registered; a server also listens).
inline Fields wait_ready(ChildProcess &p) {
  auto line = p.wait_for_line("READY ", seconds(30));
  if (!line) FAIL(p.name() << " did not become ready (see its output above)");
  return parse(*line);
}

// Waits for the client, then the server, to exit successfully without ERROR lines.
inline void finish(ChildProcess &client, ChildProcess &server) {
  int client_rc = client.wait_exit(seconds(90));
  int server_rc = server.wait_exit(seconds(30));
  CHECK(client.lines_starting("ERROR").empty());
  CHECK(server.lines_starting("ERROR").empty());
  REQUIRE(client_rc == 0);
  REQUIRE(server_rc == 0);
}

// A node expected to fail: waits for it to exit 1 and returns its single ERROR line.
inline Fields expect_failure(ChildProcess &p) {
  int rc = p.wait_exit(seconds(60));
  auto errors = p.lines_starting("ERROR ");
  REQUIRE(errors.size() == 1);
  CHECK(rc == 1);
  return parse(errors[0]);
}

}  // namespace ntm_test
