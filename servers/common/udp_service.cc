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

}  // namespace

UdpService::UdpService(UdpServiceOptions options, BatchHandler on_batch, SweepHandler on_sweep)
    : options_(std::move(options)), on_batch_(std::move(on_batch)), on_sweep_(std::move(on_sweep)) {
  if (options_.batch == 0) options_.batch = 1;
}

UdpService::~UdpService() { stop(); }

void UdpService::start() {
  if (transport_) return;
  transport_ = io::UdpTransport::open(transport_options(options_));
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  for (const auto& e : transport_->local_endpoints())
    NTM_LOG_INFO("%s listening on %s (UDP)", options_.name.c_str(), e.to_string().c_str());
}

void UdpService::stop() {
  if (!transport_) return;
  stopping_ = true;
  transport_->wake();
  if (thread_.joinable()) thread_.join();
  transport_.reset();
}

std::vector<Endpoint> UdpService::local_endpoints() const {
  return transport_ ? transport_->local_endpoints() : std::vector<Endpoint>{};
}

void UdpService::send_batch(std::span<const io::OutgoingDatagram> datagrams) {
  transport_->send_batch(datagrams);
}

size_t UdpService::answer_probes(std::span<io::ReceiveSlot> received) {
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
  if (!out.empty()) transport_->send_batch(out);
  return kept;
}

void UdpService::loop() {
  const size_t batch = options_.batch;
  std::vector<uint8_t> storage(batch * control::kMaxDatagramSize);
  std::vector<io::ReceiveSlot> slots(batch);
  // receive() only fills `length` and `from`, so the buffers are assigned once.
  for (size_t i = 0; i < batch; ++i)
    slots[i].buffer = std::span<uint8_t>(storage.data() + i * control::kMaxDatagramSize,
                                         control::kMaxDatagramSize);
  auto next_sweep = Clock::now() + kSweepInterval;
  while (!stopping_) {
    size_t n = transport_->receive(slots, options_.receive_timeout);
    const auto now = Clock::now();
    n = answer_probes(std::span<io::ReceiveSlot>(slots.data(), n));
    on_batch_(std::span<const io::ReceiveSlot>(slots.data(), n), now);
    if (now >= next_sweep) {
      next_sweep = now + kSweepInterval;
      on_sweep_(now);
    }
  }
}

}  // namespace ntm::servers
