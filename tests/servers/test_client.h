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

// A node's control side, driven step by step.
class TestNode {
 public:
  // `bind` is the node's socket address (IPv4 loopback by default).
  TestNode(const control::LoginGrant& grant, const Endpoint& dc,
           const Endpoint& bind = Endpoint::v4({127, 0, 0, 1}, 0));

  UdpSocket& socket() { return socket_; }
  const control::LoginGrant& grant() const { return grant_; }
  control::DcChannel& channel() { return channel_; }

  // Sends Register (private endpoints default to the socket's own address) and waits for the
  // RegisterAck (other messages received meanwhile are queued).
  std::optional<control::RegisterAck> register_node(std::vector<Endpoint> private_endpoints = {});
  std::optional<control::KeepaliveAck> keepalive();
  void send(control::MessageType type, const control::Bytes& plain);
  // Waits for the next authenticated message of `type` (others are kept for later calls).
  std::optional<control::DcChannel::Opened> wait_for(control::MessageType type,
                                                     std::chrono::milliseconds timeout = 2s);
  // Raw datagrams received and dropped because they did not open.
  size_t unopened() const { return unopened_; }
  // The last raw datagram the node sent (for replay tests).
  const control::Bytes& last_sent() const { return last_sent_; }

 private:
  UdpSocket socket_;
  control::LoginGrant grant_;
  Endpoint dc_;
  control::DcChannel channel_;
  std::vector<control::DcChannel::Opened> queue_;
  control::Bytes last_sent_;
  size_t unopened_ = 0;
};

// A fixed X25519-shaped public key for tests (not a real key: the servers never use it in DH).
control::Key32 fake_static_key(uint8_t seed);

}  // namespace ntm::test
