// Control-plane integration tests: the servers (AS + DC + RS, a ServerApp) run embedded in this
// test process on 127.0.0.1 with free ports and a temporary state directory; ntm-test-node
// processes (one node each) log in to them over TLS, register with the DC, find each other by
// name or virtual address and exchange checksummed TCP data. The nodes report facts on stdout
// ("READY ...", "RESULT ...", "PATH ...", "ERROR ...") and every judgement is made here.
//
// The forged/replayed-message scenario puts a small UDP proxy (in this process) between the nodes
// and the DC: the AS hands the proxy's address out as the DC, so every node <-> DC datagram
// passes through it. The test reads that traffic the way the DC does (it opens the node's ticket
// with the DC's ticket key from the state directory, which gives it the session key) and injects
// replayed, tampered and forged DC -> node datagrams.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <ntm.h>

#include "aio/server_app.h"
#include "as/tls.h"
#include "child_process.h"
#include "control_plane_fixture.h"
#include "report_fields.h"
#include "control/certificate.h"
#include "control/constants.h"
#include "control/dc_channel.h"
#include "control/registration.h"
#include "control/dc_messages.h"
#include "control/ticket.h"
#include "test_data.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace {

using namespace ntm_test;
using ntm::Endpoint;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Bytes = std::vector<uint8_t>;
namespace control = ntm::control;
namespace servers = ntm::servers;
namespace fs = std::filesystem;

// ---- reading the nodes' reports (as integration_tests.cc does) ----

using ntm::test::Fields;
using ntm::test::num;
using ntm::test::parse;
using ntm::test::str;

// The one line of `p`'s output starting with `prefix`, parsed; fails the test otherwise.
Fields one_line(const ChildProcess &p, const std::string &prefix) {
  auto lines = p.lines_starting(prefix);
  if (lines.size() != 1) FAIL(p.name() << ": expected one '" << prefix << "' line, got " << lines.size());
  return parse(lines[0]);
}

bool in_ipv4_pool(const std::string &text) {  // 100.64.0.0/10, host numbers from 2
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
  const uint32_t h = ntohl(a.s_addr);
  return (h & 0xFFC00000u) == 0x64400000u && (h & 0x003FFFFFu) >= 2;
}

bool in_ipv6_pool(const std::string &text) {  // fd00:6e74:6d::/48
  in6_addr a{};
  if (inet_pton(AF_INET6, text.c_str(), &a) != 1) return false;
  static const uint8_t prefix[6] = {0xfd, 0x00, 0x6e, 0x74, 0x00, 0x6d};
  return std::memcmp(a.s6_addr, prefix, sizeof prefix) == 0;
}

uint16_t port_of(const std::string &endpoint) {
  auto e = Endpoint::parse(endpoint);
  if (!e) FAIL("not an endpoint: " << endpoint);
  return e->port;
}

std::string node_id_hex(uint64_t id) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id));
  return text;
}

// Both directions of one tcp-transfer connection carried the expected bytes. The client sends
// stream `c2s` (its connection index), the server stream `s2c` (its accept index).
void check_transfer(const Fields &client, const Fields &server, uint64_t bytes, int c2s, int s2c) {
  const std::string up = stream_sha256(kClientToServerSeed + static_cast<uint64_t>(c2s), bytes);
  const std::string down = stream_sha256(kServerToClientSeed + static_cast<uint64_t>(s2c), bytes);
  CHECK(str(client, "sent_sha256") == up);
  CHECK(num(server, "recv_bytes") == static_cast<long long>(bytes));
  CHECK(str(server, "recv_sha256") == up);
  CHECK(str(server, "sent_sha256") == down);
  CHECK(num(client, "recv_bytes") == static_cast<long long>(bytes));
  CHECK(str(client, "recv_sha256") == down);
}

void check_address_in_pools(const Fields &ready) {
  INFO(str(ready, "name") << ": vip4 " << str(ready, "vip4") << " vip6 " << str(ready, "vip6"));
  CHECK(in_ipv4_pool(str(ready, "vip4")));
  CHECK(in_ipv6_pool(str(ready, "vip6")));
}

// One transfer between a fresh bob (server) and a fresh alice (client) connecting to `target`
// (a name or virtual address; "%4" / "%6" stand for bob's virtual IPv4 / IPv6 from READY).
struct Round {
  Fields bob_ready;
  Fields alice_ready;
  Fields path;
};

