// The node's side of login: TLS 1.3 to the Account Server, whose certificate the application
// pinned, one LoginRequest, one LoginResponse (docs/protocol.md section 3).
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

#include "control/login.h"
#include "crypto/x25519.h"
#include "node/node_config.h"

namespace ntm::node {

class LoginError : public std::runtime_error {
 public:
  enum class Kind { network, tls, rejected, protocol };
  LoginError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

// Logs in and returns the grant (NodeID, FQDN, certificate, DC endpoints, session key, ticket).
// Blocks up to `timeout` per network step. Throws LoginError naming the problem.
control::LoginGrant login(const ControlPlaneConfig& config, const crypto::X25519Key& static_public,
                          std::chrono::milliseconds timeout);

}  // namespace ntm::node
