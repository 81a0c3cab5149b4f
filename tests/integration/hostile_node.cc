// ntm-hostile-node: "mallory", an authenticated but hostile node written for the security tests.
// It speaks the real protocol with the core's own pieces (engine, tunnel table, UDP transport,
// and in control-plane mode the login and DC client) but has no virtual stack: it writes inner
// IP packets by hand, so it can put any source address into them.
//
//   ntm-hostile-node spoof STATIC-OPTIONS | CONTROL-OPTIONS [--count N] [--port N] [--timeout S]
//     static:  --key PRIVATE --vip4 A --vip6 A --peer NAME,PUBLIC,ENDPOINT,VIP4,VIP6
//              --claim4 A --claim6 A           (the addresses to claim: another node's)
//     control: --server HOST:PORT --server-cert PEM-FILE --account A --password P
//              --target FQDN --claim-name FQDN (the node whose addresses to claim)
//
// spoof: sends N UDP datagrams over IPv4 and N over IPv6 to the target's virtual port with the
// claimed node's virtual address as source ("SPOOF4 i" / "SPOOF6 i"), then one datagram of each
// family from its own addresses ("MALLORY4" / "MALLORY6"), waits for the target to echo those
// two, and sends "FIN". Reports on stdout: READY, CLAIM (the addresses it claimed), RESULT
// (spoofed_sent, genuine_echoed), or ERROR. Only loopback endpoints are used by the tests.
//
//   ntm-hostile-node policy CONTROL-OPTIONS --target FQDN --port ALLOWED --sneak-port DENIED
//                    --sneak-sport SPORT [--timeout S]
// policy: an access policy lets it open only the target's UDP port ALLOWED. It ignores what the
// DC told its own engine (it clears the tunnel's access) and sends "SNEAK" to DENIED from port
// 40000, "SNEAK-SPORT" to DENIED from SPORT (a port the target may open on it, as if it were a
// reply), then "GENUINE" to ALLOWED until echoed. Reports RESULT sneaked=2 genuine_echoed=0|1.
//
//   ntm-hostile-node resolve-flood CONTROL-OPTIONS --target FQDN [--count N] [--timeout S]
// resolve-flood: after resolving the target once, sends N more Resolves of it at once (each with
// its own request id, as separate connects would), waits 3 s and reports RESULT resolves=N.
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/encoding.h"
#include "crypto/x25519.h"
#include "io/udp_transport.h"
#include "node/control_client.h"
#include "node/login_client.h"
#include "tunnel/constants.h"
#include "tunnel/engine.h"
#include "tunnel/tunnel_table.h"
#include "wire/bytes.h"
#include "wire/constants.h"