Round transfer_round(ControlPlane &cp, bool ipv6, const std::string &target, uint64_t bytes,
                     const std::vector<std::string> &bob_extra = {}) {
  std::vector<std::string> extra = {"--bytes", std::to_string(bytes)};
  if (ipv6) extra.push_back("-6");
  ChildProcess bob("bob", cp.node_argv("server", "bob", kBobPassword, extra + bob_extra));
  Round r;
  r.bob_ready = wait_ready(bob);
  std::string connect = target;
  if (target == "%4") connect = str(r.bob_ready, "vip4") + ":5000";
  if (target == "%6") connect = "[" + str(r.bob_ready, "vip6") + "]:5000";
  ChildProcess alice("alice", cp.node_argv("client", "alice", kAlicePassword,
                                           extra + std::vector<std::string>{"--connect", connect}));
  finish(alice, bob);
  r.alice_ready = one_line(alice, "READY ");
  check_transfer(one_line(alice, "RESULT "), one_line(bob, "RESULT "), bytes, 0, 0);
  r.path = one_line(alice, "PATH ");
  return r;
}

// ---- a UDP proxy between the nodes and the DC ----

struct Datagram {
  size_t index = 0;       // position in the proxy's log
  bool to_dc = false;     // node -> DC (else DC -> node)
  bool injected = false;  // made up by the test, not from the DC
  uint16_t node_port = 0; // the node's 127.0.0.1 port
  Bytes bytes;
};

// A made-up datagram for a node: from the DC's address (the proxy's), or from another one.
struct Injection {
  Bytes bytes;
  bool from_stranger = false;
};

int loopback_udp_socket() {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("bind: " + std::string(strerror(errno)));
  }
  return fd;
}

sockaddr_in loopback_address(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// Nodes send to the proxy's "DC" socket; the proxy forwards each node's datagrams to the real DC
// from a socket of its own per node (so the DC tells the nodes apart) and the DC's answers back
// from the "DC" socket, the address the nodes accept control messages from. Every datagram is
// logged. A one-shot injector, when armed, sends made-up datagrams to a node just before the
// next DC -> node datagram of a given type (loopback delivers them to the node's socket in the
// order they are sent, also those from the stranger socket).
class DcProxy {
 public:
  using Injector = std::function<std::vector<Injection>(const Bytes &genuine)>;

  DcProxy() : down_(loopback_udp_socket()), stranger_(loopback_udp_socket()) {
    if (::pipe2(stop_, O_CLOEXEC) != 0) {
      ::close(down_);
      ::close(stranger_);
      throw std::runtime_error("pipe2: " + std::string(strerror(errno)));
    }
  }
  ~DcProxy() {
    stop();
    for (auto &[port, fd] : up_by_node_) ::close(fd);
    ::close(down_);
    ::close(stranger_);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }
  DcProxy(const DcProxy &) = delete;
  DcProxy &operator=(const DcProxy &) = delete;

  Endpoint endpoint() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(down_, reinterpret_cast<sockaddr *>(&a), &len);
    return Endpoint::v4({127, 0, 0, 1}, ntohs(a.sin_port));
  }

  void start(const Endpoint &dc) {
    REQUIRE(dc.is_v4());
    dc_ = loopback_address(dc.port);
    REQUIRE(std::memcmp(dc.address.data(), "\x7f\x00\x00\x01", 4) == 0);
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    char c = 0;
    while (::write(stop_[1], &c, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
  }

  void arm(uint16_t node_port, control::MessageType type, Injector make) {
    std::lock_guard lock(mutex_);
    armed_port_ = node_port;
    armed_type_ = static_cast<uint8_t>(type);
    injector_ = std::move(make);
  }

  std::vector<Datagram> snapshot() const {
    std::lock_guard lock(mutex_);
    return log_;
  }

  // Waits until pred(log) holds (evaluated on every new datagram), at most `timeout`.
  bool wait_until(const std::function<bool(const std::vector<Datagram> &)> &pred,
                  milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(log_); });
  }

  std::string error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void record(bool to_dc, bool injected, uint16_t port, Bytes bytes) {
    {
      std::lock_guard lock(mutex_);
      log_.push_back({log_.size(), to_dc, injected, port, std::move(bytes)});
    }
    cv_.notify_all();
  }

  void fail(const std::string &what) {
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = what;
  }

  void send_to_node(uint16_t port, const Bytes &bytes, bool from_stranger = false) {
    sockaddr_in to = loopback_address(port);
    if (::sendto(from_stranger ? stranger_ : down_, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr *>(&to),
                 sizeof to) < 0) {
      fail("sendto node: " + std::string(strerror(errno)));
    }
  }

  void run() {
    try {
      run_loop();
    } catch (const std::exception &e) {
      fail(std::string("proxy: ") + e.what());
    }
  }

  void run_loop() {
    std::vector<uint8_t> buf(65536);
    for (;;) {
      std::vector<pollfd> fds = {{stop_[0], POLLIN, 0}, {down_, POLLIN, 0}};
      for (const auto &[port, fd] : up_by_node_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        fail("poll: " + std::string(strerror(errno)));
        return;
      }
      if (fds[0].revents != 0) return;
      if (fds[1].revents & POLLIN) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(down_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &len);
        if (n >= 0 && from.sin_family == AF_INET) {
          const uint16_t port = ntohs(from.sin_port);
          auto it = up_by_node_.find(port);
          if (it == up_by_node_.end()) {
            it = up_by_node_.emplace(port, loopback_udp_socket()).first;
            node_by_up_[it->second] = port;
          }
          Bytes bytes(buf.data(), buf.data() + n);
          if (::sendto(it->second, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr *>(&dc_),
                       sizeof dc_) < 0) {
            fail("sendto DC: " + std::string(strerror(errno)));
          }
          record(true, false, port, std::move(bytes));
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        sockaddr_in from{};
        socklen_t len = sizeof from;
        ssize_t n = ::recvfrom(fds[i].fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&from), &len);
        // Only the DC's answers go back; peers probing a node's observed (proxy) endpoint are
        // dropped, so tunnels use the private candidates.
        if (n <= 0 || from.sin_port != dc_.sin_port || from.sin_addr.s_addr != dc_.sin_addr.s_addr) {
          continue;
        }
        const uint16_t port = node_by_up_.at(fds[i].fd);
        Bytes bytes(buf.data(), buf.data() + n);
        Injector make;
        {
          std::lock_guard lock(mutex_);
          if (injector_ && armed_port_ == port && bytes[0] == armed_type_) {
            make = std::move(injector_);  // one shot
            injector_ = nullptr;
          }
        }
        if (make) {
          std::vector<Injection> extra;
          try {
            extra = make(bytes);
          } catch (const std::exception &e) {
            fail(std::string("injector: ") + e.what());
          }
          for (auto &x : extra) {
            send_to_node(port, x.bytes, x.from_stranger);
            record(false, true, port, std::move(x.bytes));
          }
        }
        send_to_node(port, bytes);
        record(false, false, port, std::move(bytes));
      }
    }
  }

  int down_;
  int stranger_;  // another local address, which is not the DC
  int stop_[2] = {-1, -1};
  sockaddr_in dc_{};
  std::map<uint16_t, int> up_by_node_;  // proxy thread only (and the destructor, after it)
  std::map<int, uint16_t> node_by_up_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Datagram> log_;
  std::string error_;
  uint16_t armed_port_ = 0;
  uint8_t armed_type_ = 0;
  Injector injector_;
};

