#include "rs/relay_server.h"

#include <ctime>

#include "control/relay_messages.h"
#include "util/log.h"

namespace ntm::servers {

RelayServer::RelayServer(RelayServerConfig config)
    : config_(std::move(config)),
      service_(
          UdpServiceOptions{.name = "RS",
                            .listen = config_.listen,
                            .receive_timeout = std::chrono::milliseconds(200)},
          [this](std::span<const io::ReceiveSlot> received, Clock::time_point now) {
            on_batch(received, now);
          },
          [this](Clock::time_point now) { sweep(now); }) {}

RelayServer::~RelayServer() { stop(); }

uint64_t RelayServer::now_unix() const {
  return config_.now_unix ? config_.now_unix() : static_cast<uint64_t>(std::time(nullptr));
}

void RelayServer::start() { service_.start(); }

void RelayServer::stop() {
  if (!service_.running()) return;
  service_.stop();
  relays_.clear();
  relay_count_ = 0;
}

void RelayServer::on_batch(std::span<const io::ReceiveSlot> received, Clock::time_point now) {
  out_.clear();
  replies_.clear();
  replies_.reserve(received.size());  // spans into replies_ must stay valid until send_batch
  for (const io::ReceiveSlot& slot : received) {
    const std::span<const uint8_t> d(slot.buffer.data(), slot.length);
    if (d.empty()) {
      drop(RsDrop::malformed);
      continue;
    }
    if (d[0] == static_cast<uint8_t>(control::MessageType::relayed)) {
      if (const Endpoint* to = route(d, slot.from, now)) {
        out_.push_back({*to, d});
        ++forwarded_;
      } else {
        drop(RsDrop::not_relayable);
      }
    } else if (d[0] == static_cast<uint8_t>(control::MessageType::relay_bind)) {
      bind(d, slot.from, now, replies_, out_);
    } else {
      drop(RsDrop::malformed);
    }
  }
  if (!out_.empty()) service_.send_batch(out_);
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
    drop(RsDrop::bad_token);
    return;
  }
  auto it = relays_.find(b->relay_id);
  if (it == relays_.end()) {
    if (relays_.size() >= config_.max_relays) {
      drop(RsDrop::table_full);
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
      drop(RsDrop::third_node);  // a third node_id: not part of this relay
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
