// The Account Server (docs/protocol.md section 3): login over TLS 1.3 on TCP. Per connection it
// reads one LoginRequest frame, checks the credentials against the AccountStore, and answers
// with a LoginResponse: on success the NodeID, FQDN, a node certificate signed with the AS
// signing key, the DC endpoints, a fresh DC session key and a ticket sealed for the DC.
//
// A library object: start() binds and runs one event-loop thread (accepts, non-blocking TLS
// handshakes, reads and writes for every connection) and a small pool of password-hash workers
// (login_workers.h); stop() (or the destructor) closes everything and joins. Tests run it on
// loopback.
//
// Against slow or hostile clients (docs/security.md, "Account server"): a connection has one
// deadline for its whole TLS handshake and request, the connections a source holds in that phase
// are limited, all connections are limited, and a login that would wait too long for a worker
// is answered "busy, retry in N ms" (LoginStatus::busy) rather than queued or dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "as/login_connection.h"
#include "as/login_workers.h"
#include "as/rate_limiter.h"
#include "as/source_limits.h"
#include "common/log_limiter.h"
#include "as/tls.h"
#include "common/metrics.h"
#include "control/login.h"
#include "crypto/ed25519.h"
#include "io/unique_fd.h"
#include "store/account_store.h"
#include "store/address_store.h"
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
  unsigned workers = 0;                       // password-hash threads (~19 MiB each); 0: one per core
  // Logins waiting for a worker; more get busy. A short queue (a few per worker) keeps the
  // workers busy while the others come back later; a long one only makes clients time out.
  size_t max_queued = 0;                      // 0: 4 per worker
  // A login whose estimated wait for a worker is longer gets busy (nodes give up after 5 s).
  std::chrono::milliseconds max_login_wait{2000};
  size_t max_connections = 4096;              // open at once; more are closed at accept
  unsigned max_connections_per_source = 64;   // in handshake/request, per IPv4 address or IPv6 /64
  std::chrono::milliseconds handshake_timeout{10000};  // TLS handshake + request, in all
  std::chrono::milliseconds io_timeout{5000};          // sending the response
  unsigned failed_login_burst = 10;           // failures per address before rate limiting
  std::chrono::milliseconds failed_login_refill{6000};  // one more failure allowed per period
  // Per account, from any address: after this many failures in a row the account is locked
  // for account_lock_base, doubling with each further failure up to account_lock_max.
  unsigned account_free_failures = 5;
  std::chrono::milliseconds account_lock_base{2000};
  std::chrono::milliseconds account_lock_max{15 * 60 * 1000};
  std::function<uint64_t()> now_unix;         // default: the system clock
};

class AccountServer {
 public:
  // `addresses`: the virtual addresses the AS certifies at login (shared with the DC, which
  // gives nodes the same ones); null only in tests of the AS alone (certificates with zero
  // addresses, which peers would refuse).
  AccountServer(AccountServerConfig config, AccountStore& accounts,
                AddressStore* addresses = nullptr);
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
  struct Completion {
    uint64_t id;
    control::Bytes frame;
  };

  void event_loop();
  void accept_ready();
  void on_ready(uint64_t id, bool readable_or_writable);
  void after_advance(uint64_t id, LoginConnection& c);
  // A complete request: answered at once (malformed, rate limited, busy) or handed to a worker.
  void dispatch(uint64_t id, LoginConnection& c);
  void respond(uint64_t id, LoginConnection& c, const control::LoginResponse& response);
  void drain_completions();
  void expire(LoginConnection::Clock::time_point now);
  void close_connection(uint64_t id);
  void watch(uint64_t id, const LoginConnection& c, bool add);

  // The quick checks before any password work; nullopt: go on.
  std::optional<control::LoginResponse> precheck(const control::LoginRequest& request,
                                                 const Endpoint& from);
  // rate_limited when the account is locked after failed logins; nullopt otherwise.
  std::optional<control::LoginResponse> account_locked(const control::LoginRequest& request,
                                                       const Endpoint& from);
  // The password check and, on success, the credentials (the slow part: runs on a worker).
  control::LoginResponse authenticate(const control::LoginRequest& request, const Endpoint& from);
  uint64_t now_unix() const;
  void count_login(control::LoginStatus status);

  AccountServerConfig config_;
  AccountStore& accounts_;
  AddressStore* addresses_;
  FailureRateLimiter limiter_;
  AccountBackoff account_backoff_;
  tls::SslCtxPtr ctx_;
  io::UniqueFd listen_fd_;
  io::UniqueFd wake_fd_;
  io::UniqueFd epoll_fd_;
  Endpoint local_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::thread loop_;
  std::unique_ptr<LoginWorkers> workers_;

  // Event-loop state (that thread only).
  std::unordered_map<uint64_t, std::unique_ptr<LoginConnection>> connections_;
  uint64_t next_id_ = 2;  // 0 and 1 tag the listening socket and the wake-up eventfd
  SourceCounter per_source_;
  LoginConnection::Clock::time_point listen_paused_until_{};
  bool listen_watched_ = false;
  // Logins handed to a worker, by connection: set when the client hangs up first.
  std::unordered_map<uint64_t, std::shared_ptr<std::atomic<bool>>> pending_;

  // Answers from the workers, picked up by the event loop.
  std::mutex completions_mu_;
  std::vector<Completion> completions_;

  LogLimiter overload_log_{5, std::chrono::seconds(10)};
  LogLimiter failure_log_{20, std::chrono::seconds(10)};  // failed logins (warn)
  LogLimiter login_log_{50, std::chrono::seconds(10)};    // successful logins (info)
  ReasonCounters<AsLogin> logins_;
};

}  // namespace ntm::servers