// ---- reading node <-> DC traffic the way the DC does ----

struct Session {
  uint64_t node_id = 0;
  control::Key32 key{};
};

// The node's DC registration, from the ticket in its Register (opened with the DC's ticket key):
// the key of the registration the DC acknowledged (control/registration.h), derived from the
// session key, the challenge and the counter of the Register that made it.
std::optional<Session> session_of(const std::vector<Datagram> &log, uint16_t port,
                                  const control::Key32 &ticket_key) {
  std::optional<Session> found;
  for (size_t i = 0; i < log.size(); ++i) {
    const auto &d = log[i];
    if (!d.to_dc || d.node_port != port || d.bytes.empty() ||
        d.bytes[0] != static_cast<uint8_t>(control::MessageType::register_node)) {
      continue;
    }
    auto envelope = control::decode_dc_envelope(d.bytes);
    if (!envelope) continue;
    auto ticket = control::open_ticket(ticket_key, envelope->ticket);
    if (!ticket) continue;
    control::DcChannel opener(control::DcRole::dc, ticket->node_id, ticket->session_key);
    auto opened = opener.open(d.bytes);
    if (!opened) continue;
    auto body = control::decode_register(opened->plaintext);
    if (!body || control::is_zero(body->challenge)) continue;
    const auto key = control::registration_key(ticket->session_key, body->challenge,
                                               envelope->counter);
    control::DcChannel node(control::DcRole::node, ticket->node_id, key);
    for (size_t j = i + 1; j < log.size(); ++j) {
      if (log[j].to_dc || log[j].node_port != port) continue;
      auto ack = node.open(log[j].bytes);
      if (ack && ack->type == control::MessageType::register_ack) {
        found = Session{ticket->node_id, key};
        break;
      }
    }
  }
  return found;
}

