#include "as/account_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>

#include "control/certificate.h"
#include "control/ticket.h"
#include "crypto/random.h"
#include "crypto/secure.h"
#include "util/log.h"

namespace ntm::servers {

namespace {

using control::LoginResponse;
using control::LoginStatus;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

LoginResponse refuse(LoginStatus status, std::string message) {
  return LoginResponse{status, std::move(message), std::nullopt};
}

// Reads exactly out.size() bytes; false on EOF, timeout or a TLS error.
bool ssl_read_all(SSL* ssl, std::span<uint8_t> out) {
  size_t off = 0;
  while (off < out.size()) {
    size_t n = 0;
    if (SSL_read_ex(ssl, out.data() + off, out.size() - off, &n) != 1) return false;
    off += n;
  }
  return true;
}

bool ssl_write_all(SSL* ssl, std::span<const uint8_t> data) {
  size_t off = 0;
  while (off < data.size()) {
    size_t n = 0;
    if (SSL_write_ex(ssl, data.data() + off, data.size() - off, &n) != 1) return false;
    off += n;
  }
  return true;
}

void set_timeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(t.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((t.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

AccountServer::AccountServer(AccountServerConfig config, AccountStore& accounts)
    : config_(std::move(config)),
      accounts_(accounts),
      limiter_(config_.failed_login_burst, config_.failed_login_refill) {
  if (config_.workers == 0) config_.workers = 1;
}

AccountServer::~AccountServer() { stop(); }

uint64_t AccountServer::now_unix() const {
  return config_.now_unix ? config_.now_unix() : static_cast<uint64_t>(std::time(nullptr));
}

void AccountServer::start() {
  if (started_) return;
  ctx_ = tls::make_server_context(config_.tls_cert, config_.tls_key);

  const int family = config_.listen.is_v6() ? AF_INET6 : AF_INET;
  io::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("AS: cannot create a TCP socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  sockaddr_storage ss{};
  const unsigned len = config_.listen.to_sockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw_errno("AS: cannot bind " + config_.listen.to_string());
  if (::listen(fd.get(), 128) != 0) throw_errno("AS: cannot listen on " + config_.listen.to_string());
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  local_ = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&bound)).value_or(config_.listen);
  listen_fd_ = std::move(fd);
  wake_fd_ = io::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw_errno("AS: eventfd");

  stopping_ = false;
  started_ = true;
  for (unsigned i = 0; i < config_.workers; ++i) workers_.emplace_back([this] { worker_loop(); });
  acceptor_ = std::thread([this] { accept_loop(); });
  NTM_LOG_INFO("AS listening on %s (TLS 1.3)", local_.to_string().c_str());
}

void AccountServer::stop() {
  if (!started_) return;
  stopping_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  {
    std::lock_guard lock(mu_);
    for (int fd : active_fds_) ::shutdown(fd, SHUT_RDWR);
    queue_.clear();
  }
  cv_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : workers_) t.join();
  workers_.clear();
  listen_fd_.reset();
  wake_fd_.reset();
  started_ = false;
}

void AccountServer::accept_loop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      NTM_LOG_ERROR("AS: poll failed: %s", std::strerror(errno));
      return;
    }
    if (stopping_) return;
    if (!(fds[0].revents & POLLIN)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    io::UniqueFd conn(::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                                SOCK_CLOEXEC));
    if (!conn) continue;  // ECONNABORTED, EMFILE...: keep serving
    const Endpoint from =
        Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).value_or(Endpoint{});
    std::lock_guard lock(mu_);
    if (queue_.size() >= config_.max_queued) {
      logins_.add(AsLogin::overloaded);
      NTM_LOG_WARN("AS: too many pending logins; closing the connection from %s",
                   from.to_string().c_str());
      continue;  // conn closes
    }
    queue_.emplace_back(std::move(conn), from);
    cv_.notify_one();
  }
}

void AccountServer::worker_loop() {
  // A client that goes away makes write() raise SIGPIPE, which would kill the process: block it
  // in this thread (the signal is thread-directed; write() then fails with EPIPE).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  while (true) {
    std::pair<io::UniqueFd, Endpoint> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      active_fds_.insert(job.first.get());
    }
    try {
      serve_connection(job.first.get(), job.second);
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("AS: connection from %s failed: %s", job.second.to_string().c_str(), e.what());
    }
    std::lock_guard lock(mu_);
    active_fds_.erase(job.first.get());
  }
}

