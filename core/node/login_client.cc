#include "node/login_client.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <random>
#include <thread>

#include "crypto/tls_socket.h"
#include "io/unique_fd.h"
#include "util/log.h"

namespace ntm::node {

namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};

// True when an SSL call failed because the socket's receive timeout expired (the AS is silent).
bool timed_out(SSL* ssl, int rc, int saved_errno) {
  const int e = SSL_get_error(ssl, rc);
  return (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
         (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK || saved_errno == ETIMEDOUT);
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

io::UniqueFd connect_tcp(const Endpoint& server, std::chrono::milliseconds timeout) {
  sockaddr_storage ss;
  socklen_t len = server.to_sockaddr(ss);
  io::UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw LoginError(LoginError::Kind::network, std::string("socket: ") + strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    throw LoginError(LoginError::Kind::network, "cannot reach the AS at " + server.to_string() +
                                                    ": " + strerror(errno));
  }
  pollfd p{fd.get(), POLLOUT, 0};
  int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  int error = 0;
  socklen_t error_len = sizeof(error);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &error_len);
  if (ready <= 0 || error != 0) {
    throw LoginError(LoginError::Kind::network,
                     "cannot reach the AS at " + server.to_string() + ": " +
                         (ready <= 0 ? std::string("timed out") : std::string(strerror(error))));
  }
  // Blocking from here on, with timeouts, for OpenSSL's simple I/O.
  ::fcntl(fd.get(), F_SETFL, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

// A TLS 1.3 client context that trusts exactly the pinned certificate.
std::unique_ptr<SSL_CTX, SslCtxFree> pinned_context(const std::string& pem) {
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) throw LoginError(LoginError::Kind::tls, openssl_error());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
  // Every certificate in the PEM is pinned: during a rotation of the AS certificate a node
  // trusts the old and the new one (docs/security.md).
  int pinned = 0;
  while (true) {
    std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    if (X509_STORE_add_cert(store, cert.get()) != 1) {
      throw LoginError(LoginError::Kind::tls, openssl_error());
    }
    ++pinned;
  }
  ERR_clear_error();  // the end of the PEM
  if (pinned == 0) {
    throw LoginError(LoginError::Kind::tls, "options.server_certificate: not a PEM certificate");
  }
  // The pinned certificate is the trust anchor itself, self-signed or not.
  X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return ctx;
}

void write_all(SSL* ssl, const control::Bytes& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    size_t written = 0;
    if (SSL_write_ex(ssl, bytes.data() + done, bytes.size() - done, &written) != 1) {
      throw LoginError(LoginError::Kind::network, "sending the login request failed");
    }
    done += written;
  }
}

void read_exact(SSL* ssl, uint8_t* out, size_t size) {
  size_t done = 0;
  while (done < size) {
    size_t got = 0;
    if (const int rc = SSL_read_ex(ssl, out + done, size - done, &got); rc != 1) {
      const int saved_errno = errno;
      throw LoginError(LoginError::Kind::network,
                       timed_out(ssl, rc, saved_errno)
                           ? "timed out waiting for the AS's answer"
                           : "the AS closed the connection");
    }
    done += got;
  }
}

std::string status_text(control::LoginStatus status) {
  switch (status) {
    case control::LoginStatus::ok: return "ok";
    case control::LoginStatus::bad_credentials: return "wrong account or password";
    case control::LoginStatus::account_disabled: return "account disabled";
    case control::LoginStatus::bad_request: return "the AS rejected the request";
    case control::LoginStatus::server_error: return "the AS failed";
    case control::LoginStatus::rate_limited: return "too many failed logins; retry later";
    case control::LoginStatus::busy: return "the AS is busy";
  }
  return "unknown status";
}

}  // namespace