struct Seen {
  size_t index = 0;
  uint32_t direction_id = 0;
  Bytes bytes;
};

// The DirectionAcks the node sent (authenticated with its session key), in order.
std::vector<Seen> direction_acks(const std::vector<Datagram> &log, uint16_t port, const Session &s) {
  control::DcChannel dc(control::DcRole::dc, s.node_id, s.key);
  std::vector<Seen> out;
  for (const auto &d : log) {
    if (!d.to_dc || d.node_port != port) continue;
    auto opened = dc.open(d.bytes);
    if (!opened || opened->type != control::MessageType::direction_ack) continue;
    auto ack = control::decode_direction_ack(opened->plaintext);
    if (ack) out.push_back({d.index, ack->direction_id, d.bytes});
  }
  return out;
}

// The genuine Directions the DC sent the node, in order.
std::vector<Seen> directions_to(const std::vector<Datagram> &log, uint16_t port, const Session &s) {
  control::DcChannel node(control::DcRole::node, s.node_id, s.key);
  std::vector<Seen> out;
  for (const auto &d : log) {
    if (d.to_dc || d.injected || d.node_port != port) continue;
    auto opened = node.open(d.bytes);
    if (!opened || opened->type != control::MessageType::direction) continue;
    auto direction = control::decode_direction(opened->plaintext);
    if (direction) out.push_back({d.index, direction->direction_id, d.bytes});
  }
  return out;
}

size_t first_injected(const std::vector<Datagram> &log) {
  for (const auto &d : log)
    if (d.injected) return d.index;
  return log.size();
}

constexpr uint32_t kForgedWrongKeyId = 0xF0F00001;
constexpr uint32_t kForgedOtherNodeId = 0xF0F00002;
constexpr uint32_t kFromStrangerId = 0xF0F00003;
// A compromised DC (it seals correctly) handing over a peer certificate the node must refuse.
constexpr uint32_t kOtherAddressId = 0xF0F00004;
constexpr uint32_t kAlteredCertId = 0xF0F00005;
constexpr uint32_t kForgedCertId = 0xF0F00006;
constexpr uint32_t kExpiredCertId = 0xF0F00007;
constexpr uint32_t kLegacyCertId = 0xF0F00008;

