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
  // network: the AS could not be reached, closed the connection or did not answer in time;
  // tls: its certificate is not the pinned one (or TLS itself failed); rejected: it refused the
  // login (credentials, disabled, rate limited); busy: it asked us to come back later;
  // protocol: it sent something malformed.
  enum class Kind { network, tls, rejected, protocol, busy };
  LoginError(Kind kind, const std::string& message,
             std::chrono::milliseconds retry_after = std::chrono::milliseconds(0))
      : std::runtime_error(message), kind_(kind), retry_after_(retry_after) {}
  Kind kind() const { return kind_; }
  // For busy: when the AS asked to be tried again.
  std::chrono::milliseconds retry_after() const { return retry_after_; }
  // True for the kinds worth another attempt (network, busy).
  bool transient() const { return kind_ == Kind::network || kind_ == Kind::busy; }

 private:
  Kind kind_;
  std::chrono::milliseconds retry_after_;
};

// Logs in and returns the grant (NodeID, FQDN, certificate, DC endpoints, session key, ticket).
// Blocks up to `timeout` per network step. Throws LoginError naming the problem.
control::LoginGrant login(const ControlPlaneConfig& config, const crypto::X25519Key& static_public,
                          std::chrono::milliseconds timeout);

// login() again and again while the failure is transient: after a busy answer, the time the AS
// asked for (plus up to half of it again, at random); after a network failure, a jittered
// exponential backoff from 250 ms to 4 s. Stops when `budget` (config.start_timeout at
// start-up) has passed since the first attempt - an attempt in progress finishes first - and
// throws the last error. A refusal or a certificate mismatch throws at once. So hundreds of
// nodes starting together spread themselves over time instead of failing.
control::LoginGrant login_with_retry(const ControlPlaneConfig& config,
                                     const crypto::X25519Key& static_public,
                                     std::chrono::milliseconds step_timeout,
                                     std::chrono::milliseconds budget);

}  // namespace ntm::node
