// The node's view of the outer network: datagrams to and from real endpoints.
// UdpTransport is the real one; MemoryTransport lets two engines talk inside one test process.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "util/endpoint.h"

namespace ntm::io {

// One datagram to send. The bytes are owned by the caller until send_batch returns.
struct OutgoingDatagram {
  Endpoint to;
  std::span<const uint8_t> bytes;
  // IPv4 TTL / IPv6 hop limit for this datagram alone; 0: the socket's default. A small one
  // opens our NAT's mapping towards `to` without reaching `to` (hole punching, tunnel/engine.h).
  uint8_t hop_limit = 0;
};

// A receive slot: the caller provides `buffer`; receive() fills `length` and `from`.
struct ReceiveSlot {
  std::span<uint8_t> buffer;
  size_t length = 0;
  Endpoint from;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Sends every datagram, in order, batching system calls where the platform allows.
  // Errors on single datagrams (unreachable, no route, buffer full) drop that datagram:
  // UDP is lossy and the tunnel above it recovers.
  virtual void send_batch(std::span<const OutgoingDatagram> datagrams) = 0;

  // Fills up to slots.size() slots, waiting at most `timeout` for the first datagram.
  // Returns how many slots were filled (0 on timeout or after wake()).
  virtual size_t receive(std::span<ReceiveSlot> slots, std::chrono::milliseconds timeout) = 0;

  // Makes a receive() blocked in another thread return soon. Safe from any thread.
  virtual void wake() = 0;

  // The local endpoints the transport is bound to (for logging and for static-peer configs).
  virtual std::vector<Endpoint> local_endpoints() const = 0;
};

}  // namespace ntm::io