// What the test sends the node just before the genuine Direction `d2`:
// - the earlier Direction `d1`, replayed (twice);
// - `d2` with one byte flipped in each part of the envelope; the counter stays `d2`'s, so a node
//   that recorded the counter before checking the tag would then drop the genuine `d2`;
// - `d2`'s content with another direction_id, sealed with a wrong key, or with the right key but
//   for another node_id;
// - `d2`'s content with another direction_id, correctly sealed with the session key (as only the
//   DC could) but sent from an address that is not the DC's;
// - what a compromised DC could send (correctly sealed, from the DC's address): `d2` with
//   another virtual address for the peer than its certificate's; with the certificate altered to
//   claim that address; with one forged with another signing key; with one signed by the real AS
//   key (`as_key`) but expired; with a version 1 one (no addresses) signed by the AS key.
// Each made-up Direction carries its own direction_id, so acting on it shows in the node's acks.
std::vector<Injection> forgeries(const Session &s, const Bytes &d1, const Bytes &d2,
                                 const ntm::crypto::Ed25519PrivateKey &as_key) {
  std::vector<Injection> out = {{d1}, {d1}};
  auto flipped = [&](size_t at, uint8_t mask) {
    Bytes b = d2;
    b.at(at) ^= mask;
    return Injection{std::move(b)};
  };
  const size_t h = control::kDcHeaderSize;
  out.push_back(flipped(0, 0x03));              // type: Direction -> ResolveReply
  out.push_back(flipped(1, 0x01));              // flags
  out.push_back(flipped(3, 0x01));              // reserved
  out.push_back(flipped(11, 0x01));             // node_id
  out.push_back(flipped(h - 1, 0x01));          // counter
  out.push_back(flipped(h + 3, 0x01));          // ciphertext of direction_id
  out.push_back(flipped(d2.size() / 2, 0x80));  // ciphertext (the certificate)
  out.push_back(flipped(d2.size() - 1, 0x01));  // tag

  control::DcChannel reader(control::DcRole::node, s.node_id, s.key);
  auto opened = reader.open(d2);
  if (!opened) throw std::runtime_error("the genuine Direction does not open");
  auto decoded = control::decode_direction(opened->plaintext);
  if (!decoded) throw std::runtime_error("the genuine Direction does not decode");
  control::Direction forged = decoded.value();
  auto seal = [&](uint32_t id, uint64_t node_id, const control::Key32 &key, uint64_t counter) {
    forged.direction_id = id;
    control::DcChannel channel(control::DcRole::dc, node_id, key, counter);
    return channel.seal(control::MessageType::direction, control::encode(forged));
  };
  control::Key32 wrong_key;
  wrong_key.fill(0x5a);
  out.push_back({seal(kForgedWrongKeyId, s.node_id, wrong_key, opened->counter + 1)});
  out.push_back({seal(kForgedOtherNodeId, s.node_id ^ 1, s.key, opened->counter + 2)});
  out.push_back({seal(kFromStrangerId, s.node_id, s.key, opened->counter + 3), true});

  const control::Direction genuine = decoded.value();
  const auto cert = control::decode_certificate(genuine.peer_certificate);
  if (!cert) throw std::runtime_error("the genuine Direction's certificate does not decode");
  control::Ipv4Address other = cert->virtual_ipv4;
  other[3] ^= 0x40;  // another node's address
  uint64_t counter = opened->counter + 4;
  auto compromised = [&](uint32_t id, const control::NodeCertificate &c, bool claim_other) {
    forged = genuine;
    forged.peer_certificate = control::encode_certificate(c);
    if (claim_other) forged.peer_virtual_ipv4 = other;
    return Injection{seal(id, s.node_id, s.key, counter++)};
  };
  out.push_back(compromised(kOtherAddressId, *cert, true));
  control::NodeCertificate altered = *cert;
  altered.virtual_ipv4 = other;  // the AS's signature no longer holds
  out.push_back(compromised(kAlteredCertId, altered, true));
  control::NodeCertificate forged_cert = altered;
  control::sign(forged_cert, ntm::crypto::ed25519_generate().private_key);
  out.push_back(compromised(kForgedCertId, forged_cert, true));
  control::NodeCertificate expired = *cert;
  expired.expires_unix = static_cast<uint64_t>(::time(nullptr)) - 1;
  control::sign(expired, as_key);
  out.push_back(compromised(kExpiredCertId, expired, false));
  control::NodeCertificate legacy = *cert;
  legacy.version = control::kLegacyCertificateVersion;
  control::sign(legacy, as_key);
  out.push_back(compromised(kLegacyCertId, legacy, false));
  return out;
}
constexpr size_t kForgeries = 18;

}  // namespace

// ---- 1. login, resolve by name, direct tunnel, stable addresses ----

TEST_CASE("two nodes log in, resolve each other by FQDN and exchange 4 MiB each way directly "
          "over virtual IPv4 and IPv6, keeping their pool addresses when they log in again",
          "[control-plane][tcp]") {
  ControlPlane cp;
  const std::vector<std::string> bob_state = {"--state", (cp.dir() / "bob-node").string()};
  std::vector<Round> rounds;
  for (bool ipv6 : {false, true}) {
    INFO("virtual " << (ipv6 ? "IPv6" : "IPv4"));
    Round r = transfer_round(cp, ipv6, std::string("bob.") + kDomain + ":5000", kTransfer, bob_state);
    CHECK(str(r.bob_ready, "name") == std::string("bob.") + kDomain);
    CHECK(str(r.alice_ready, "name") == std::string("alice.") + kDomain);
    check_address_in_pools(r.bob_ready);
    check_address_in_pools(r.alice_ready);
    CHECK(str(r.alice_ready, "vip4") != str(r.bob_ready, "vip4"));
    CHECK(str(r.alice_ready, "vip6") != str(r.bob_ready, "vip6"));
    CHECK(str(r.alice_ready, "node_id") != str(r.bob_ready, "node_id"));
    // Both on one host: the DC directs them end to end, to bob's own socket.
    CHECK(str(r.path, "peer") == std::string("bob.") + kDomain);
    CHECK(str(r.path, "path") == "direct");
    CHECK(str(r.path, "endpoint") == str(r.bob_ready, "endpoint_v4"));
    rounds.push_back(std::move(r));
  }
  REQUIRE(rounds.size() == 2);
  // Logging in again (bob with the same key from its state dir, alice with a new key) keeps the
  // NodeID and the virtual addresses.
  for (const char *key : {"node_id", "vip4", "vip6"}) {
    INFO(key);
    CHECK(str(rounds[0].bob_ready, key) == str(rounds[1].bob_ready, key));
    CHECK(str(rounds[0].alice_ready, key) == str(rounds[1].alice_ready, key));
  }
}