namespace {

using namespace std::chrono_literals;
using ntm::Endpoint;
using Bytes = std::vector<uint8_t>;
namespace tunnel = ntm::tunnel;
namespace node = ntm::node;

void emit(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void emit(const char* fmt, ...) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

[[noreturn]] void die(const std::string& what) {
  emit("ERROR what=%s", what.c_str());
  std::_Exit(1);
}

std::string text4(const tunnel::Ipv4& a) {
  char out[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a.data(), out, sizeof out);
  return out;
}
std::string text6(const tunnel::Ipv6& a) {
  char out[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.data(), out, sizeof out);
  return out;
}
tunnel::Ipv4 parse4(const std::string& s) {
  tunnel::Ipv4 a{};
  if (inet_pton(AF_INET, s.c_str(), a.data()) != 1) die("not an IPv4 address: " + s);
  return a;
}
tunnel::Ipv6 parse6(const std::string& s) {
  tunnel::Ipv6 a{};
  if (inet_pton(AF_INET6, s.c_str(), a.data()) != 1) die("not an IPv6 address: " + s);
  return a;
}
ntm::crypto::X25519Key parse_key(const std::string& s) {
  auto raw = ntm::crypto::base64_decode(s);
  if (!raw || raw->size() != 32) die("not a 32-byte base64 key: " + s);
  ntm::crypto::X25519Key k{};
  std::copy(raw->begin(), raw->end(), k.begin());
  return k;
}

// ---- inner packets, written by hand (with correct checksums, as a real stack would) ----

uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += ntm::wire::load_be16(p + i);
  if (n % 2) sum += static_cast<uint32_t>(p[n - 1]) << 8;
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

constexpr uint16_t kSourcePort = 40000;
constexpr size_t kUdpHeader = 8;

Bytes udp4(const tunnel::Ipv4& src, const tunnel::Ipv4& dst, uint16_t dport,
           const std::string& payload, uint16_t sport = kSourcePort) {
  const size_t udp_len = kUdpHeader + payload.size();
  Bytes p(20 + udp_len);
  p[0] = 0x45;
  ntm::wire::store_be16(&p[2], static_cast<uint16_t>(p.size()));
  p[8] = 64;
  p[9] = 17;
  std::copy(src.begin(), src.end(), p.begin() + 12);
  std::copy(dst.begin(), dst.end(), p.begin() + 16);
  ntm::wire::store_be16(&p[10], fold(sum16(p.data(), 20)));
  uint8_t* u = &p[20];
  ntm::wire::store_be16(u, sport);
  ntm::wire::store_be16(u + 2, dport);
  ntm::wire::store_be16(u + 4, static_cast<uint16_t>(udp_len));
  std::memcpy(u + kUdpHeader, payload.data(), payload.size());
  uint32_t pseudo = sum16(src.data(), 4, sum16(dst.data(), 4)) + 17 + static_cast<uint32_t>(udp_len);
  uint16_t c = fold(sum16(u, udp_len, pseudo));
  ntm::wire::store_be16(u + 6, c == 0 ? 0xffff : c);
  return p;
}

Bytes udp6(const tunnel::Ipv6& src, const tunnel::Ipv6& dst, uint16_t dport,
           const std::string& payload) {
  const size_t udp_len = kUdpHeader + payload.size();
  Bytes p(40 + udp_len);
  p[0] = 0x60;
  ntm::wire::store_be16(&p[4], static_cast<uint16_t>(udp_len));
  p[6] = 17;
  p[7] = 64;
  std::copy(src.begin(), src.end(), p.begin() + 8);
  std::copy(dst.begin(), dst.end(), p.begin() + 24);
  uint8_t* u = &p[40];
  ntm::wire::store_be16(u, kSourcePort);
  ntm::wire::store_be16(u + 2, dport);
  ntm::wire::store_be16(u + 4, static_cast<uint16_t>(udp_len));
  std::memcpy(u + kUdpHeader, payload.data(), payload.size());
  uint32_t pseudo = sum16(src.data(), 16, sum16(dst.data(), 16)) + 17 + static_cast<uint32_t>(udp_len);
  uint16_t c = fold(sum16(u, udp_len, pseudo));
  ntm::wire::store_be16(u + 6, c == 0 ? 0xffff : c);
  return p;
}

// The UDP payload of an inner packet addressed to us, if it is one.
std::optional<std::string> udp_payload(std::span<const uint8_t> inner) {
  if (inner.empty()) return std::nullopt;
  size_t header = 0;
  if ((inner[0] >> 4) == 4 && inner.size() >= 20 && inner[9] == 17) header = (inner[0] & 0xf) * 4u;
  if ((inner[0] >> 4) == 6 && inner.size() >= 40 && inner[6] == 17) header = 40;
  if (header == 0 || inner.size() < header + kUdpHeader) return std::nullopt;
  auto body = inner.subspan(header + kUdpHeader);
  return std::string(body.begin(), body.end());
}

// ---- the node without a stack ----

struct Options {
  std::string key;
  std::string vip4, vip6, peer, claim4, claim6;
  std::string server, server_cert, account, password, target, claim_name;
  int count = 5;
  uint16_t port = 5000;
  uint16_t sneak_port = 0, sneak_sport = 0;
  unsigned timeout_s = 60;
};

class Mallory final : public tunnel::EngineSink {
 public:
  explicit Mallory(const Options& o) : options_(o) {
    ntm::io::UdpOptions udp;
    udp.bind_v4 = Endpoint::parse("127.0.0.1:0");
    udp.enable_v6 = false;
    transport_ = ntm::io::UdpTransport::open(udp);
  }
  ~Mallory() override {
    running_.store(false);
    transport_->wake();
    if (receiver_.joinable()) receiver_.join();
  }

  void start_static() {
    key_.private_key = parse_key(options_.key);
    key_.public_key = ntm::crypto::x25519_public_from_private(key_.private_key);
    vip4_ = parse4(options_.vip4);
    vip6_ = parse6(options_.vip6);
    make_engine();
    // NAME,PUBLIC,ENDPOINT,VIP4,VIP6
    std::vector<std::string> f;
    std::stringstream ss(options_.peer);
    for (std::string part; std::getline(ss, part, ',');) f.push_back(part);
    if (f.size() != 5) die("--peer needs NAME,PUBLIC,ENDPOINT,VIP4,VIP6");
    tunnel::PeerIdentity id;
    id.fqdn = f[0];
    id.static_public = parse_key(f[1]);
    id.node_id = node::node_id_from_key(id.static_public);
    id.vip4 = parse4(f[3]);
    id.vip6 = parse6(f[4]);
    auto endpoint = Endpoint::parse(f[2]);
    if (!endpoint) die("bad peer endpoint " + f[2]);
    auto ref = table_.add(id, /*pinned=*/true);
    if (!ref) die("cannot add the peer");
    {
      std::lock_guard lock(ref->mutex);
      ref->endpoint = *endpoint;
      ref->path = tunnel::PathKind::direct;
    }
    target4_ = *id.vip4;
    target6_ = *id.vip6;
    claim4_ = parse4(options_.claim4);
    claim6_ = parse6(options_.claim6);
    run_receiver();
  }

  void start_control() {
    key_ = ntm::crypto::x25519_generate();
    node::ControlPlaneConfig cp;
    auto server = Endpoint::parse(options_.server);
    if (!server) die("bad --server " + options_.server);
    cp.server = *server;
    std::ifstream pem(options_.server_cert);
    if (!pem) die("cannot read " + options_.server_cert);
    cp.server_certificate.assign(std::istreambuf_iterator<char>(pem), {});
    cp.account = options_.account;
    cp.password = options_.password;
    make_engine();
    auto grant = node::login(cp, key_.public_key, 5000ms);
    control_ = std::make_unique<node::ControlClient>(
        cp, grant, *engine_, table_, *transport_,
        [cp, k = key_.public_key] { return node::login(cp, k, 5000ms); });
    auto reg = control_->register_blocking(5000ms);
    vip4_ = reg.vip4;
    vip6_ = reg.vip6;
    run_receiver();
    auto claimed = control_->resolve_name(options_.claim_name, 5000ms);
    if (!claimed) die("cannot resolve " + options_.claim_name);
    auto target = control_->resolve_name(options_.target, 5000ms);
    if (!target) die("cannot resolve " + options_.target);
    target_node_ = target->node_id;
    claim4_ = claimed->vip4;
    claim6_ = claimed->vip6;
    target4_ = target->vip4;
    target6_ = target->vip6;
  }

  // Control mode, the policy scenario: ignores the access the DC gave its engine.
  int sneak() {
    emit("READY vip4=%s vip6=%s", text4(vip4_).c_str(), text6(vip6_).c_str());
    auto peer = table_.find_node_id(target_node_);
    if (!peer) die("the target is not in the tunnel table");
    {
      std::lock_guard lock(peer->mutex);
      if (!peer->access.restricted) die("the DC sent no restricted access for the target");
      peer->access = tunnel::PeerAccess{};  // what an honest node would enforce on itself
    }
    send(udp4(vip4_, target4_, options_.sneak_port, "SNEAK"));
    send(udp4(vip4_, target4_, options_.sneak_port, "SNEAK-SPORT", options_.sneak_sport));
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      send(udp4(vip4_, target4_, options_.port, "GENUINE"));
      std::unique_lock lock(mu_);
      if (changed_.wait_for(lock, 200ms, [&] { return echoes_.count("GENUINE") > 0; })) break;
      if (std::chrono::steady_clock::now() > give_up) break;
    }
    const bool genuine = echoed("GENUINE");
    emit("RESULT sneaked=2 genuine_echoed=%d", genuine ? 1 : 0);
    return genuine ? 0 : 1;
  }

  // Control mode, the resolve-flood scenario.
  int flood() {
    emit("READY vip4=%s vip6=%s", text4(vip4_).c_str(), text6(vip6_).c_str());
    for (int i = 0; i < options_.count; ++i) control_->request_direction(options_.target);
    std::this_thread::sleep_for(3s);
    emit("RESULT resolves=%d", options_.count);
    return 0;
  }

  // Returns 0 when the target echoed both genuine datagrams.
  int spoof() {
    emit("READY vip4=%s vip6=%s", text4(vip4_).c_str(), text6(vip6_).c_str());
    emit("CLAIM vip4=%s vip6=%s", text4(claim4_).c_str(), text6(claim6_).c_str());
    for (int i = 0; i < options_.count; ++i) {
      send(udp4(claim4_, target4_, options_.port, "SPOOF4 " + std::to_string(i)));
      send(udp6(claim6_, target6_, options_.port, "SPOOF6 " + std::to_string(i)));
    }
    // The genuine datagrams follow the spoofed ones on the same tunnel; their echoes prove the
    // target has processed everything before them. Resent until echoed (UDP may drop them).
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      if (!echoed("MALLORY4")) send(udp4(vip4_, target4_, options_.port, "MALLORY4"));
      if (!echoed("MALLORY6")) send(udp6(vip6_, target6_, options_.port, "MALLORY6"));
      std::unique_lock lock(mu_);
      if (changed_.wait_for(lock, 200ms, [&] { return echoes_.size() >= 2; })) break;
      if (std::chrono::steady_clock::now() > give_up) break;
    }
    const size_t genuine = echoes_count();
    for (int i = 0; i < 3; ++i) send(udp4(vip4_, target4_, options_.port, "FIN"));
    emit("RESULT spoofed_sent=%d genuine_echoed=%zu", 2 * options_.count, genuine);
    return genuine == 2 ? 0 : 1;
  }

