// One login connection at the AS, driven by the event loop with non-blocking OpenSSL: the TLS
// handshake, reading the one request frame, and (once the answer is known) writing the
// response frame and the close_notify. It never blocks and holds no thread, so a client that
// trickles bytes costs only its buffers until its deadline.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>

#include "as/tls.h"
#include "control/codec_util.h"
#include "io/unique_fd.h"
#include "util/endpoint.h"

namespace ntm::servers {

class LoginConnection {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Phase {
    handshake,  // TLS handshake in progress
    reading,    // reading the request frame
    waiting,    // request complete; the answer is being computed
    writing,    // sending the response frame
    done,       // finished (sent, failed or timed out): close it
  };

  // Takes the accepted, non-blocking socket. Throws std::bad_alloc when OpenSSL cannot allocate.
  LoginConnection(io::UniqueFd fd, const Endpoint& from, SSL_CTX* ctx,
                  Clock::time_point deadline);
  ~LoginConnection();
  LoginConnection(const LoginConnection&) = delete;
  LoginConnection& operator=(const LoginConnection&) = delete;

  int fd() const { return fd_.get(); }
  const Endpoint& from() const { return from_; }
  Phase phase() const { return phase_; }
  Clock::time_point deadline() const { return deadline_; }
  // True when the TLS handshake failed (for the counters).
  bool tls_failed() const { return tls_failed_; }

  // Advances the handshake, the read or the write as far as the socket allows. Afterwards
  // phase() says what happened; wants_write() which readiness the socket should be polled for.
  void advance();
  bool wants_write() const { return want_write_; }

  // In phase waiting: the whole request frame (length field included). Wipe it after use.
  control::Bytes& request() { return request_; }
  // Hands over the response frame (phase waiting -> writing) and starts sending it, with a new
  // deadline for the write.
  void respond(control::Bytes frame, Clock::time_point deadline);

 private:
  void do_handshake();
  void do_read();
  void do_write();
  // Classifies a failed SSL call: true to retry when the socket is ready (want_write_ set).
  bool would_block(int rc);
  void finish();

  io::UniqueFd fd_;
  Endpoint from_;
  tls::SslPtr ssl_;
  Clock::time_point deadline_;
  Phase phase_ = Phase::handshake;
  bool want_write_ = false;
  bool tls_failed_ = false;
  control::Bytes request_;   // grows to the frame length once it is known
  size_t have_ = 0;          // bytes of request_ received
  control::Bytes response_;
  size_t sent_ = 0;
};

}  // namespace ntm::servers
