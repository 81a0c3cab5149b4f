// Connects an OpenSSL SSL object to a TCP socket without ever raising SIGPIPE.
//
// OpenSSL's own socket BIO (SSL_set_fd) writes with write(2). When the other end has reset the
// connection, that write raises SIGPIPE, whose default action ends the whole process - the host
// application of libntm, or a server. This BIO sends with MSG_NOSIGNAL instead (so the write
// fails with EPIPE), which is thread-safe and leaves the application's signal dispositions
// alone. Use it for every TLS connection libntm or the servers own.
#pragma once

#include <openssl/ssl.h>

namespace ntm::crypto {

// Like SSL_set_fd(ssl, fd): the socket becomes both the read and the write side of `ssl`. The
// BIO does not close `fd`. Returns false (nothing attached) if OpenSSL cannot allocate it.
bool ssl_set_socket(SSL* ssl, int fd);

// A BIO over a connected socket with the semantics of BIO_new_socket(fd, BIO_NOCLOSE) except
// that writes never raise SIGPIPE. nullptr on allocation failure; free with BIO_free.
BIO* new_socket_bio(int fd);

}  // namespace ntm::crypto
