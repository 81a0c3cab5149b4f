// Test-side clients for the servers: a pinned TLS 1.3 login, a blocking UDP socket, and a
// TestNode that logs in, registers with the DC and talks to it through a DcChannel, the way a
// real node does (a node's control code can follow the same steps).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "control/dc_channel.h"
#include "control/dc_messages.h"
#include "control/login.h"
#include "control/relay_messages.h"
#include "io/unique_fd.h"
#include "util/endpoint.h"

namespace ntm::test {

using namespace std::chrono_literals;

// A temporary directory removed when destroyed.
struct TempDir {
  TempDir();
  ~TempDir();
  std::filesystem::path path;
};

struct LoginResult {
  bool tls_ok = false;   // the TLS handshake (with certificate verification) succeeded
  std::string tls_error;
  std::optional<control::LoginResponse> response;
};

// Connects to `as` (from `source` when given, e.g. another 127/8 address), verifies its
// certificate against `pinned_pem`, sends the raw `frame` (or the encoded request) and reads one
// response frame.
LoginResult tls_exchange(const Endpoint& as, const std::filesystem::path& pinned_pem,
                         const control::Bytes& frame,
                         const std::optional<Endpoint>& source = std::nullopt);
LoginResult tls_login(const Endpoint& as, const std::filesystem::path& pinned_pem,
                      const control::LoginRequest& request,
                      const std::optional<Endpoint>& source = std::nullopt);

class UdpSocket {
 public:
  explicit UdpSocket(const Endpoint& bind = Endpoint::v4({127, 0, 0, 1}, 0));
  void send_to(const Endpoint& to, std::span<const uint8_t> bytes);
  struct Datagram {
    control::Bytes bytes;
    Endpoint from;
  };
  std::optional<Datagram> receive(std::chrono::milliseconds timeout);
  Endpoint local() const { return local_; }

 private:
  io::UniqueFd fd_;
  Endpoint local_;
};

// A node's control side, driven step by step, as control/registration.h describes: a Register,
// the DC's challenge, a Register with it, then the registration's own key.
class TestNode {
 public:
  // `bind` is the node's socket address (IPv4 loopback by default).
  TestNode(const control::LoginGrant& grant, const Endpoint& dc,
           const Endpoint& bind = Endpoint::v4({127, 0, 0, 1}, 0));

  UdpSocket& socket() { return socket_; }
  const control::LoginGrant& grant() const { return grant_; }

  // The whole registration (private endpoints default to the socket's own address): Register,
  // wait for the challenge, Register with it, wait for the RegisterAck (other messages
  // received meanwhile are queued).
  std::optional<control::RegisterAck> register_node(std::vector<Endpoint> private_endpoints = {});
  // One Register with `challenge` (zero: none), sealed with the session key.
  void send_register(std::vector<Endpoint> private_endpoints, const control::Challenge& challenge);
  // Waits for the next RegisterChallenge (one that came earlier counts).
  std::optional<control::Challenge> wait_challenge(std::chrono::milliseconds timeout = 2s);
  std::optional<control::KeepaliveAck> keepalive();
  // Any message but Register, sealed with the registration's key (it must be registered).
  void send(control::MessageType type, const control::Bytes& plain);
  // Waits for the next authenticated message of `type` (others are kept for later calls).
  std::optional<control::DcChannel::Opened> wait_for(control::MessageType type,
                                                     std::chrono::milliseconds timeout = 2s);
  // The version its Registers state (1: a node before 0.4, which sent none).
  uint8_t protocol_version = control::kNodeProtocolVersion;
  // Raw datagrams received and dropped because they did not open.
  size_t unopened() const { return unopened_; }
  // The last raw datagram the node sent, and the last Register (for replay tests).
  const control::Bytes& last_sent() const { return last_sent_; }
  const control::Bytes& last_register() const { return last_register_; }

 private:
  bool receive_one(std::chrono::milliseconds timeout);  // false: nothing arrived

  UdpSocket socket_;
  control::LoginGrant grant_;
  Endpoint dc_;
  control::DcChannel session_channel_;
  std::optional<control::DcChannel> channel_, pending_;
  std::vector<control::DcChannel::Opened> queue_;
  std::vector<control::Challenge> challenges_;
  control::Bytes last_sent_, last_register_;
  size_t unopened_ = 0;
};

// Binds `s` to a relay the way a node does: RelayBind (proof of `token`) without a cookie, the
// RS's RelayChallenge, RelayBind with the cookie, RelayBindAck. `sequence` grows by 2. False
// when either answer is missing.
bool relay_bind(UdpSocket& s, const Endpoint& rs, uint32_t relay_id, uint64_t node_id,
                uint64_t expires_unix, const control::RelayToken& token, uint64_t& sequence);

// A fixed X25519-shaped public key for tests (not a real key: the servers never use it in DH).
control::Key32 fake_static_key(uint8_t seed);

}  // namespace ntm::test
