#include "as/account_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
using Clock = LoginConnection::Clock;

constexpr uint64_t kListenTag = 0;
constexpr uint64_t kWakeTag = 1;
// When accept() fails for lack of descriptors, stop watching the listening socket this long
// (level-triggered epoll would otherwise spin on it).
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
constexpr int kMaxEvents = 256;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

LoginResponse refuse(LoginStatus status, std::string message) {
  return LoginResponse{status, std::move(message), std::nullopt};
}

}  // namespace

AccountServer::AccountServer(AccountServerConfig config, AccountStore& accounts,
                             AddressStore* addresses)
    : config_(std::move(config)),
      accounts_(accounts),
      addresses_(addresses),
      limiter_(config_.failed_login_burst, config_.failed_login_refill),
      account_backoff_(config_.account_free_failures, config_.account_lock_base,
                       config_.account_lock_max),
      per_source_(config_.max_connections_per_source == 0 ? 1
                                                          : config_.max_connections_per_source) {
  if (config_.workers == 0) config_.workers = std::max(1u, std::thread::hardware_concurrency());
  if (config_.max_queued == 0) config_.max_queued = 4 * size_t{config_.workers};
}

AccountServer::~AccountServer() { stop(); }

uint64_t AccountServer::now_unix() const {
  return config_.now_unix ? config_.now_unix() : static_cast<uint64_t>(std::time(nullptr));
}

void AccountServer::start() {
  if (started_) return;
  ctx_ = tls::make_server_context(config_.tls_cert, config_.tls_key);

  const int family = config_.listen.is_v6() ? AF_INET6 : AF_INET;
  io::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw_errno("AS: cannot create a TCP socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  sockaddr_storage ss{};
  const unsigned len = config_.listen.to_sockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw_errno("AS: cannot bind " + config_.listen.to_string());
  if (::listen(fd.get(), 1024) != 0)
    throw_errno("AS: cannot listen on " + config_.listen.to_string());
  sockaddr_storage bound{};
  socklen_t blen = sizeof(bound);
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  local_ = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&bound)).value_or(config_.listen);
  listen_fd_ = std::move(fd);
  wake_fd_ = io::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw_errno("AS: eventfd");
  epoll_fd_ = io::UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd_) throw_errno("AS: epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeTag;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, wake_fd_.get(), &ev) != 0)
    throw_errno("AS: epoll_ctl");
  ev.data.u64 = kListenTag;
  if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev) != 0)
    throw_errno("AS: epoll_ctl");
  listen_watched_ = true;

  stopping_ = false;
  started_ = true;
  workers_ = std::make_unique<LoginWorkers>(config_.workers, config_.max_queued);
  loop_ = std::thread([this] { event_loop(); });
  NTM_LOG_INFO("AS listening on %s (TLS 1.3, %u password workers)", local_.to_string().c_str(),
               config_.workers);
}

void AccountServer::stop() {
  if (!started_) return;
  stopping_ = true;
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  if (loop_.joinable()) loop_.join();
  workers_->stop();  // after the loop: jobs in progress finish, their answers are dropped
  workers_.reset();
  connections_.clear();
  pending_.clear();
  per_source_ = SourceCounter(config_.max_connections_per_source == 0
                                  ? 1
                                  : config_.max_connections_per_source);
  {
    std::lock_guard lock(completions_mu_);
    completions_.clear();
  }
  epoll_fd_.reset();
  listen_fd_.reset();
  wake_fd_.reset();
  started_ = false;
}

// ---- the event loop ------------------------------------------------------------------------

void AccountServer::event_loop() {
  epoll_event events[kMaxEvents];
  auto next_sweep = Clock::now();
  while (!stopping_) {
    const int n = ::epoll_wait(epoll_fd_.get(), events, kMaxEvents, 100);
    if (n < 0 && errno != EINTR) {
      NTM_LOG_ERROR("AS: epoll_wait failed: %s", std::strerror(errno));
      return;
    }
    if (stopping_) return;
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kListenTag) {
        accept_ready();
      } else if (tag == kWakeTag) {
        uint64_t count = 0;
        (void)!::read(wake_fd_.get(), &count, sizeof(count));
        drain_completions();
      } else {
        on_ready(tag, true);
      }
    }
    const auto now = Clock::now();
    if (!listen_watched_ && now >= listen_paused_until_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = kListenTag;
      if (::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, listen_fd_.get(), &ev) == 0)
        listen_watched_ = true;
    }
    if (now >= next_sweep) {
      expire(now);
      next_sweep = now + std::chrono::milliseconds(100);
    }
  }
}

