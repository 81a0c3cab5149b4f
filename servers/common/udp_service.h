// The UDP server loop the DC and the RS share: it binds io::UdpTransport on the listen endpoints,
// runs receive threads that hand each batch of datagrams to the owner, and calls the owner's
// sweep about once a second. The owner keeps its protocol (what a datagram means, what to answer);
// this class only owns the sockets, the threads and their start/stop order.
//
// With one thread (the default) all owner state touched by the handlers belongs to it, so the
// owner needs no lock. With `threads` > 1 each thread has its own sockets on the same port
// (SO_REUSEPORT; the kernel spreads the flows by source) and calls the batch handler
// concurrently: the owner locks what the threads share. The sweep runs on the first thread only.
// stop() joins the threads before it returns, after which the owner may clear its state.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "io/udp_transport.h"

namespace ntm::servers {

struct UdpServiceOptions {
  std::string name;  // who is listening, in the log line: "<name> listening on <addr> (UDP)"
  // Local UDP addresses: at most one IPv4 and one IPv6 (port 0: any free port).
  std::vector<Endpoint> listen;
  size_t socket_buffer_bytes = io::UdpOptions{}.socket_buffer_bytes;
  size_t batch = io::UdpTransport::kMaxBatch;  // receive slots per wait
  // The longest wait for a datagram; bounds how late the owner's per-batch timers can run.
  std::chrono::milliseconds receive_timeout{50};
  // Coalesce runs of equal-sized datagrams to one address into one UDP_SEGMENT send
  // (io::UdpOptions::use_gso): what a relay forwarding a bulk flow sends.
  bool use_gso = false;
  // Receive threads, each with its own sockets on the listen port (see the top of the file).
  unsigned threads = 1;
};

class UdpService {
 public:
  using Clock = std::chrono::steady_clock;
  // Called after every wait, also with no datagram (timeout or wake), so the owner can run its
  // short timers (e.g. retransmits) here without a thread of its own.
  using BatchHandler =
      std::function<void(std::span<const io::ReceiveSlot> received, Clock::time_point now)>;
  // Called at most once per kSweepInterval, after the batch handler: expiry of idle state.
  using SweepHandler = std::function<void(Clock::time_point now)>;
  static constexpr std::chrono::seconds kSweepInterval{1};

  UdpService(UdpServiceOptions options, BatchHandler on_batch, SweepHandler on_sweep);
  ~UdpService();
  UdpService(const UdpService&) = delete;
  UdpService& operator=(const UdpService&) = delete;

  // Binds and starts the threads; a no-op while running. Throws std::system_error naming the
  // address (also when another process holds the port, whatever `threads` is).
  void start();
  void stop();  // idempotent; joins the threads
  bool running() const { return !transports_.empty(); }
  size_t thread_count() const { return transports_.size(); }  // 0 while stopped

  std::vector<Endpoint> local_endpoints() const;
  // Only while running (from the handlers, typically). From a handler, the datagrams leave by
  // the calling thread's own socket; the transports are thread-safe to send on.
  void send_batch(std::span<const io::OutgoingDatagram> datagrams);

 private:
  void open_transports();
  void loop(size_t index);
  // Answers the NetProbes among `received` (control/net_probe.h) on `transport` and returns how
  // many other datagrams remain, moved to the front.
  size_t answer_probes(io::UdpTransport& transport, std::span<io::ReceiveSlot> received);

  UdpServiceOptions options_;
  BatchHandler on_batch_;
  SweepHandler on_sweep_;
  std::vector<std::unique_ptr<io::UdpTransport>> transports_;  // one per thread
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace ntm::servers