 private:
  void make_engine() {
    tunnel::EngineConfig config;
    config.static_key = key_;
    engine_ = std::make_unique<tunnel::Engine>(config, table_);
  }

  bool echoed(const std::string& what) {
    std::lock_guard lock(mu_);
    return echoes_.count(what) > 0;
  }
  size_t echoes_count() {
    std::lock_guard lock(mu_);
    return echoes_.size();
  }

  void send(const Bytes& inner) {
    std::lock_guard lock(send_mu_);
    auto buffer = datagram_buffer(tunnel::kDatagramHeadroom + inner.size() +
                                  tunnel::kDatagramTailroom);
    std::copy(inner.begin(), inner.end(), buffer.begin() + tunnel::kDatagramHeadroom);
    engine_->send_inner(buffer, inner.size(), *this, tunnel::Clock::now());
  }

  void run_receiver() {
    running_.store(true);
    receiver_ = std::thread([this] {
      std::vector<uint8_t> storage(ntm::io::UdpTransport::kMaxBatch * 65536);
      std::vector<ntm::io::ReceiveSlot> slots(ntm::io::UdpTransport::kMaxBatch);
      for (size_t i = 0; i < slots.size(); ++i) {
        slots[i].buffer = std::span(storage).subspan(i * 65536, 65536);
      }
      while (running_.load()) {
        size_t n = transport_->receive(slots, 20ms);
        const auto now = tunnel::Clock::now();
        std::lock_guard lock(send_mu_);
        for (size_t i = 0; i < n; ++i) dispatch(slots[i].buffer.first(slots[i].length), slots[i].from, now);
        if (control_) control_->tick(*this, now);
        engine_->tick(*this, now);
      }
    });
  }