void AccountServer::accept_ready() {
  // Bounded per wake-up so that a connect flood cannot starve the connections in progress.
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    io::UniqueFd conn(::accept4(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                                SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!conn) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        logins_.add(AsLogin::overloaded);
        NTM_LOG_LIMITED(overload_log_, log::Level::warn,
                        "AS: cannot accept connections: %s (raise the descriptor limit, "
                        "or lower max connections)",
                        std::strerror(errno));
        ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, listen_fd_.get(), nullptr);
        listen_watched_ = false;
        listen_paused_until_ = Clock::now() + kAcceptPause;
      }
      return;  // EAGAIN: nothing more; ECONNABORTED and the like: keep serving
    }
    const Endpoint from =
        Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss)).value_or(Endpoint{});
    if (connections_.size() >= config_.max_connections) {
      logins_.add(AsLogin::overloaded);
      NTM_LOG_LIMITED(overload_log_, log::Level::warn,
                      "AS: %zu connections open (the maximum); closing the one from %s",
                      connections_.size(), from.to_string().c_str());
      continue;
    }
    if (!per_source_.try_add(from)) {
      logins_.add(AsLogin::overloaded);
      NTM_LOG_LIMITED(overload_log_, log::Level::warn,
                      "AS: %u connections from %s's network are in their handshake already; "
                      "closing a new one",
                      config_.max_connections_per_source, from.to_string().c_str());
      continue;
    }
    const int one = 1;
    ::setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const uint64_t id = next_id_++;
    std::unique_ptr<LoginConnection> c;
    try {
      c = std::make_unique<LoginConnection>(std::move(conn), from, ctx_.get(),
                                            Clock::now() + config_.handshake_timeout);
    } catch (const std::bad_alloc&) {
      per_source_.remove(from);
      continue;
    }
    auto& ref = *c;
    connections_.emplace(id, std::move(c));
    watch(id, ref, true);
    on_ready(id, false);  // the ClientHello may be there already
  }
}

void AccountServer::watch(uint64_t id, const LoginConnection& c, bool add) {
  epoll_event ev{};
  ev.events = c.wants_write() ? EPOLLOUT : EPOLLIN;
  // Waiting for a worker: only a hang-up matters (the client gave up: its job is dropped).
  if (c.phase() == LoginConnection::Phase::waiting) ev.events = EPOLLRDHUP;
  ev.data.u64 = id;
  ::epoll_ctl(epoll_fd_.get(), add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd(), &ev);
}

void AccountServer::on_ready(uint64_t id, bool) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  LoginConnection& c = *it->second;
  if (c.phase() == LoginConnection::Phase::waiting) {
    NTM_LOG_DEBUG("AS: %s went away before its login was checked", c.from().to_string().c_str());
    close_connection(id);  // cancels the queued job
    return;
  }
  c.advance();
  after_advance(id, c);
}

void AccountServer::after_advance(uint64_t id, LoginConnection& c) {
  using Phase = LoginConnection::Phase;
  if (c.phase() == Phase::waiting) {
    per_source_.remove(c.from());  // out of the phase the client controls
    dispatch(id, c);
    return;
  }
  if (c.phase() == Phase::done) {
    if (c.tls_failed()) {
      logins_.add(AsLogin::tls_failed);
      NTM_LOG_DEBUG("AS: TLS handshake with %s failed", c.from().to_string().c_str());
    }
    close_connection(id);
    return;
  }
  watch(id, c, false);
}

void AccountServer::close_connection(uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  const auto phase = it->second->phase();
  if (phase == LoginConnection::Phase::handshake || phase == LoginConnection::Phase::reading)
    per_source_.remove(it->second->from());
  ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, it->second->fd(), nullptr);
  connections_.erase(it);
  if (auto p = pending_.find(id); p != pending_.end()) {
    p->second->store(true);
    pending_.erase(p);
  }
}

void AccountServer::expire(Clock::time_point now) {
  std::vector<uint64_t> late;
  for (const auto& [id, c] : connections_) {
    if (c->phase() != LoginConnection::Phase::waiting && now >= c->deadline()) late.push_back(id);
  }
  for (uint64_t id : late) {
    logins_.add(AsLogin::timed_out);
    NTM_LOG_LIMITED(overload_log_, log::Level::info,
                    "AS: connection from %s timed out (handshake and request take at most %lld ms)",
                    connections_[id]->from().to_string().c_str(),
                    static_cast<long long>(config_.handshake_timeout.count()));
    close_connection(id);
  }
}

