#include "rs/relay_server.h"

#include <ctime>

#include "control/relay_messages.h"
#include "util/log.h"

namespace ntm::servers {

RelayServer::RelayServer(RelayServerConfig config) : config_(std::move(config)) {}

RelayServer::~RelayServer() { stop(); }

uint64_t RelayServer::now_unix() const {
  return config_.now_unix ? config_.now_unix() : static_cast<uint64_t>(std::time(nullptr));
}

void RelayServer::start() {
  if (transport_) return;
  io::UdpOptions opt;
  opt.enable_v4 = false;
  opt.enable_v6 = false;
  for (const auto& e : config_.listen) {
    if (e.is_v4()) {
      opt.enable_v4 = true;
      opt.bind_v4 = e;
    } else if (e.is_v6()) {
      opt.enable_v6 = true;
      opt.bind_v6 = e;
    }
  }
  transport_ = io::UdpTransport::open(opt);
  stopping_ = false;
  next_sweep_ = Clock::now() + std::chrono::seconds(1);
  thread_ = std::thread([this] { loop(); });
  for (const auto& e : transport_->local_endpoints())
    NTM_LOG_INFO("RS listening on %s (UDP)", e.to_string().c_str());
}

void RelayServer::stop() {
  if (!transport_) return;
  stopping_ = true;
  transport_->wake();
  if (thread_.joinable()) thread_.join();
  transport_.reset();
  relays_.clear();
  relay_count_ = 0;
}

std::vector<Endpoint> RelayServer::local_endpoints() const {
  return transport_ ? transport_->local_endpoints() : std::vector<Endpoint>{};
}

void RelayServer::loop() {
  constexpr size_t kBatch = io::UdpTransport::kMaxBatch;
  std::vector<uint8_t> storage(kBatch * control::kMaxDatagramSize);
  std::vector<io::ReceiveSlot> slots(kBatch);
  std::vector<io::OutgoingDatagram> out;
  std::vector<control::Bytes> replies;
  out.reserve(kBatch);
  while (!stopping_) {
    for (size_t i = 0; i < kBatch; ++i)
      slots[i] = io::ReceiveSlot{
          std::span<uint8_t>(storage.data() + i * control::kMaxDatagramSize,
                             control::kMaxDatagramSize),
          0, {}};
    const size_t n = transport_->receive(slots, std::chrono::milliseconds(200));
    const auto now = Clock::now();
    out.clear();
    replies.clear();
    replies.reserve(n);  // spans into replies must stay valid until send_batch
    for (size_t i = 0; i < n; ++i) {
      const std::span<const uint8_t> d(slots[i].buffer.data(), slots[i].length);
      if (d.empty()) {
        ++dropped_;
        continue;
      }
      if (d[0] == static_cast<uint8_t>(control::MessageType::relayed)) {
        if (const Endpoint* to = route(d, slots[i].from, now)) {
          out.push_back({*to, d});
          ++forwarded_;
        } else {
          ++dropped_;
        }
      } else if (d[0] == static_cast<uint8_t>(control::MessageType::relay_bind)) {
        bind(d, slots[i].from, now, replies, out);
      } else {
        ++dropped_;
      }
    }
    if (!out.empty()) transport_->send_batch(out);
    if (now >= next_sweep_) sweep(now);
  }
}

const Endpoint* RelayServer::route(std::span<const uint8_t> d, const Endpoint& from,
                                   Clock::time_point now) {
  auto h = control::decode_relayed_header(d);
  if (!h) return nullptr;
  auto it = relays_.find(h->relay_id);
  if (it == relays_.end()) return nullptr;
  Relay& r = it->second;
  if (r.bound < 2) return nullptr;
  for (int i = 0; i < 2; ++i) {
    if (r.ends[i].address == from) {
      r.last_activity = now;
      return &r.ends[1 - i].address;
    }
  }
  return nullptr;
}

void RelayServer::bind(std::span<const uint8_t> d, const Endpoint& from, Clock::time_point now,
                       std::vector<control::Bytes>& replies,
                       std::vector<io::OutgoingDatagram>& out) {
  auto b = control::decode_relay_bind(d);
  if (!b || !control::verify_relay_token(config_.relay_key, *b, now_unix())) {
    ++dropped_;
    return;
  }
  auto it = relays_.find(b->relay_id);
  if (it == relays_.end()) {
    if (relays_.size() >= config_.max_relays) {
      ++dropped_;
      NTM_LOG_WARN("RS: relay table full (%zu); bind dropped", relays_.size());
      return;
    }
    it = relays_.emplace(b->relay_id, Relay{}).first;
  }
  Relay& r = it->second;
  End* end = nullptr;
  for (unsigned i = 0; i < r.bound; ++i)
    if (r.ends[i].node_id == b->node_id) end = &r.ends[i];
  if (!end) {
    if (r.bound == 2) {
      ++dropped_;  // a third node_id: not part of this relay
      return;
    }
    end = &r.ends[r.bound++];
    end->node_id = b->node_id;
  }
  end->address = from;  // the node's current address (it may have moved)
  r.expires_unix = std::max(r.expires_unix, b->expires_unix);
  r.last_activity = now;
  relay_count_ = relays_.size();
  ++binds_;
  replies.push_back(control::encode(control::RelayBindAck{b->relay_id}));
  out.push_back({from, replies.back()});
}

void RelayServer::sweep(Clock::time_point now) {
  next_sweep_ = now + std::chrono::seconds(1);
  const uint64_t unix_now = now_unix();
  for (auto it = relays_.begin(); it != relays_.end();) {
    const Relay& r = it->second;
    if (now - r.last_activity > config_.idle_timeout || unix_now >= r.expires_unix)
      it = relays_.erase(it);
    else
      ++it;
  }
  relay_count_ = relays_.size();
}

}  // namespace ntm::servers