control::LoginGrant login(const ControlPlaneConfig& config, const crypto::X25519Key& static_public,
                          std::chrono::milliseconds timeout) {
  auto ctx = pinned_context(config.server_certificate);
  io::UniqueFd fd = connect_tcp(config.server, timeout);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  if (!ssl) throw LoginError(LoginError::Kind::tls, openssl_error());
  // Not SSL_set_fd: OpenSSL's socket BIO writes with write(2), and an AS that reset the
  // connection would make that raise SIGPIPE and end the application (status 141).
  if (!crypto::ssl_set_socket(ssl.get(), fd.get())) {
    throw LoginError(LoginError::Kind::tls, openssl_error());
  }
  if (const int rc = SSL_connect(ssl.get()); rc != 1) {
    const int saved_errno = errno;
    if (timed_out(ssl.get(), rc, saved_errno)) {
      ERR_clear_error();
      throw LoginError(LoginError::Kind::network,
                       "timed out: the AS at " + config.server.to_string() +
                           " accepted the connection but did not answer the TLS handshake within " +
                           std::to_string(timeout.count()) + " ms");
    }
    long verify = SSL_get_verify_result(ssl.get());
    const int ssl_error = SSL_get_error(ssl.get(), rc);
    // OpenSSL 3 reports a peer that closed without close_notify as an SSL error, not a syscall.
    const bool eof = ssl_error == SSL_ERROR_SSL &&
                     ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
    if (verify == X509_V_OK && (ssl_error == SSL_ERROR_SYSCALL || eof)) {
      // Closed or reset before the handshake ended (an AS at its connection limit does that).
      ERR_clear_error();
      throw LoginError(LoginError::Kind::network,
                       "the AS at " + config.server.to_string() +
                           " closed the connection during the TLS handshake");
    }
    std::string why = verify != X509_V_OK
                          ? std::string("the AS certificate does not match the pinned one (") +
                                X509_verify_cert_error_string(verify) + ")"
                          : openssl_error();
    throw LoginError(LoginError::Kind::tls, "TLS with the AS failed: " + why);
  }

  control::LoginRequest request;
  request.account = config.account;
  request.secret = config.password;
  request.static_public = static_public;
  write_all(ssl.get(), control::encode_login_request_frame(request));

  uint8_t length_bytes[4];
  read_exact(ssl.get(), length_bytes, 4);
  auto length = control::decode_frame_length(length_bytes);
  if (!length) throw LoginError(LoginError::Kind::protocol, "the AS sent a malformed frame");
  control::Bytes frame(4 + length.value());
  std::memcpy(frame.data(), length_bytes, 4);
  read_exact(ssl.get(), frame.data() + 4, length.value());
  SSL_shutdown(ssl.get());

  auto view = control::decode_frame(frame);
  if (!view || view.value().type != control::MessageType::login_response) {
    throw LoginError(LoginError::Kind::protocol, "the AS sent an unexpected message");
  }
  auto response = control::decode_login_response(view.value().body);
  if (!response) throw LoginError(LoginError::Kind::protocol, "the AS sent a malformed response");
  if (response.value().status == control::LoginStatus::busy) {
    throw LoginError(LoginError::Kind::busy,
                     "the AS at " + config.server.to_string() + " is busy (" +
                         response.value().message + ")",
                     std::chrono::milliseconds(response.value().retry_after_ms));
  }
  if (response.value().status != control::LoginStatus::ok || !response.value().grant) {
    std::string message = status_text(response.value().status);
    if (!response.value().message.empty()) message += ": " + response.value().message;
    throw LoginError(LoginError::Kind::rejected, "login as '" + config.account + "' refused (" +
                                                     message + ")");
  }
  return *response.value().grant;
}

control::LoginGrant login_with_retry(const ControlPlaneConfig& config,
                                     const crypto::X25519Key& static_public,
                                     std::chrono::milliseconds step_timeout,
                                     std::chrono::milliseconds budget) {
  using Clock = std::chrono::steady_clock;
  using std::chrono::milliseconds;
  const auto deadline = Clock::now() + budget;
  thread_local std::minstd_rand rng{std::random_device{}()};
  milliseconds backoff{250};
  unsigned attempt = 0;
  while (true) {
    ++attempt;
    try {
      return login(config, static_public, step_timeout);
    } catch (const LoginError& e) {
      if (!e.transient()) throw;
      milliseconds wait;
      if (e.kind() == LoginError::Kind::busy) {
        const auto asked = std::max(e.retry_after(), milliseconds(50));
        wait = asked + milliseconds(std::uniform_int_distribution<long>(0, asked.count() / 2)(rng));
      } else {
        // Full jitter: anywhere in [backoff/2, backoff].
        wait = milliseconds(
            std::uniform_int_distribution<long>(backoff.count() / 2, backoff.count())(rng));
        backoff = std::min(backoff * 2, milliseconds(4000));
      }
      // Asked to wait past the budget: one last attempt just before it ends.
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (wait > left && e.kind() == LoginError::Kind::busy) wait = left - milliseconds(100);
      if (wait <= milliseconds(0) || wait >= left) {
        throw LoginError(e.kind(), std::string(e.what()) + " (gave up after " +
                                       std::to_string(attempt) + " attempt" +
                                       (attempt == 1 ? "" : "s") + ")");
      }
      NTM_LOG_INFO("login attempt %u failed (%s); retrying in %lld ms", attempt, e.what(),
                   static_cast<long long>(wait.count()));
      std::this_thread::sleep_for(wait);
    }
  }
}

}  // namespace ntm::node
