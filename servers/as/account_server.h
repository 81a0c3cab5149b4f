// The Account Server (docs/protocol.md section 3): login over TLS 1.3 on TCP. Per connection it
// reads one LoginRequest frame, checks the credentials against the AccountStore, and answers
// with a LoginResponse: on success the NodeID, FQDN, a node certificate signed with the AS
// signing key, the DC endpoints, a fresh DC session key and a ticket sealed for the DC.
//
// A library object: start() binds and runs an accept thread plus a small pool of worker
// threads; stop() (or the destructor) closes everything and joins. Tests run it on loopback.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "as/rate_limiter.h"
#include "as/tls.h"
#include "common/metrics.h"
#include "control/login.h"
#include "crypto/ed25519.h"
#include "io/unique_fd.h"
#include "store/account_store.h"
#include "store/password_hash.h"

namespace ntm::servers {

struct AccountServerConfig {
  Endpoint listen = Endpoint::v4({127, 0, 0, 1}, control::kAsPort);  // port 0: any free port
  std::string domain = "ntm";                 // FQDN = <account>.<domain>
  std::filesystem::path tls_cert;             // PEM, e.g. <state>/as-tls.pem
  std::filesystem::path tls_key;              // PEM, e.g. <state>/as-tls.key
  crypto::Ed25519PrivateKey sign_key{};       // AS signing key (certificates)
  control::Key32 ticket_key{};                // AS-DC ticket key
  std::vector<Endpoint> dc_endpoints;         // returned to nodes (public DC addresses)
  std::chrono::seconds session_lifetime{24 * 3600};  // certificate, ticket and session expiry
  unsigned workers = 4;                       // concurrent logins (scrypt: ~16 MiB each)
  size_t max_queued = 64;                     // accepted connections waiting; more are closed
  std::chrono::milliseconds io_timeout{10000};
  unsigned failed_login_burst = 10;           // failures per address before rate limiting
  std::chrono::milliseconds failed_login_refill{6000};  // one more failure allowed per period
  std::function<uint64_t()> now_unix;         // default: the system clock
};

class AccountServer {
 public:
  AccountServer(AccountServerConfig config, AccountStore& accounts);
  ~AccountServer();
  AccountServer(const AccountServer&) = delete;
  AccountServer& operator=(const AccountServer&) = delete;

  // Loads the TLS identity, binds, listens and starts the threads. Throws std::system_error
  // (bind/listen) or CryptoError (TLS files).
  void start();
  // Stops accepting, interrupts connections in progress and joins every thread. Idempotent.
  void stop();

  // The bound address (with the real port when config.listen had port 0).
  Endpoint local_endpoint() const { return local_; }

  // Handles one decoded request (no I/O): used by the connection handler and by tests.
  control::LoginResponse handle_login(const control::LoginRequest& request, const Endpoint& from);

  // How login connections ended, for `ntm-server status` and the metrics endpoint.
  const ReasonCounters<AsLogin>& logins() const { return logins_; }

 private:
  void accept_loop();
  void worker_loop();
  void serve_connection(int fd, const Endpoint& from);
  uint64_t now_unix() const;
  void count_login(control::LoginStatus status);

  AccountServerConfig config_;
  AccountStore& accounts_;
  FailureRateLimiter limiter_;
  tls::SslCtxPtr ctx_;
  io::UniqueFd listen_fd_;
  io::UniqueFd wake_fd_;
  Endpoint local_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<io::UniqueFd, Endpoint>> queue_;
  std::unordered_set<int> active_fds_;
  ReasonCounters<AsLogin> logins_;
};

}  // namespace ntm::servers
