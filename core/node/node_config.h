// A node's configuration in C++ terms, validated by the C ABI layer before a Node starts.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/x25519.h"
#include "util/endpoint.h"
#include "util/log.h"

namespace ntm::node {

struct StaticPeer {
  std::string name;
  crypto::X25519Key public_key{};
  std::optional<Endpoint> endpoint;
  std::optional<std::array<uint8_t, 4>> vip4;
  std::optional<std::array<uint8_t, 16>> vip6;
};

struct NodeEvent {
  enum class Type {
    started = 1,
    stopping = 2,
    tunnel_up = 3,
    tunnel_down = 4,
    path_changed = 5,
    registered = 6,
    peer_revoked = 7,
    revoked = 8,
    server_unreachable = 9
  };
  Type type;
  std::string peer_name;
  std::string peer_node_id;
  std::string endpoint;
  int path = 0;  // tunnel::PathKind
  std::string message;
};

// Control-plane mode: the node logs in to an AS and registers with the DC it names.
struct ControlPlaneConfig {
  Endpoint server;                  // the AS
  std::string server_certificate;   // PEM of the AS certificate to pin
  std::string account;
  std::string password;             // or a one-time enrollment token
  std::string state_dir;            // empty: nothing on disk
  std::chrono::milliseconds direct_timeout{1000};
  // How long start-up keeps retrying a busy or silent AS/DC (a refused login fails at once).
  std::chrono::milliseconds start_timeout{30000};
};

struct NodeConfig {
  std::string name;
  crypto::X25519KeyPair key{};  // all zero: none given (control-plane mode makes one)
  std::optional<std::array<uint8_t, 4>> vip4;
  std::optional<std::array<uint8_t, 16>> vip6;
  std::optional<Endpoint> listen_v4 = Endpoint::parse("0.0.0.0:0");
  std::optional<Endpoint> listen_v6 = Endpoint::parse("[::]:0");
  std::vector<StaticPeer> peers;
  crypto::AeadAlgorithm cipher = crypto::AeadAlgorithm::aes_256_gcm;
  uint16_t mtu = 1420;
  std::chrono::milliseconds idle_timeout{180000};
  // Limits (ntm_options version 3; docs in ntm.h).
  size_t memory_limit = size_t{256} << 20;
  unsigned max_sockets = 16384;
  unsigned max_connections_per_peer = 1024;
  size_t max_socket_buffer = size_t{16} << 20;
  std::chrono::milliseconds keepalive_interval{25000};
  std::string control_socket;  // empty: no local control API
  std::function<void(const NodeEvent&)> on_event;  // called on the event thread, in order
  std::optional<ControlPlaneConfig> control;       // nullopt: static-peer mode
};

// NodeID in static-peer mode: the first 8 bytes of SHA-256 of the static public key.
uint64_t node_id_from_key(const crypto::X25519Key& public_key);
std::string node_id_hex(uint64_t node_id);

}  // namespace ntm::node