void AccountServer::dispatch(uint64_t id, LoginConnection& c) {
  control::Bytes& frame = c.request();
  auto f = control::decode_frame(frame);
  if (!f || f->type != control::MessageType::login_request) {
    respond(id, c, refuse(LoginStatus::bad_request,
                          f ? "expected a LoginRequest frame" : "malformed login frame"));
    return;
  }
  auto request = control::decode_login_request(f->body);
  crypto::secure_zero(frame);
  if (!request) {
    respond(id, c, refuse(LoginStatus::bad_request, std::string("malformed LoginRequest (") +
                                                        wire::to_string(request.error()) + ")"));
    return;
  }
  if (auto early = precheck(request.value(), c.from())) {
    respond(id, c, *early);
    return;
  }
  const auto wait = workers_->estimated_wait();
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto job = [this, id, cancelled, req = std::move(request.value()), from = c.from()]() mutable {
    if (cancelled->load()) {
      // The client left while queued: no password work for nobody.
      crypto::secure_zero(
          std::span<uint8_t>(reinterpret_cast<uint8_t*>(req.secret.data()), req.secret.size()));
      return;
    }
    auto response = authenticate(req, from);
    crypto::secure_zero(
        std::span<uint8_t>(reinterpret_cast<uint8_t*>(req.secret.data()), req.secret.size()));
    count_login(response.status);
    Completion done{id, control::encode_login_response_frame(response)};
    {
      std::lock_guard lock(completions_mu_);
      completions_.push_back(std::move(done));
    }
    const uint64_t one = 1;
    (void)!::write(wake_fd_.get(), &one, sizeof(one));
  };
  if (wait <= config_.max_login_wait && workers_->submit(std::move(job))) {
    pending_.emplace(id, std::move(cancelled));
    watch(id, c, false);  // quiet until the answer comes (or the client hangs up)
    return;
  }
  // Saturated: tell the node when to come back rather than let it time out.
  // The queue's wait, within bounds: the node adds its own jitter, so the ones told at the
  // same moment come back spread out.
  const auto retry = std::clamp(wait, std::chrono::milliseconds(250), std::chrono::milliseconds(5000));
  LoginResponse busy = refuse(LoginStatus::busy, "the AS is busy; retry in " +
                                                     std::to_string(retry.count()) + " ms");
  busy.retry_after_ms = static_cast<uint32_t>(retry.count());
  NTM_LOG_LIMITED(overload_log_, log::Level::info,
                  "AS: password workers saturated (estimated wait %lld ms); %s told to retry",
                  static_cast<long long>(wait.count()), c.from().to_string().c_str());
  respond(id, c, busy);
}

void AccountServer::respond(uint64_t id, LoginConnection& c, const LoginResponse& response) {
  count_login(response.status);  // (answers from a worker are counted there)
  c.respond(control::encode_login_response_frame(response), Clock::now() + config_.io_timeout);
  after_advance(id, c);
}

void AccountServer::drain_completions() {
  std::vector<Completion> done;
  {
    std::lock_guard lock(completions_mu_);
    done.swap(completions_);
  }
  for (auto& d : done) {
    pending_.erase(d.id);
    auto it = connections_.find(d.id);
    if (it == connections_.end()) {
      crypto::secure_zero(d.frame);
      continue;
    }
    LoginConnection& c = *it->second;
    c.respond(std::move(d.frame), Clock::now() + config_.io_timeout);
    after_advance(d.id, c);
  }
}

void AccountServer::count_login(control::LoginStatus status) {
  switch (status) {
    case LoginStatus::ok: logins_.add(AsLogin::ok); break;
    case LoginStatus::bad_credentials: logins_.add(AsLogin::bad_credentials); break;
    case LoginStatus::account_disabled: logins_.add(AsLogin::account_disabled); break;
    case LoginStatus::bad_request: logins_.add(AsLogin::bad_request); break;
    case LoginStatus::server_error: logins_.add(AsLogin::server_error); break;
    case LoginStatus::rate_limited: logins_.add(AsLogin::rate_limited); break;
    case LoginStatus::busy: logins_.add(AsLogin::busy); break;
  }
}

LoginResponse AccountServer::handle_login(const control::LoginRequest& request,
                                          const Endpoint& from) {
  if (auto early = precheck(request, from)) {
    count_login(early->status);
    return *early;
  }
  auto response = authenticate(request, from);
  count_login(response.status);
  return response;
}

