// Security integration tests, with hostile parties written for them:
// - ntm-hostile-node ("mallory"): an authenticated node that writes another node's virtual
//   address into the source of inner packets; the victim (ntm-security-node udp-witness, plain
//   ntm.h) must never hand them to its application and must count them as dropped_spoofed.
//   Static-peer mode and control-plane mode (servers embedded in this process on loopback).
// - ntm-hostile-as: an AS that closes TLS connections in every awkward way; a C application
//   (ntm-security-node login-burst) with SIGPIPE at its default disposition logs in to it again
//   and again and must survive (status 141 is the bug).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "aio/server_app.h"
#include "child_process.h"
#include "node/node.h"
#include "tunnel/cookie.h"
#include "tunnel/handshake.h"
#include "wire/handshake.h"
#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "report_fields.h"

namespace {

using namespace ntm_test;
using ntm::test::Fields;
using ntm::test::num;
using ntm::test::parse;
using ntm::test::str;
using std::chrono::seconds;
namespace fs = std::filesystem;
namespace servers = ntm::servers;

constexpr int kSpoofCount = 5;  // per address family

struct Identity {
  std::string name, vip4, vip6, private_key, public_key;
};

Identity make_identity(std::string name, std::string vip4, std::string vip6) {
  auto pair = ntm::crypto::x25519_generate();
  return {std::move(name), std::move(vip4), std::move(vip6),
          ntm::crypto::base64_encode(pair.private_key), ntm::crypto::base64_encode(pair.public_key)};
}

std::string peer_spec(const Identity& n, const std::string& endpoint) {
  return n.name + "," + n.public_key + "," + endpoint + "," + n.vip4 + "," + n.vip6;
}

Fields wait_line(ChildProcess& p, const std::string& prefix, seconds timeout = seconds(30)) {
  auto line = p.wait_for_line(prefix, timeout);
  if (!line) FAIL(p.name() << " printed no '" << prefix << "' line (see its output above)");
  return parse(*line);
}

// The witness's application saw no datagram from `vip4`/`vip6`, and saw mallory's genuine ones.
void check_witness(const ChildProcess& victim, const std::string& claimed4,
                   const std::string& claimed6, int spoofed_sent) {
  int genuine = 0;
  for (const auto& line : victim.lines_starting("DATAGRAM ")) {
    auto f = parse(line);
    INFO(line);
    CHECK(str(f, "from") != claimed4);
    CHECK(str(f, "from") != claimed6);
    CHECK_FALSE(str(f, "text").starts_with("SPOOF"));
    if (str(f, "text").starts_with("MALLORY")) ++genuine;
  }
  CHECK(genuine >= 2);  // the tunnel worked: only the spoofed datagrams were refused
  auto stats = parse(victim.lines_starting("STATS ").at(0));
  CHECK(num(stats, "dropped_spoofed") == spoofed_sent);
  CHECK(num(stats, "fin") == 1);
}

TEST_CASE("static peers: a node's application never sees inner packets a peer sends from another "
          "node's virtual address, and dropped_spoofed counts them",
          "[spoof][static]") {
  const Identity bob = make_identity("bob.test", "100.64.0.2", "fd00:6e74:6d::2");
  const Identity alice = make_identity("alice.test", "100.64.0.3", "fd00:6e74:6d::3");
  const Identity mallory = make_identity("mallory.test", "100.64.0.4", "fd00:6e74:6d::4");
  ChildProcess victim("bob", {NTM_SECURITY_NODE_PATH, "udp-witness", "--name", bob.name, "--key",
                              bob.private_key, "--vip4", bob.vip4, "--vip6", bob.vip6,
                              "--listen", "127.0.0.1:0", "--peer", peer_spec(alice, ""),
                              "--peer", peer_spec(mallory, ""), "--timeout", "60"});
  auto ready = wait_line(victim, "READY ");
  ChildProcess attacker("mallory",
                        {NTM_HOSTILE_NODE_PATH, "spoof", "--key", mallory.private_key, "--vip4",
                         mallory.vip4, "--vip6", mallory.vip6, "--peer",
                         peer_spec(bob, str(ready, "endpoint_v4")), "--claim4", alice.vip4,
                         "--claim6", alice.vip6, "--count", std::to_string(kSpoofCount)});
  REQUIRE(attacker.wait_exit(seconds(60)) == 0);
  REQUIRE(victim.wait_exit(seconds(30)) == 0);
  auto result = parse(attacker.lines_starting("RESULT ").at(0));
  CHECK(num(result, "genuine_echoed") == 2);
  check_witness(victim, alice.vip4, alice.vip6, 2 * kSpoofCount);
}

// AS + DC + RS on 127.0.0.1 (free ports) in this process, with accounts alice, bob and mallory.
class ControlPlane {
 public:
  ControlPlane() {
    char tmpl[] = "/tmp/ntm-security-test-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    servers::ServerOptions o;
    o.state = dir_ / "server-state";
    o.domain = "example";
    const ntm::Endpoint loopback = ntm::Endpoint::v4({127, 0, 0, 1}, 0);
    o.listen_as = {loopback};
    o.listen_dc = {loopback};
    o.listen_rs = {loopback};
    app_ = std::make_unique<servers::ServerApp>(std::move(o), servers::Roles{},
                                                servers::kTestPasswordCost);
    for (const char* account : {"alice", "bob", "mallory"}) {
      app_->accounts().add_password_account(account, std::string(account) + "-pw");
    }
    app_->start();
  }
  ~ControlPlane() {
    app_->stop();
    app_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  ntm::Endpoint as_endpoint() const { return app_->as()->local_endpoint(); }
  std::string as_certificate_pem() const {
    std::ifstream in(app_->tls_cert_path());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::vector<std::string> login_args(const std::string& account) const {
    return {"--server", app_->as()->local_endpoint().to_string(), "--server-cert",
            app_->tls_cert_path().string(), "--account", account, "--password", account + "-pw"};
  }

 private:
  fs::path dir_;
  std::unique_ptr<servers::ServerApp> app_;
};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_CASE("control plane: a logged-in node cannot speak as another registered node; the victim "
          "drops and counts it, and the impersonated node gets no replies",
          "[spoof][control-plane]") {
  ControlPlane cp;
  const std::vector<std::string> witness = {NTM_SECURITY_NODE_PATH, "udp-witness", "--listen",
                                            "127.0.0.1:0", "--timeout", "60"};
  ChildProcess alice("alice", witness + cp.login_args("alice"));
  auto alice_ready = wait_line(alice, "READY ");
  ChildProcess bob("bob", witness + cp.login_args("bob"));
  wait_line(bob, "READY ");
  ChildProcess attacker("mallory",
                        std::vector<std::string>{NTM_HOSTILE_NODE_PATH, "spoof", "--target",
                                                 "bob.example", "--claim-name", "alice.example",
                                                 "--count", std::to_string(kSpoofCount)} +
                            cp.login_args("mallory"));
  REQUIRE(attacker.wait_exit(seconds(60)) == 0);
  REQUIRE(bob.wait_exit(seconds(30)) == 0);
  auto claim = parse(attacker.lines_starting("CLAIM ").at(0));
  REQUIRE(str(claim, "vip4") == str(alice_ready, "vip4"));
  check_witness(bob, str(alice_ready, "vip4"), str(alice_ready, "vip6"), 2 * kSpoofCount);
  alice.send_signal(SIGTERM);
  REQUIRE(alice.wait_exit(seconds(30)) == 0);
  CHECK(alice.lines_starting("DATAGRAM ").empty());
}

// ---- secret mac1 keys ----

// A plain UDP socket on the IPv4 loopback: the hostile node's.
class HostileSocket {
 public:
  HostileSocket() : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~HostileSocket() { ::close(fd_); }
  HostileSocket(const HostileSocket&) = delete;
  HostileSocket& operator=(const HostileSocket&) = delete;
  void send_to(const ntm::Endpoint& to, std::span<const uint8_t> bytes) {
    sockaddr_storage ss{};
    const unsigned len = to.to_sockaddr(ss);
    REQUIRE(::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
            static_cast<ssize_t>(bytes.size()));
  }
  // Whether anything arrives within `timeout`.
  bool receives_anything(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }

 private:
  int fd_;
};

// A node written in the test that knows only public data about bob: his static public key (it
// is in his certificate, which every peer the DC directs to him receives) and his UDP endpoint.
// It sends well-formed HandshakeInits with mac1 computed the WireGuard way, from the public key,
// more of them at once than bob's handshake budget (256, burst 256). bob (a node in this process)
// must drop every one at the mac1 check, before any public-key work: had any passed mac1, the
// first 256 would have cost him two X25519 operations each and the rest would have been
// answered with cookie replies (the old behaviour: 256 in dropped_auth, replies to the attacker).
// alice, who got bob's secret mac1 key from the DC, still reaches him.
TEST_CASE("control plane: handshake inits from a node that knows only public data (mac1 from "
          "the public key) are dropped before any public-key work, and counted",
          "[mac1][control-plane]") {
  ControlPlane cp;
  ntm::node::NodeConfig config;
  config.listen_v4 = ntm::Endpoint::parse("127.0.0.1:0");
  config.listen_v6.reset();
  ntm::node::ControlPlaneConfig control;
  control.server = cp.as_endpoint();
  control.server_certificate = cp.as_certificate_pem();
  control.account = "bob";
  control.password = "bob-pw";
  config.control = control;
  auto bob = ntm::node::Node::start(std::move(config));
  const auto info = bob->info();
  REQUIRE(!info.endpoints.empty());
  const ntm::Endpoint bob_at = info.endpoints.front();

  HostileSocket hostile;
  const auto attacker = ntm::crypto::x25519_generate();
  const auto public_mac1 = ntm::tunnel::mac1_key_from_public(info.public_key);
  constexpr int kInits = 320;  // above the budget's burst
  for (int i = 0; i < kInits; ++i) {
    auto [state, init] = ntm::tunnel::create_init(attacker, info.public_key, public_mac1,
                                                  static_cast<uint32_t>(1000 + i),
                                                  static_cast<uint64_t>(i + 1),
                                                  ntm::crypto::AeadAlgorithm::aes_256_gcm);
    std::vector<uint8_t> bytes(ntm::wire::kHandshakeInitSize);
    ntm::wire::encode(init, bytes);
    hostile.send_to(bob_at, bytes);
  }
  // Bounded wait for bob's receiver thread to have seen all of them.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (bob->stats().dropped_auth < kInits && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto stats = bob->stats();
  CHECK(stats.dropped_auth == kInits);  // every one, none throttled into a cookie reply
  CHECK(stats.handshakes_completed == 0);
  CHECK_FALSE(hostile.receives_anything(200));  // not a byte back, not even a cookie reply

  // A peer the DC directed to bob has his secret key: alice pings him through a tunnel.
  const std::vector<std::string> witness = {NTM_SECURITY_NODE_PATH, "udp-witness", "--listen",
                                            "127.0.0.1:0", "--timeout", "60"};
  ChildProcess alice("alice", witness + cp.login_args("alice"));
  wait_line(alice, "READY ");
  const auto ping = bob->ping("alice.example", std::chrono::seconds(20));
  INFO("ping error: " << ping.error);
  CHECK(ping.error.empty());
  CHECK_FALSE(ping.timed_out);
  CHECK(bob->stats().handshakes_completed >= 1);
  CHECK(bob->stats().dropped_auth == kInits);
  alice.send_signal(SIGTERM);
  CHECK(alice.wait_exit(seconds(30)) == 0);
}

// ---- SIGPIPE ----

struct HostileAs {
  explicit HostileAs(const std::string& mode)
      : process("hostile-as", {NTM_HOSTILE_AS_PATH, "--mode", mode, "--timeout", "240"}) {
    auto ready = wait_line(process, "READY ");
    endpoint = str(ready, "endpoint");
    cert = str(ready, "cert");
  }
  ~HostileAs() {
    process.send_signal(SIGTERM);
    process.wait_exit(seconds(30));
  }
  std::vector<std::string> burst_argv(int count) const {
    return {NTM_SECURITY_NODE_PATH, "login-burst", "--server", endpoint, "--server-cert", cert,
            "--account", "alice", "--password", "pw", "--listen", "127.0.0.1:0", "--count",
            std::to_string(count), "--timeout", "120"};
  }
  ChildProcess process;
  std::string endpoint, cert;
};

// The burst process survived (no status 141) and every login failed cleanly.
void check_burst(ChildProcess& p, int count) {
  const int rc = p.wait_exit(seconds(150));
  INFO(p.name() << " exit status " << rc << (rc == 128 + SIGPIPE ? " (killed by SIGPIPE)" : ""));
  REQUIRE(rc == 0);
  auto result = parse(p.lines_starting("RESULT ").at(0));
  CHECK(num(result, "attempts") == count);
  CHECK(num(result, "failed") == count);
}

TEST_CASE("an AS that answers, then closes with FIN and RST, never raises SIGPIPE in a C "
          "application with the default disposition",
          "[sigpipe]") {
  HostileAs as("respond-fin-rst");
  ChildProcess burst("login-burst", as.burst_argv(10));
  check_burst(burst, 10);
}

TEST_CASE("a burst of logins from several C applications against an AS that closes connections "
          "in every way raises no SIGPIPE",
          "[sigpipe]") {
  HostileAs as("mixed");
  constexpr int kProcesses = 4;
  constexpr int kLogins = 25;
  std::vector<std::unique_ptr<ChildProcess>> bursts;
  for (int i = 0; i < kProcesses; ++i) {
    bursts.push_back(std::make_unique<ChildProcess>("login-burst-" + std::to_string(i),
                                                    as.burst_argv(kLogins)));
  }
  for (auto& b : bursts) check_burst(*b, kLogins);
}

TEST_CASE("an application that closes its end of a bridged connection while data arrives is "
          "not killed by SIGPIPE from the bridge's pump",
          "[sigpipe][bridge]") {
  const Identity self = make_identity("solo.test", "100.64.0.5", "fd00:6e74:6d::5");
  const Identity other = make_identity("other.test", "100.64.0.6", "fd00:6e74:6d::6");
  ChildProcess p("bridge-abandon",
                 {NTM_SECURITY_NODE_PATH, "bridge-abandon", "--name", self.name, "--key",
                  self.private_key, "--vip4", self.vip4, "--vip6", self.vip6, "--listen",
                  "127.0.0.1:0", "--peer", peer_spec(other, ""), "--timeout", "60"});
  const int rc = p.wait_exit(seconds(90));
  INFO("exit status " << rc << (rc == 128 + SIGPIPE ? " (killed by SIGPIPE)" : ""));
  REQUIRE(rc == 0);
  CHECK(num(parse(p.lines_starting("RESULT ").at(0)), "alive") == 1);
}

}  // namespace
