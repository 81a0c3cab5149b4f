// fleet_fixture.h - a fleet of servers embedded in a test process on 127.0.0.1 (free ports): one
// AS, one RS and several DCs, each DC with a state directory of its own but all sharing one
// database (the AS's SQLite file, or a PostgreSQL database) and the fleet's keys (ticket key,
// relay key), as separate machines would (docs/scaling.md). A DC can be stopped alone, as if
// its machine died. The nodes are ntm-field-node processes (tests/integration/field_node.cc).
#pragma once

#include <catch2/catch.hpp>

#include "aio/server_app.h"
#include "child_process.h"
#include "report_fields.h"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ntm_fleet {

using ntm::Endpoint;
namespace servers = ntm::servers;
namespace fs = std::filesystem;
using ntm_test::ChildProcess;

inline constexpr const char *kDomain = "example";

// A temporary directory, removed (with everything in it) when destroyed.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/ntm-fleet-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
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

struct FleetOptions {
  size_t dcs = 2;
  uint16_t keepalive_s = 1;
  std::string database;  // empty: the AS's SQLite file
  // A second AS that lists the DCs in the reverse order, so its nodes register with the last DC.
  bool reversed_as = false;
};

class Fleet {
 public:
  explicit Fleet(FleetOptions o) : options_(std::move(o)) {
    signal(SIGPIPE, SIG_IGN);  // ChildProcess::write_line to a node that exited
    const Endpoint loopback = Endpoint::v4({127, 0, 0, 1}, 0);
    // The fleet's shared keys, made once (in the AS's directory) and copied to every server, as
    // an operator copies them to each machine.
    const fs::path as_dir = dir_.path / "as";
    {
      servers::StateDir shared(as_dir);
      shared.load_or_create_key(servers::kTicketKeyFile);
      shared.load_or_create_key(servers::kRelayKeyFile);
    }
    database_ = options_.database.empty() ? (as_dir / servers::kDatabaseFile).string()
                                          : options_.database;
    auto base = [&](const std::string &name) {
      servers::ServerOptions s;
      s.state = dir_.path / name;
      if (name != "as") {
        servers::StateDir dir(s.state);
        for (const char *key : {servers::kTicketKeyFile, servers::kRelayKeyFile})
          fs::copy_file(as_dir / key, s.state / key, fs::copy_options::overwrite_existing);
      }
      s.domain = kDomain;
      s.keepalive_s = options_.keepalive_s;
      s.database = database_;
      s.listen_as = {loopback};
      s.listen_dc = {loopback};
      s.listen_rs = {loopback};
      return s;
    };
    {
      auto s = base("rs");
      rs_ = std::make_unique<servers::ServerApp>(std::move(s), servers::Roles{false, false, true},
                                                 servers::kTestPasswordCost);
      rs_->start();
    }
    std::vector<Endpoint> dc_public;
    for (size_t i = 0; i < options_.dcs; ++i) {
      auto s = base("dc" + std::to_string(i + 1));
      s.relays = rs_->relay_endpoints();
      dcs_.push_back(std::make_unique<servers::ServerApp>(
          std::move(s), servers::Roles{false, true, false}, servers::kTestPasswordCost));
      dcs_.back()->start();
      for (const auto &e : dcs_.back()->dc_endpoints()) dc_public.push_back(e);
    }
    auto s = base("as");
    s.dc_public = dc_public;  // every DC, in order: nodes register with the first that answers
    as_ = std::make_unique<servers::ServerApp>(std::move(s), servers::Roles{true, false, false},
                                               servers::kTestPasswordCost);
    as_->start();
    if (options_.reversed_as) {
      auto r = base("as");
      r.dc_public.assign(dc_public.rbegin(), dc_public.rend());
      as2_ = std::make_unique<servers::ServerApp>(std::move(r), servers::Roles{true, false, false},
                                                  servers::kTestPasswordCost);
      as2_->start();
    }
  }
  ~Fleet() {
    if (as2_) as2_->stop();
    as_->stop();
    for (auto &dc : dcs_) dc->stop();
    rs_->stop();
  }
  Fleet(const Fleet &) = delete;
  Fleet &operator=(const Fleet &) = delete;

  void add_account(const std::string &name, const std::string &password) {
    as_->accounts().add_password_account(name, password);
  }
  servers::ServerApp &dc(size_t i) { return *dcs_.at(i); }
  std::string dc_endpoint(size_t i) { return dcs_.at(i)->dc_endpoints().at(0).to_string(); }
  // The DC stops answering at once (its socket closes), as when its machine dies.
  void kill_dc(size_t i) { dcs_.at(i)->stop(); }

  // ntm-field-node SCENARIO as ROLE for `account` (password = account + "-pw"), logging in to
  // the first AS (or, with `reversed`, the second).
  std::vector<std::string> field_argv(const std::string &scenario, const std::string &role,
                                      const std::string &account,
                                      const std::vector<std::string> &extra = {},
                                      bool reversed = false) const {
    const auto &as = reversed ? as2_ : as_;
    std::vector<std::string> argv = {
        NTM_FIELD_NODE_PATH, scenario, "--role", role,
        "--server", as->as()->local_endpoint().to_string(),
        "--server-cert", as_->tls_cert_path().string(),
        "--listen", "127.0.0.1:0", "--account", account, "--password", account + "-pw",
        "--port", "5000", "--timeout", "60"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

 private:
  FleetOptions options_;
  TempDir dir_;
  std::string database_;
  std::unique_ptr<servers::ServerApp> rs_;
  std::vector<std::unique_ptr<servers::ServerApp>> dcs_;
  std::unique_ptr<servers::ServerApp> as_;
  std::unique_ptr<servers::ServerApp> as2_;
};

// CLOCK_MONOTONIC seconds, as the nodes' t= fields.
inline double mono_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace ntm_fleet