std::optional<LoginResponse> AccountServer::precheck(const control::LoginRequest& request,
                                                     const Endpoint& from) {
  const auto steady_now = FailureRateLimiter::Clock::now();
  std::chrono::seconds retry_after{0};
  if (!limiter_.allowed(from, steady_now, retry_after)) {
    NTM_LOG_LIMITED(failure_log_, log::Level::warn,
                    "AS: login for '%s' from %s refused: rate limited (too many failures)",
                    request.account.c_str(), from.to_string().c_str());
    return refuse(LoginStatus::rate_limited,
                  "too many failed logins from this address; retry in " +
                      std::to_string(retry_after.count()) + " s");
  }
  if (auto locked = account_locked(request, from)) return locked;
  const control::Key32 zero{};
  if (request.static_public == zero)
    return refuse(LoginStatus::bad_request, "the static public key must not be all zero");
  return std::nullopt;
}

std::optional<LoginResponse> AccountServer::account_locked(const control::LoginRequest& request,
                                                           const Endpoint& from) {
  std::chrono::milliseconds retry_after{0};
  if (account_backoff_.allowed(request.account, AccountBackoff::Clock::now(), retry_after))
    return std::nullopt;
  const auto seconds = (retry_after.count() + 999) / 1000;
  NTM_LOG_LIMITED(failure_log_, log::Level::warn,
                  "AS: login for '%s' from %s refused: account locked for %lld s after failed "
                  "logins",
                  valid_account_name(request.account) ? request.account.c_str() : "(invalid name)",
                  from.to_string().c_str(), static_cast<long long>(seconds));
  return refuse(LoginStatus::rate_limited, "too many failed logins for this account; retry in " +
                                               std::to_string(seconds) + " s");
}

LoginResponse AccountServer::authenticate(const control::LoginRequest& request,
                                          const Endpoint& from) {
  // Again here: failures recorded while this login was queued count too.
  if (auto locked = account_locked(request, from)) return *locked;
  const auto steady_now = FailureRateLimiter::Clock::now();
  const uint64_t now = now_unix();
  AuthOutcome outcome;
  try {
    // An unknown or invalid name costs the same password work as a known one.
    outcome = accounts_.authenticate(request.account, request.secret, request.static_public, now);
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("AS: account store failed: %s", e.what());
    return refuse(LoginStatus::server_error, "internal server error (account store)");
  }
  switch (outcome.result) {
    case AuthResult::ok:
      account_backoff_.record_success(request.account);
      break;
    case AuthResult::bad_credentials:
      limiter_.record_failure(from, steady_now);
      account_backoff_.record_failure(request.account, steady_now);
      NTM_LOG_LIMITED(failure_log_, log::Level::warn,
                      "AS: failed login for '%s' from %s: bad credentials",
                      valid_account_name(request.account) ? request.account.c_str() : "(invalid name)",
                      from.to_string().c_str());
      return refuse(LoginStatus::bad_credentials, "wrong account name, password or token");
    case AuthResult::token_used:
      limiter_.record_failure(from, steady_now);
      account_backoff_.record_failure(request.account, steady_now);
      NTM_LOG_LIMITED(failure_log_, log::Level::warn,
                      "AS: failed login for '%s' from %s: enrollment token already used",
                      request.account.c_str(), from.to_string().c_str());
      return refuse(LoginStatus::bad_credentials,
                    "this enrollment token was already used by another device");
    case AuthResult::disabled:
      NTM_LOG_LIMITED(failure_log_, log::Level::warn,
                      "AS: login for disabled account '%s' from %s refused",
                      request.account.c_str(), from.to_string().c_str());
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
    // The addresses the DC will give the node (the same store): certified, so that peers
    // refuse a DC that hands them to another node.
    if (addresses_) {
      const VirtualAddresses a = addresses_->assign(outcome.node_id);
      cert.virtual_ipv4 = a.v4;
      cert.virtual_ipv6 = a.v6;
    }
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

    NTM_LOG_LIMITED(login_log_, log::Level::info, "AS: '%s' logged in from %s (node %016llx)",
                    fqdn.c_str(), from.to_string().c_str(),
                    static_cast<unsigned long long>(outcome.node_id));
    return LoginResponse{LoginStatus::ok, "ok", std::move(grant)};
  } catch (const std::exception& e) {
    NTM_LOG_ERROR("AS: cannot issue credentials: %s", e.what());
    return refuse(LoginStatus::server_error, "internal server error");
  }
}

}  // namespace ntm::servers
