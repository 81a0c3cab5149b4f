#include "common/udp_service.h"

#include "control/constants.h"
#include "control/net_probe.h"
#include "util/log.h"

namespace ntm::servers {

namespace {

io::UdpOptions transport_options(const UdpServiceOptions& o) {
  io::UdpOptions opt;
  // Only the families the owner asked for: a listen list without IPv6 must not open [::]:0.
  opt.enable_v4 = false;
  opt.enable_v6 = false;
  for (const auto& e : o.listen) {
    if (e.is_v4()) {
      opt.enable_v4 = true;
      opt.bind_v4 = e;
    } else if (e.is_v6()) {
      opt.enable_v6 = true;
      opt.bind_v6 = e;
    }
  }
  opt.socket_buffer_bytes = o.socket_buffer_bytes;
  opt.use_gso = o.use_gso;
  return opt;
}

// The transport the calling thread receives on, when it is one of a service's threads: replies
// leave by the socket the request came in on.
thread_local const UdpService* this_thread_service = nullptr;
thread_local io::UdpTransport* this_thread_transport = nullptr;

}  // namespace

UdpService::UdpService(UdpServiceOptions options, BatchHandler on_batch, SweepHandler on_sweep)
    : options_(std::move(options)), on_batch_(std::move(on_batch)), on_sweep_(std::move(on_sweep)) {
  if (options_.batch == 0) options_.batch = 1;
  if (options_.threads == 0) options_.threads = 1;
}

UdpService::~UdpService() { stop(); }

void UdpService::open_transports() {
  io::UdpOptions first = transport_options(options_);
  if (options_.threads == 1) {
    transports_.push_back(io::UdpTransport::open(first));
    return;
  }
  // SO_REUSEPORT would let the group join sockets another server holds on a fixed port (of the
  // same user): bind once without it, so that fails as it does with one thread.
  bool fixed_port = false;
  for (const auto& e : options_.listen) fixed_port = fixed_port || e.port != 0;
  if (fixed_port) io::UdpTransport::open(first).reset();
  first.reuse_port = true;
  transports_.push_back(io::UdpTransport::open(first));
  io::UdpOptions rest = first;  // the same port numbers as the first (port 0: the one it got)
  for (const auto& e : transports_.front()->local_endpoints()) {
    if (e.is_v4()) {
      rest.bind_v4 = e;
    } else {
      rest.bind_v6 = e;
    }
  }
  for (unsigned i = 1; i < options_.threads; ++i) transports_.push_back(io::UdpTransport::open(rest));
}

void UdpService::start() {
  if (running()) return;
  try {
    open_transports();
  } catch (...) {
    transports_.clear();
    throw;
  }
  stopping_ = false;
  for (size_t i = 0; i < transports_.size(); ++i) threads_.emplace_back([this, i] { loop(i); });
  const std::string how =
      transports_.size() > 1 ? "UDP, " + std::to_string(transports_.size()) + " threads" : "UDP";
  for (const auto& e : transports_.front()->local_endpoints())
    NTM_LOG_INFO("%s listening on %s (%s)", options_.name.c_str(), e.to_string().c_str(),
                 how.c_str());
}

void UdpService::stop() {
  if (!running()) return;
  stopping_ = true;
  for (auto& t : transports_) t->wake();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  transports_.clear();
}

std::vector<Endpoint> UdpService::local_endpoints() const {
  return running() ? transports_.front()->local_endpoints() : std::vector<Endpoint>{};
}

void UdpService::send_batch(std::span<const io::OutgoingDatagram> datagrams) {
  io::UdpTransport* own = this_thread_service == this ? this_thread_transport : nullptr;
  (own ? *own : *transports_.front()).send_batch(datagrams);
}

size_t UdpService::answer_probes(io::UdpTransport& transport,
                                 std::span<io::ReceiveSlot> received) {
  // Probes are rare and never reach the owner: answer them, then move the other datagrams to the
  // front (each slot keeps its own buffer, so reordering slots is free).
  std::vector<control::Bytes> replies;
  std::vector<io::OutgoingDatagram> out;
  size_t kept = 0;
  for (size_t i = 0; i < received.size(); ++i) {
    const io::ReceiveSlot& slot = received[i];
    if (slot.length > 0 && slot.buffer[0] == control::kNetProbeType) {
      if (auto reply = control::answer_net_probe(slot.buffer.first(slot.length), slot.from)) {
        replies.reserve(received.size());  // spans into replies must stay valid until sent
        replies.push_back(std::move(*reply));
        out.push_back({slot.from, replies.back()});
        continue;
      }
    }
    if (kept != i) std::swap(received[kept], received[i]);
    ++kept;
  }
  if (!out.empty()) transport.send_batch(out);
  return kept;
}

void UdpService::loop(size_t index) {
  io::UdpTransport& transport = *transports_[index];
  this_thread_service = this;
  this_thread_transport = &transport;
  const size_t batch = options_.batch;
  std::vector<uint8_t> storage(batch * control::kMaxDatagramSize);
  std::vector<io::ReceiveSlot> slots(batch);
  // receive() only fills `length` and `from`, so the buffers are assigned once.
  for (size_t i = 0; i < batch; ++i)
    slots[i].buffer = std::span<uint8_t>(storage.data() + i * control::kMaxDatagramSize,
                                         control::kMaxDatagramSize);
  auto next_sweep = Clock::now() + kSweepInterval;
  while (!stopping_) {
    size_t n = transport.receive(slots, options_.receive_timeout);
    const auto now = Clock::now();
    n = answer_probes(transport, std::span<io::ReceiveSlot>(slots.data(), n));
    on_batch_(std::span<const io::ReceiveSlot>(slots.data(), n), now);
    if (index == 0 && now >= next_sweep) {
      next_sweep = now + kSweepInterval;
      on_sweep_(now);
    }
  }
}

}  // namespace ntm::servers
