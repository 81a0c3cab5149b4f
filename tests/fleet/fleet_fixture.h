// fleet_fixture.h - a fleet of servers embedded in a test process on 127.0.0.1 (free ports): one
// AS, one RS and several DCs, each DC with a state directory of its own but all sharing one
// database (the AS's SQLite file, or a PostgreSQL database) and the fleet's keys (ticket key,
// relay key), as separate machines would (docs/scaling.md). A DC can be stopped alone, as if
// its machine died. The RSs can instead be ntm-rs processes, killed with SIGKILL; with
// `dual_stack` the DCs and RSs also listen on [::1], so an IPv4-only node (--listen 127.0.0.1:0)
// and an IPv6-only one (--listen [::1]:0) have no common family and their tunnel is relayed.
// The nodes are ntm-field-node processes (tests/integration/field_node.cc).
#pragma once

#include <catch2/catch.hpp>

#include "aio/server_app.h"
#include "child_process.h"
#include "control/net_probe.h"
#include "crypto/random.h"
#include "report_fields.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
  // 0: one RS in the test process; N: N ntm-rs processes (kill_rs).
  size_t rs_processes = 0;
  // DCs and RSs listen on 127.0.0.1 and [::1] (the AS stays on 127.0.0.1: logins are TCP).
  bool dual_stack = false;
};

// A UDP socket of `family` on loopback, bound to `port` (0: any); -1 on failure.
inline int loopback_udp(int family, uint16_t port) {
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  Endpoint e = family == AF_INET ? Endpoint::v4({127, 0, 0, 1}, port)
                                 : Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, port);
  sockaddr_storage ss{};
  const unsigned len = e.to_sockaddr(ss);
  if (::bind(fd, reinterpret_cast<sockaddr *>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A port free on both 127.0.0.1 and [::1] for UDP now (the RS binds it moments later).
inline uint16_t free_udp_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int v4 = loopback_udp(AF_INET, 0);
    if (v4 < 0) break;
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    ::getsockname(v4, reinterpret_cast<sockaddr *>(&a), &len);
    const uint16_t port = ntohs(a.sin_port);
    const int v6 = loopback_udp(AF_INET6, port);
    ::close(v4);
    if (v6 >= 0) {
      ::close(v6);
      return port;
    }
  }
  throw std::runtime_error("no UDP port free on both 127.0.0.1 and [::1]");
}