// ---- 2. connect by virtual address ----

TEST_CASE("a node connects to a registered peer by its virtual IPv4 or IPv6 address alone and "
          "the DC directs the tunnel",
          "[control-plane][tcp]") {
  ControlPlane cp;
  for (bool ipv6 : {false, true}) {
    INFO("virtual " << (ipv6 ? "IPv6" : "IPv4"));
    // No name is resolved: ntm_getaddrinfo passes the numeric address through and ntm_connect
    // asks the DC who owns it.
    Round r = transfer_round(cp, ipv6, ipv6 ? "%6" : "%4", 1u << 20);
    CHECK(str(r.path, "peer") == std::string("bob.") + kDomain);
    CHECK(str(r.path, "path") == "direct");
  }
}

TEST_CASE("a datagram to the node's own virtual IPv4 or IPv6 address is delivered at once, "
          "without asking the DC who owns it",
          "[control-plane][udp]") {
  ControlPlane cp;
  auto argv = cp.node_argv("server", "alice", kAlicePassword, {"--port", "5100"});
  argv[1] = "self-udp";
  ChildProcess node("alice", argv);
  REQUIRE(node.wait_exit(seconds(60)) == 0);
  auto results = node.lines_starting("RESULT ");
  REQUIRE(results.size() == 2);
  for (const auto &line : results) {
    Fields r = parse(line);
    INFO(line);
    CHECK(num(r, "delivered") == 1);
    // A DC lookup would block the send for the 5 s server timeout; local delivery takes
    // milliseconds. The bound sits far from both.
    CHECK(num(r, "elapsed_ms") < 2000);
  }
}

TEST_CASE("after the servers restart, a node registered before re-registers by itself (its "
          "keepalives go unanswered) and a new node finds it by name",
          "[control-plane][tcp]") {
  ControlPlane cp([](servers::ServerOptions &o) { o.keepalive_s = 1; });
  ChildProcess bob("bob", cp.node_argv("server", "bob", kBobPassword,
                                       {"--bytes", "65536", "--print-events"}));
  wait_ready(bob);
  const auto registered = [&bob] {
    size_t n = 0;
    for (const auto &line : bob.lines_starting("EVENT ")) {
      if (num(parse(line), "type") == NTM_EVENT_REGISTERED) ++n;
    }
    return n;
  };
  // The first registration, during ntm_start (events arrive on their own thread).
  REQUIRE(bob.wait_for_line("EVENT type=" + std::to_string(NTM_EVENT_REGISTERED), seconds(10)));
  REQUIRE(registered() == 1);
  cp.restart();
  // bob's next keepalives go unanswered; it registers again (bounded by the client's retries:
  // ntm-test-node resolves with ntm_getaddrinfo, which fails at once while bob is unknown).
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  std::optional<Fields> result;
  for (int attempt = 0; !result && std::chrono::steady_clock::now() < deadline; ++attempt) {
    ChildProcess alice("alice", cp.node_argv("client", "alice", kAlicePassword,
                                             {"--bytes", "65536", "--connect",
                                              std::string("bob.") + kDomain + ":5000"}));
    if (alice.wait_exit(seconds(60)) == 0) {
      result = one_line(alice, "RESULT ");
    } else {
      auto errors = alice.lines_starting("ERROR ");
      REQUIRE(errors.size() == 1);
      Fields e = parse(errors[0]);
      REQUIRE(str(e, "what") == "ntm_getaddrinfo");  // only "bob is not known (yet)" is expected
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // between bounded attempts
    }
  }
  REQUIRE(result);
  CHECK(num(*result, "recv_bytes") == 65536);
  REQUIRE(bob.wait_exit(seconds(30)) == 0);
  CHECK(registered() == 2);  // NTM_EVENT_REGISTERED again after the restart
  CHECK(!bob.lines_starting("RESULT ").empty());
}

// ---- 3. refusals ----

TEST_CASE("a wrong password or an unknown account is refused with NTM_EAUTH and 'wrong account "
          "or password'",
          "[control-plane][errors]") {
  ControlPlane cp;
  const std::pair<const char *, const char *> attempts[] = {{"alice", "not-alices-password"},
                                                            {"mallory", kAlicePassword}};
  for (const auto &[account, password] : attempts) {
    INFO("account " << account);
    ChildProcess node("node", cp.node_argv("client", account, password,
                                           {"--connect", std::string("bob.") + kDomain + ":5000"}));
    Fields e = expect_failure(node);
    CHECK(str(e, "what") == "ntm_start");
    CHECK(num(e, "rc") == NTM_EAUTH);
    CHECK_THAT(str(e, "msg"), Catch::Matchers::Contains("wrong account or password"));
    CHECK(node.lines_starting("READY").empty());
  }
}