void AccountServer::serve_connection(int fd, const Endpoint& from) {
  set_timeouts(fd, config_.io_timeout);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  tls::SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) return;
  SSL_set_fd(ssl.get(), fd);
  if (SSL_accept(ssl.get()) != 1) {
    logins_.add(AsLogin::tls_failed);
    NTM_LOG_DEBUG("AS: TLS handshake with %s failed", from.to_string().c_str());
    ERR_clear_error();
    return;
  }

  LoginResponse response;
  std::array<uint8_t, control::kFrameLengthSize> head{};
  if (!ssl_read_all(ssl.get(), head)) return;
  auto length = control::decode_frame_length(head);
  if (!length) {
    response = refuse(LoginStatus::bad_request, "malformed login frame");
  } else {
    control::Bytes frame(control::kFrameLengthSize + *length);
    std::copy(head.begin(), head.end(), frame.begin());
    if (!ssl_read_all(ssl.get(), std::span<uint8_t>(frame).subspan(control::kFrameLengthSize)))
      return;
    auto f = control::decode_frame(frame);
    if (!f || f->type != control::MessageType::login_request) {
      response = refuse(LoginStatus::bad_request, "expected a LoginRequest frame");
    } else {
      auto request = control::decode_login_request(f->body);
      crypto::secure_zero(frame);
      if (!request) {
        response = refuse(LoginStatus::bad_request, std::string("malformed LoginRequest (") +
                                                        wire::to_string(request.error()) + ")");
      } else {
        auto& req = request.value();
        response = handle_login(req, from);
        crypto::secure_zero(
            std::span<uint8_t>(reinterpret_cast<uint8_t*>(req.secret.data()), req.secret.size()));
      }
    }
  }
  count_login(response.status);
  auto out = control::encode_login_response_frame(response);
  (void)ssl_write_all(ssl.get(), out);
  crypto::secure_zero(out);
  SSL_shutdown(ssl.get());
  ERR_clear_error();
}

void AccountServer::count_login(control::LoginStatus status) {
  switch (status) {
    case LoginStatus::ok: logins_.add(AsLogin::ok); break;
    case LoginStatus::bad_credentials: logins_.add(AsLogin::bad_credentials); break;
    case LoginStatus::account_disabled: logins_.add(AsLogin::account_disabled); break;
    case LoginStatus::bad_request: logins_.add(AsLogin::bad_request); break;
    case LoginStatus::server_error: logins_.add(AsLogin::server_error); break;
    case LoginStatus::rate_limited: logins_.add(AsLogin::rate_limited); break;
  }
}

LoginResponse AccountServer::handle_login(const control::LoginRequest& request,
                                          const Endpoint& from) {
  const auto steady_now = FailureRateLimiter::Clock::now();
  std::chrono::seconds retry_after{0};
  if (!limiter_.allowed(from, steady_now, retry_after)) {
    NTM_LOG_INFO("AS: login for '%s' from %s refused: rate limited", request.account.c_str(),
                 from.to_string().c_str());
    return refuse(LoginStatus::rate_limited,
                  "too many failed logins from this address; retry in " +
                      std::to_string(retry_after.count()) + " s");
  }
  const control::Key32 zero{};
  if (request.static_public == zero)
    return refuse(LoginStatus::bad_request, "the static public key must not be all zero");

  const uint64_t now = now_unix();
  AuthOutcome outcome;
  if (valid_account_name(request.account)) {
    try {
      outcome = accounts_.authenticate(request.account, request.secret, request.static_public, now);
    } catch (const std::exception& e) {
      NTM_LOG_ERROR("AS: account store failed: %s", e.what());
      return refuse(LoginStatus::server_error, "internal server error (account store)");
    }
  } else {
    dummy_password_work();
  }
  switch (outcome.result) {
    case AuthResult::ok:
      break;
    case AuthResult::bad_credentials:
      limiter_.record_failure(from, steady_now);
      NTM_LOG_INFO("AS: login for '%s' from %s refused: bad credentials", request.account.c_str(),
                   from.to_string().c_str());
      return refuse(LoginStatus::bad_credentials, "wrong account name, password or token");
    case AuthResult::token_used:
      limiter_.record_failure(from, steady_now);
      return refuse(LoginStatus::bad_credentials,
                    "this enrollment token was already used by another device");
    case AuthResult::disabled:
      return refuse(LoginStatus::account_disabled,
                    "account '" + request.account + "' is disabled; contact the administrator");
  }

  try {
    const uint64_t expires = now + static_cast<uint64_t>(config_.session_lifetime.count());
    const std::string fqdn = request.account + "." + config_.domain;
    control::NodeCertificate cert;
    cert.node_id = outcome.node_id;
    cert.fqdn = fqdn;
    cert.static_public = request.static_public;
    cert.expires_unix = expires;
    control::sign(cert, config_.sign_key);

    control::LoginGrant grant;
    grant.node_id = outcome.node_id;
    grant.fqdn = fqdn;
    grant.certificate = control::encode_certificate(cert);
    grant.as_sign_public = crypto::ed25519_public_from_private(config_.sign_key);
    grant.dc = config_.dc_endpoints;
    crypto::random_bytes(grant.session_key);
    grant.expires_unix = expires;

    control::Ticket ticket;
    ticket.node_id = outcome.node_id;
    ticket.fqdn = fqdn;
    ticket.static_public = request.static_public;
    ticket.session_key = grant.session_key;
    ticket.expires_unix = expires;
    ticket.certificate = grant.certificate;
    grant.ticket = control::seal_ticket(config_.ticket_key, ticket);
    crypto::secure_zero(ticket.session_key);

    NTM_LOG_INFO("AS: '%s' logged in from %s (node %016llx)", fqdn.c_str(),
                 from.to_string().c_str(), static_cast<unsigned long long>(outcome.node_id));
    return LoginResponse{LoginStatus::ok, "ok", std::move(grant)};
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("AS: cannot issue credentials: %s", e.what());
    return refuse(LoginStatus::server_error, "internal server error");
  }
}

}  // namespace ntm::servers
