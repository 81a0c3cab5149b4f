// Socket helpers of the test and bench node programs, over ntm.h's socket calls: addresses,
// listeners, resolving a --connect NAME:PORT, and a stream connection that writes and reads whole
// buffers. Failures that leave nothing to measure end the process with an ERROR line (report.h).
#pragma once

#include <ntm.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

namespace ntm_test {

// The wildcard address of `family` (AF_INET or AF_INET6) with `port`; returns its length.
socklen_t any_address(int family, unsigned short port, sockaddr_storage *out);

// Sets the port of an IPv4 or IPv6 address.
void set_port(sockaddr_storage &addr, unsigned short port);

// The address part as text ("100.64.0.2", "fd00::2"), or "?".
std::string address_text(const sockaddr_storage &addr);

// An ntm socket of `family` and `type` bound to the wildcard address and `port` (IPv6 sockets are
// IPv6-only); with `reuse_address`, SO_REUSEADDR is set before the bind.
int bound_socket(int family, int type, unsigned short port, bool reuse_address = false);

// A listening ntm TCP socket, as bound_socket() makes it.
int listen_socket(int family, unsigned short port, int backlog, bool reuse_address = false);

// Resolves `host` and `port` with ntm_getaddrinfo() in `family` (TCP); returns the address length,
// or 0 with the getaddrinfo code in *gai.
socklen_t resolve_name(const std::string &host, const char *port, int family,
                       sockaddr_storage *out, int *gai);

// Resolves a --connect NAME:PORT; ends the process with "ERROR what=usage msg=bad --connect ..."
// (status 2) when it is malformed and "ERROR what=ntm_getaddrinfo rc=... msg=..." (status 1) when
// the name is unknown. *host (if given) receives NAME.
socklen_t resolve_target(const std::string &target, int family, sockaddr_storage *out,
                         std::string *host = nullptr);

// A stream connection: an ntm descriptor, or (os) an OS descriptor from the real-fd bridge used
// with plain read()/write().
struct Conn {
  int fd = -1;
  bool os = false;

  ssize_t read(void *buf, size_t len) const;
  ssize_t write(const void *buf, size_t len) const;
  int shutdown_write() const;
  int close() const;
  // Writes all of `data`, retrying after EINTR; any other failure ends the process ("what").
  void write_all(const void *data, size_t len, const char *what) const;
  // Reads exactly `len` bytes; false at the end of the stream (*err = 0) or on a failure
  // (*err = errno) before that.
  bool read_exact(void *data, size_t len, int *err) const;
};

}  // namespace ntm_test