// True once the server at `to` answers a NetProbe (docs/protocol.md 7) within `timeout`: a probe
// every 100 ms until a reply to any of them comes (a late one counts; every queued reply is read).
inline bool answers_probe(const Endpoint &to, std::chrono::milliseconds timeout) {
  const int fd = loopback_udp(to.is_v4() ? AF_INET : AF_INET6, 0);
  if (fd < 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<uint64_t> sent;
  bool answered = false;
  while (!answered && std::chrono::steady_clock::now() < deadline) {
    ntm::control::NetProbe probe;
    probe.nonce = ntm::crypto::random_u64();
    sent.push_back(probe.nonce);
    const auto bytes = ntm::control::encode(probe);
    sockaddr_storage ss{};
    const unsigned len = to.to_sockaddr(ss);
    ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr *>(&ss), len);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    uint8_t buf[64];
    ssize_t n;
    while (!answered && (n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
      auto reply = ntm::control::decode_net_probe_reply(
          std::span<const uint8_t>(buf, static_cast<size_t>(n)));
      answered = reply && std::find(sent.begin(), sent.end(), reply.value().nonce) != sent.end();
    }
  }
  ::close(fd);
  return answered;
}

class Fleet {
 public:
  explicit Fleet(FleetOptions o) : options_(std::move(o)) {
    signal(SIGPIPE, SIG_IGN);  // ChildProcess::write_line to a node that exited
    const Endpoint loopback = Endpoint::v4({127, 0, 0, 1}, 0);
    const Endpoint loopback6 =
        Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0);
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
      if (options_.dual_stack) {
        s.listen_dc.push_back(loopback6);
        s.listen_rs.push_back(loopback6);
      }
      return s;
    };
    std::vector<std::vector<Endpoint>> relays;
    if (options_.rs_processes == 0) {
      auto s = base("rs");
      rs_ = std::make_unique<servers::ServerApp>(std::move(s), servers::Roles{false, false, true},
                                                 servers::kTestPasswordCost);
      rs_->start();
      relays = rs_->relay_endpoints();
    }
    for (size_t i = 0; i < options_.rs_processes; ++i) {
      // ntm-rs with the fleet's relay key, on a port free on both families.
      const std::string name = "rs" + std::to_string(i + 1);
      base(name);  // its state directory, with the keys
      const uint16_t port = free_udp_port();
      std::vector<Endpoint> eps = {Endpoint::v4({127, 0, 0, 1}, port)};
      if (options_.dual_stack) {
        eps.push_back(Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, port));
      }
      std::vector<std::string> argv = {NTM_RS_PATH, "run", "--state", (dir_.path / name).string(),
                                       "--log-level", "info"};
      for (const auto &e : eps) {
        argv.push_back("--listen-rs");
        argv.push_back(e.to_string());
      }
      rs_processes_.push_back(std::make_unique<ChildProcess>(name, argv));
      for (const auto &e : eps) {
        if (!answers_probe(e, std::chrono::seconds(10)))
          throw std::runtime_error(name + " does not answer at " + e.to_string());
      }
      relays.push_back(eps);
      rs_ports_.push_back(port);
    }
    std::vector<Endpoint> dc_public;
    for (size_t i = 0; i < options_.dcs; ++i) {
      auto s = base("dc" + std::to_string(i + 1));
      s.relays = relays;
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
    if (rs_) rs_->stop();
    // The RS processes are killed and reaped by ~ChildProcess.
  }
  Fleet(const Fleet &) = delete;
  Fleet &operator=(const Fleet &) = delete;

  void add_account(const std::string &name, const std::string &password) {
    as_->accounts().add_password_account(name, password);
  }
  // Disables the account in the fleet's store, as `ntm-server accounts disable` on any host.
  void disable_account(const std::string &name) { as_->accounts().set_disabled(name, true); }
  servers::ServerApp &dc(size_t i) { return *dcs_.at(i); }
  std::string dc_endpoint(size_t i) { return dcs_.at(i)->dc_endpoints().at(0).to_string(); }
  // The DC stops answering at once (its socket closes), as when its machine dies.
  void kill_dc(size_t i) { dcs_.at(i)->stop(); }
  // RS process i (rs_processes): its port on 127.0.0.1, and kill -9 (returns once reaped).
  uint16_t rs_port(size_t i) const { return rs_ports_.at(i); }
  void kill_rs(size_t i) {
    rs_processes_.at(i)->send_signal(SIGKILL);
    rs_processes_.at(i)->wait_exit(std::chrono::seconds(10));
  }

  // ntm-field-node SCENARIO as ROLE for `account` (password = account + "-pw"), logging in to
  // the first AS (or, with `reversed`, the second).
  std::vector<std::string> field_argv(const std::string &scenario, const std::string &role,
                                      const std::string &account,
                                      const std::vector<std::string> &extra = {},
                                      bool reversed = false,
                                      const std::string &listen = "127.0.0.1:0") const {
    const auto &as = reversed ? as2_ : as_;
    std::vector<std::string> argv = {
        NTM_FIELD_NODE_PATH, scenario, "--role", role,
        "--server", as->as()->local_endpoint().to_string(),
        "--server-cert", as_->tls_cert_path().string(),
        "--listen", listen, "--account", account, "--password", account + "-pw",
        "--port", "5000", "--timeout", "60"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

 private:
  FleetOptions options_;
  TempDir dir_;
  std::string database_;
  std::unique_ptr<servers::ServerApp> rs_;
  std::vector<std::unique_ptr<ChildProcess>> rs_processes_;
  std::vector<uint16_t> rs_ports_;
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