TEST_CASE("a disabled account is refused with NTM_EAUTH and a message saying it is disabled, "
          "and logs in again once enabled",
          "[control-plane][errors]") {
  ControlPlane cp;
  REQUIRE(cp.app().accounts().set_disabled("bob", true));
  {
    ChildProcess node("bob", cp.node_argv("server", "bob", kBobPassword));
    Fields e = expect_failure(node);
    CHECK(str(e, "what") == "ntm_start");
    CHECK(num(e, "rc") == NTM_EAUTH);
    CHECK_THAT(str(e, "msg"), Catch::Matchers::Contains("disabled"));
  }
  // The same credentials work once the account is enabled: the refusal was the flag.
  REQUIRE(cp.app().accounts().set_disabled("bob", false));
  ChildProcess node("bob", cp.node_argv("server", "bob", kBobPassword));
  Fields ready = wait_ready(node);
  CHECK(str(ready, "name") == std::string("bob.") + kDomain);
}

TEST_CASE("resolving an FQDN that no account owns gives EAI_NONAME from ntm_getaddrinfo",
          "[control-plane][errors]") {
  ControlPlane cp;
  ChildProcess node("alice", cp.node_argv("client", "alice", kAlicePassword,
                                          {"--connect", std::string("nobody.") + kDomain + ":5000"}));
  Fields e = expect_failure(node);
  REQUIRE(node.lines_starting("READY ").size() == 1);  // logged in and registered first
  CHECK(str(e, "what") == "ntm_getaddrinfo");
  CHECK(num(e, "rc") == EAI_NONAME);
}

TEST_CASE("an AS certificate other than the pinned one makes ntm_start fail with "
          "NTM_EUNREACHABLE and a message naming the certificate",
          "[control-plane][errors]") {
  ControlPlane cp;
  // Another self-signed identity with the same name: only the pin tells them apart.
  const fs::path other_pem = cp.dir() / "other-as-tls.pem";
  servers::tls::ensure_identity(other_pem, cp.dir() / "other-as-tls.key", "as.example");
  ChildProcess node("alice", cp.node_argv("client", "alice", kAlicePassword,
                                          {"--connect", std::string("bob.") + kDomain + ":5000"},
                                          other_pem.string()));
  Fields e = expect_failure(node);
  CHECK(str(e, "what") == "ntm_start");
  // The library classes a TLS failure with the AS as "could not be reached" (not EAUTH).
  CHECK(num(e, "rc") == NTM_EUNREACHABLE);
  CHECK_THAT(str(e, "msg"),
             Catch::Matchers::Contains("the AS certificate does not match the pinned one"));
}

// ---- 4. forged and replayed control messages ----

