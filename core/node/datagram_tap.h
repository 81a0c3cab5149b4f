// Datagram taps: a virtual datagram socket's arrivals handed to a sink on the thread that runs
// the stack, instead of waiting in the socket's receive queue for a reader thread. The C ABI's
// datagram bridge (ntm_bridge_datagram) uses it to write each datagram straight to an OS
// descriptor, without a thread of its own in between (one wake-up per datagram, as a direct
// ntm_recvfrom() has). Kept apart from socket_api.h: it reaches into lwIP's socket internals.
#pragma once

#include <cstddef>

#include "node/socket_api.h"

namespace ntm::sock {

// Receives a tapped socket's datagrams. deliver() runs under lwIP's core lock on whichever
// thread feeds the stack: it must not block and must not call back into the virtual stack.
class DatagramSink {
 public:
  struct Piece {
    const void* data;
    size_t size;
  };
  virtual ~DatagramSink() = default;
  // One datagram from `from` (a v4 sender of a v6 socket as an IPv4-mapped v6 address, as
  // recvfrom reports it), its payload in `count` pieces. false: untap the socket - this datagram
  // and the next ones go to the socket's own receive queue again.
  virtual bool deliver(const Address& from, const Piece* pieces, size_t count) = 0;

 private:
  friend struct TapAccess;
  // What the socket had before the tap (lwIP's receive callback and its argument), set back
  // when untapped; kept here so that a tap allocates nothing.
  void (*original_)() = nullptr;
  void* original_arg_ = nullptr;
  bool v6_socket_ = false;
};

// Sends every datagram that reaches datagram socket fd from now on to sink, which must live
// until the socket is closed or untap_datagrams() returned. Datagrams already queued stay in the socket's
// queue. 0, or -1 and errno: EBADF (not an open socket), EOPNOTSUPP (not a datagram socket),
// EALREADY (tapped already).
int tap_datagrams(int fd, DatagramSink* sink);

// Gives fd's datagrams back to its receive queue if sink taps it; after this returns, sink's
// deliver() is not running and is not called again for fd. Closing the socket does the same.
void untap_datagrams(int fd, DatagramSink* sink);

}  // namespace ntm::sock
