#include "as/login_connection.h"

#include <openssl/err.h>

#include <new>

#include "control/login.h"
#include "crypto/secure.h"
#include "crypto/tls_socket.h"

namespace ntm::servers {

LoginConnection::LoginConnection(io::UniqueFd fd, const Endpoint& from, SSL_CTX* ctx,
                                 Clock::time_point deadline)
    : fd_(std::move(fd)), from_(from), ssl_(SSL_new(ctx)), deadline_(deadline) {
  // Our own BIO sends with MSG_NOSIGNAL: a client that resets never raises SIGPIPE.
  if (!ssl_ || !crypto::ssl_set_socket(ssl_.get(), fd_.get())) {
    ERR_clear_error();
    throw std::bad_alloc();
  }
  SSL_set_accept_state(ssl_.get());
  request_.resize(control::kFrameLengthSize);
}

LoginConnection::~LoginConnection() {
  crypto::secure_zero(request_);
  crypto::secure_zero(response_);
}

bool LoginConnection::would_block(int rc) {
  const int e = SSL_get_error(ssl_.get(), rc);
  if (e == SSL_ERROR_WANT_READ) {
    want_write_ = false;
    return true;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    want_write_ = true;
    return true;
  }
  ERR_clear_error();
  return false;
}

void LoginConnection::finish() {
  phase_ = Phase::done;
  want_write_ = false;
  ERR_clear_error();
}

void LoginConnection::advance() {
  if (phase_ == Phase::handshake) do_handshake();
  if (phase_ == Phase::reading) do_read();
  if (phase_ == Phase::writing) do_write();
}

void LoginConnection::do_handshake() {
  const int rc = SSL_do_handshake(ssl_.get());
  if (rc == 1) {
    phase_ = Phase::reading;
    want_write_ = false;
    return;
  }
  if (would_block(rc)) return;
  tls_failed_ = true;
  finish();
}

void LoginConnection::do_read() {
  while (true) {
    size_t n = 0;
    const int rc = SSL_read_ex(ssl_.get(), request_.data() + have_, request_.size() - have_, &n);
    if (rc != 1) {
      if (!would_block(rc)) finish();  // EOF, reset or a TLS error: nothing to answer
      return;
    }
    have_ += n;
    if (have_ < request_.size()) continue;
    if (have_ == control::kFrameLengthSize) {
      auto length = control::decode_frame_length(request_);
      // A bad length field: the request is complete as it is (decoding it gives bad_request).
      if (length && *length > 0) {
        request_.resize(control::kFrameLengthSize + *length);
        continue;
      }
    }
    phase_ = Phase::waiting;
    want_write_ = false;
    return;
  }
}

void LoginConnection::respond(control::Bytes frame, Clock::time_point deadline) {
  response_ = std::move(frame);
  sent_ = 0;
  deadline_ = deadline;
  phase_ = Phase::writing;
  do_write();
}

void LoginConnection::do_write() {
  while (sent_ < response_.size()) {
    size_t n = 0;
    const int rc = SSL_write_ex(ssl_.get(), response_.data() + sent_, response_.size() - sent_, &n);
    if (rc != 1) {
      if (!would_block(rc)) finish();
      return;
    }
    sent_ += n;
  }
  // One close_notify; the client reads the response before it (no need to wait for its own).
  (void)SSL_shutdown(ssl_.get());
  finish();
}

}  // namespace ntm::servers
