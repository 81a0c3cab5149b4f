#include "crypto/tls_socket.h"

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

namespace ntm::crypto {
namespace {

struct SocketState {
  int fd = -1;
  bool eof = false;  // a read returned 0: the peer closed its side (BIO_CTRL_EOF)
};

SocketState& state(BIO* b) { return *static_cast<SocketState*>(BIO_get_data(b)); }

bool should_retry(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINPROGRESS; }

int socket_write(BIO* b, const char* data, int size) {
  BIO_clear_retry_flags(b);
  if (size <= 0) return 0;
  for (;;) {
    const ssize_t n = ::send(state(b).fd, data, static_cast<size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (should_retry(errno)) BIO_set_retry_write(b);
    return -1;
  }
}

int socket_read(BIO* b, char* out, int size) {
  BIO_clear_retry_flags(b);
  if (out == nullptr || size <= 0) return 0;
  for (;;) {
    const ssize_t n = ::recv(state(b).fd, out, static_cast<size_t>(size), 0);
    if (n > 0) return static_cast<int>(n);
    if (n == 0) {
      state(b).eof = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (should_retry(errno)) BIO_set_retry_read(b);
    return -1;
  }
}

int socket_puts(BIO* b, const char* text) {
  const size_t length = std::strlen(text);
  return socket_write(b, text, length > INT_MAX ? INT_MAX : static_cast<int>(length));
}

long socket_ctrl(BIO* b, int cmd, long, void* ptr) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:  // nothing is buffered
    case BIO_CTRL_DUP: return 1;
    case BIO_CTRL_EOF: return state(b).eof ? 1 : 0;
    case BIO_C_GET_FD:
      if (ptr != nullptr) *static_cast<int*>(ptr) = state(b).fd;
      return state(b).fd;
    default: return 0;  // KTLS, datagram and connect controls: not supported, as for OpenSSL
  }
}

int socket_create(BIO* b) {
  auto* s = new (std::nothrow) SocketState;
  if (s == nullptr) return 0;
  BIO_set_data(b, s);
  return 1;
}

int socket_destroy(BIO* b) {
  delete static_cast<SocketState*>(BIO_get_data(b));
  BIO_set_data(b, nullptr);
  BIO_set_init(b, 0);
  return 1;
}

// One method table per process, made on first use (thread-safe static initialisation). A
// descriptor type, so SSL_get_fd() and BIO_get_fd() find the socket as with OpenSSL's BIO.
const BIO_METHOD* socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "ntm socket (MSG_NOSIGNAL)");
    if (m == nullptr) return m;
    BIO_meth_set_write(m, socket_write);
    BIO_meth_set_read(m, socket_read);
    BIO_meth_set_puts(m, socket_puts);
    BIO_meth_set_ctrl(m, socket_ctrl);
    BIO_meth_set_create(m, socket_create);
    BIO_meth_set_destroy(m, socket_destroy);
    return m;
  }();
  return method;
}

}  // namespace

BIO* new_socket_bio(int fd) {
  const BIO_METHOD* method = socket_method();
  if (method == nullptr) return nullptr;
  BIO* b = BIO_new(method);
  if (b == nullptr) return nullptr;
  state(b).fd = fd;
  BIO_set_init(b, 1);
  return b;
}

bool ssl_set_socket(SSL* ssl, int fd) {
  BIO* b = new_socket_bio(fd);
  if (b == nullptr) return false;
  SSL_set_bio(ssl, b, b);  // one BIO for both directions; ssl owns it
  return true;
}

}  // namespace ntm::crypto
