// The real outer network: one non-blocking UDP socket per address family (IPv4, IPv6), an epoll
// wait that a wake() can interrupt, and batched recvmmsg/sendmmsg (optionally UDP GSO).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "io/transport.h"
#include "io/unique_fd.h"

namespace ntm::io {

struct UdpOptions {
  // Local addresses to bind. Defaults: 0.0.0.0:0 and [::]:0. When both ports are 0 the v6 socket
  // first tries the port the kernel picked for v4, so one port number serves both families.
  std::optional<Endpoint> bind_v4;
  std::optional<Endpoint> bind_v6;
  bool enable_v4 = true;
  // When the machine has no IPv6 (socket() fails with EAFNOSUPPORT) the transport runs v4-only.
  bool enable_v6 = true;
  // Requested SO_RCVBUF and SO_SNDBUF. SO_*BUFFORCE is tried first (needs CAP_NET_ADMIN), then
  // the plain option, which the kernel caps at net.core.{r,w}mem_max. 0 keeps the kernel default.
  size_t socket_buffer_bytes = size_t{16} << 20;
  // Coalesce consecutive datagrams to one endpoint with one size into a single UDP_SEGMENT send.
  // Ignored (off) when the kernel does not support it; switched off for good if a send fails.
  bool use_gso = false;
  // Bind with SO_REUSEPORT: several transports (one per thread of a server) then share the
  // port, and the kernel spreads the flows - by source address and port - over them. Every
  // socket of such a group must set it, the first one included.
  bool reuse_port = false;
};

class UdpTransport final : public Transport {
 public:
  // The largest batch one receive() or one sendmmsg call handles; larger spans are processed in
  // chunks (send) or partly filled (receive).
  static constexpr size_t kMaxBatch = 64;

  // Opens and binds the sockets. Throws std::system_error naming the address when a socket cannot
  // be created or bound, and for inconsistent options (wrong family, nothing enabled).
  static std::unique_ptr<UdpTransport> open(const UdpOptions& options = {});

  // Use open(); the key keeps construction inside this class.
  class Key {
    friend class UdpTransport;
    Key() = default;
  };
  explicit UdpTransport(Key);
  ~UdpTransport() override;
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  // Thread-safe: any number of threads may send at once, also while another thread receives.
  // Datagrams keep their order within a family. If the socket buffer is full the call waits up
  // to about 10 ms in total for room, then drops what is left.
  void send_batch(std::span<const OutgoingDatagram> datagrams) override;

  // Called by one thread at a time. Datagrams larger than their slot's buffer are dropped (the
  // slots after them are moved down). ICMP errors reported on the sockets are ignored. Negative
  // timeouts count as zero.
  size_t receive(std::span<ReceiveSlot> slots, std::chrono::milliseconds timeout) override;

  void wake() override;

  // The bound addresses (getsockname), e.g. 0.0.0.0:41234 and [::]:41234.
  std::vector<Endpoint> local_endpoints() const override;

  size_t max_batch() const { return kMaxBatch; }
  // While held, datagrams to IPv6 destinations other than ::1 are dropped instead of sent. A node
  // holds them while its IPv6 addresses are all tentative (mobility::ipv6_source_pending): the
  // kernel would send them from ::1 and leave the next hop's neighbour entry incomplete for a
  // second. Default: not held.
  void hold_ipv6(bool held) { ipv6_held_.store(held, std::memory_order_relaxed); }

  // Whether UDP GSO is in use (requested, supported, and no send has failed with it).
  bool gso_active() const { return gso_.load(std::memory_order_relaxed); }

 private:
  struct ReceiveScratch;

  void drain(int fd, std::span<ReceiveSlot> slots, size_t& filled);

  UniqueFd fd4_;
  UniqueFd fd6_;
  UniqueFd epoll_;
  UniqueFd wake_fd_;
  std::vector<Endpoint> local_;
  std::atomic<bool> ipv6_held_{false};
  std::atomic<bool> gso_{false};
  bool v6_first_ = false;  // alternates which socket is drained first, for fairness
  std::unique_ptr<ReceiveScratch> rx_;
};

}  // namespace ntm::io