  void dispatch(std::span<uint8_t> datagram, const Endpoint& from, tunnel::TimePoint now) {
    if (datagram.empty()) return;
    if (control_ && node::ControlClient::is_control(datagram)) {
      control_->on_datagram(datagram, from, *this, now);
      return;
    }
    if (datagram[0] == ntm::wire::kRelayedType) {
      if (datagram.size() <= ntm::wire::kRelayHeaderSize) return;
      uint32_t relay_id = ntm::wire::load_be32(&datagram[4]);
      engine_->receive(datagram.subspan(ntm::wire::kRelayHeaderSize), from, *this, now, relay_id);
      return;
    }
    engine_->receive(datagram, from, *this, now);
  }

  // EngineSink
  std::span<uint8_t> datagram_buffer(size_t size) override {
    if (buffer_.size() < size) buffer_.resize(size);
    return std::span(buffer_).first(size);
  }
  void send(const Endpoint& to, size_t offset, size_t length) override {
    ntm::io::OutgoingDatagram d{to, std::span(buffer_).subspan(offset, length)};
    transport_->send_batch(std::span(&d, 1));
  }
  void deliver(std::span<const uint8_t> inner) override {
    auto payload = udp_payload(inner);
    if (!payload) return;
    std::lock_guard lock(mu_);
    echoes_.insert(*payload);
    changed_.notify_all();
  }
  void event(const tunnel::EngineEvent&) override {}