TEST_CASE("a replayed, tampered or forged DC message is dropped by the node, which still "
          "accepts the genuine message that follows, and so is a Direction whose peer certificate a "
          "compromised DC altered, forged, let expire or gave another address",
          "[control-plane][security]") {
  DcProxy proxy;
  ControlPlane cp([&](servers::ServerOptions &o) { o.dc_public = {proxy.endpoint()}; });
  proxy.start(cp.app().dc()->local_endpoints().at(0));
  const control::Key32 ticket_key = cp.app().state().load_or_create_key(servers::kTicketKeyFile);
  const ntm::crypto::Ed25519PrivateKey as_key = cp.app().state().load_or_create_signing_key();
  const uint64_t bytes = 1u << 20;
  const std::vector<std::string> size = {"--bytes", std::to_string(bytes)};
  const std::vector<std::string> connect = {"--connect", std::string("bob.") + kDomain + ":5000"};

  // bob serves two connections; the first alice makes the DC send bob Direction d1.
  ChildProcess bob("bob", cp.node_argv("server", "bob", kBobPassword,
                                       size + std::vector<std::string>{"--count", "2"}));
  const Fields bob_ready = wait_ready(bob);
  const uint16_t bob_port = port_of(str(bob_ready, "endpoint_v4"));
  {
    ChildProcess alice("alice", cp.node_argv("client", "alice", kAlicePassword, size + connect));
    REQUIRE(alice.wait_exit(seconds(90)) == 0);
    CHECK(alice.lines_starting("ERROR").empty());
    REQUIRE(bob.wait_for_line("RESULT conn=0", seconds(30)));
    check_transfer(one_line(alice, "RESULT "), one_line(bob, "RESULT conn=0"), bytes, 0, 0);
  }
  const auto before = proxy.snapshot();
  const auto session = session_of(before, bob_port, ticket_key);
  REQUIRE(session);
  CHECK(node_id_hex(session->node_id) == str(bob_ready, "node_id"));
  const auto d1s = directions_to(before, bob_port, *session);
  REQUIRE(!d1s.empty());
  const Seen d1 = d1s.front();
  // The observation works: bob acknowledged the genuine d1.
  CHECK(proxy.wait_until(
      [&](const std::vector<Datagram> &log) {
        const auto acks = direction_acks(log, bob_port, *session);
        return std::any_of(acks.begin(), acks.end(),
                           [&](const Seen &a) { return a.direction_id == d1.direction_id; });
      },
      seconds(10)));

  // The second alice makes the DC send bob Direction d2; the forgeries go just before it.
  proxy.arm(bob_port, control::MessageType::direction,
            [s = *session, d1_bytes = d1.bytes, as_key](const Bytes &d2) {
              return forgeries(s, d1_bytes, d2, as_key);
            });
  ChildProcess alice("alice", cp.node_argv("client", "alice", kAlicePassword, size + connect));
  // Barrier: bob acknowledges the genuine d2. The forgeries were sent before it (loopback keeps
  // that order in bob's receive queue) and bob handles control datagrams in order, so by then
  // anything bob did about them is in the log too.
  uint32_t d2_id = 0;
  const bool d2_acked = proxy.wait_until(
      [&](const std::vector<Datagram> &log) {
        const size_t from = first_injected(log);
        if (from == log.size()) return false;  // nothing injected yet
        const auto directions = directions_to(log, bob_port, *session);
        auto d2 = std::find_if(directions.begin(), directions.end(),
                               [&](const Seen &d) { return d.index > from; });
        if (d2 == directions.end()) return false;
        d2_id = d2->direction_id;
        const auto acks = direction_acks(log, bob_port, *session);
        return std::any_of(acks.begin(), acks.end(), [&](const Seen &a) {
          return a.index > d2->index && a.direction_id == d2_id;
        });
      },
      seconds(30));
  CHECK(d2_acked);
  REQUIRE(alice.wait_exit(seconds(90)) == 0);
  REQUIRE(bob.wait_exit(seconds(30)) == 0);
  CHECK(alice.lines_starting("ERROR").empty());
  CHECK(bob.lines_starting("ERROR").empty());
  // bob still works: the second transfer is intact.
  check_transfer(one_line(alice, "RESULT "), one_line(bob, "RESULT conn=1"), bytes, 0, 1);
  proxy.stop();
  REQUIRE(proxy.error().empty());

  const auto log = proxy.snapshot();
  const size_t injected_at = first_injected(log);
  const auto injected =
      std::count_if(log.begin(), log.end(), [](const Datagram &d) { return d.injected; });
  CHECK(injected == static_cast<std::ptrdiff_t>(kForgeries));
  REQUIRE(injected_at < log.size());
  REQUIRE(d2_acked);
  CHECK(d2_id != d1.direction_id);
  // After the forgeries bob acknowledged exactly the genuine copies of d2 the DC sent (a first
  // copy and any retransmissions) and nothing else: not d1 again, not the forged ids (nor the
  // well-sealed one from a stranger), not a tampered d2 (whose flipped direction_id would show
  // as another id). A node that acts on a Direction (adds or updates the peer, starts hole
  // punching) always acknowledges it, so no ack means it was not acted on.
  size_t genuine_d2 = 0;
  for (const auto &d : directions_to(log, bob_port, *session)) {
    if (d.index < injected_at) continue;
    CHECK(d.direction_id == d2_id);
    ++genuine_d2;
  }
  size_t acked_d2 = 0;
  for (const auto &a : direction_acks(log, bob_port, *session)) {
    if (a.index < injected_at) continue;
    INFO("bob acknowledged direction " << a.direction_id << " after the forgeries (d1 "
                                       << d1.direction_id << ", d2 " << d2_id << ")");
    CHECK(a.direction_id == d2_id);
    acked_d2 += a.direction_id == d2_id;
  }
  CHECK(genuine_d2 >= 1);
  CHECK(acked_d2 == genuine_d2);
}