  Options options_;
  ntm::crypto::X25519KeyPair key_{};
  uint64_t target_node_ = 0;
  tunnel::Ipv4 vip4_{}, target4_{}, claim4_{};
  tunnel::Ipv6 vip6_{}, target6_{}, claim6_{};
  tunnel::TunnelTable table_;
  std::unique_ptr<tunnel::Engine> engine_;
  std::unique_ptr<ntm::io::UdpTransport> transport_;
  std::unique_ptr<node::ControlClient> control_;
  std::recursive_mutex send_mu_;  // the engine's sink buffer is shared by both threads
  Bytes buffer_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::set<std::string> echoes_;
  std::atomic<bool> running_{false};
  std::thread receiver_;
};

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc >= 2 ? argv[1] : "";
  if (mode != "spoof" && mode != "policy" && mode != "resolve-flood") {
    fprintf(stderr, "usage: ntm-hostile-node spoof|policy|resolve-flood OPTIONS (see the source)\n");
    return 2;
  }
  Options o;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string opt = argv[i], value = argv[i + 1];
    if (opt == "--key") o.key = value;
    else if (opt == "--vip4") o.vip4 = value;
    else if (opt == "--vip6") o.vip6 = value;
    else if (opt == "--peer") o.peer = value;
    else if (opt == "--claim4") o.claim4 = value;
    else if (opt == "--claim6") o.claim6 = value;
    else if (opt == "--server") o.server = value;
    else if (opt == "--server-cert") o.server_cert = value;
    else if (opt == "--account") o.account = value;
    else if (opt == "--password") o.password = value;
    else if (opt == "--target") o.target = value;
    else if (opt == "--claim-name") o.claim_name = value;
    else if (opt == "--count") o.count = std::stoi(value);
    else if (opt == "--port") o.port = static_cast<uint16_t>(std::stoul(value));
    else if (opt == "--sneak-port") o.sneak_port = static_cast<uint16_t>(std::stoul(value));
    else if (opt == "--sneak-sport") o.sneak_sport = static_cast<uint16_t>(std::stoul(value));
    else if (opt == "--timeout") o.timeout_s = static_cast<unsigned>(std::stoul(value));
    else {
      fprintf(stderr, "ntm-hostile-node: unknown option %s\n", opt.c_str());
      return 2;
    }
  }
  alarm(o.timeout_s);  // a hung run must not outlive its test
  try {
    Mallory m(o);
    if (o.server.empty()) {
      m.start_static();
    } else {
      m.start_control();
    }
    int rc = mode == "policy" ? m.sneak() : mode == "resolve-flood" ? m.flood() : m.spoof();
    std::fflush(stdout);
    std::_Exit(rc);  // the receiver thread may still run
  } catch (const std::exception& e) {
    die(e.what());
  }
}
