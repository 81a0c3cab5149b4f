#include "rs/relay_server.h"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "control/relay_messages.h"
#include "util/log.h"
#include "wire/constants.h"

namespace ntm::servers {

namespace {

unsigned threads_wanted(unsigned configured) {
  if (configured == 0) configured = std::max(1u, std::thread::hardware_concurrency());
  return std::min(configured, RelayServer::kMaxThreads);
}

// One batch's sends and the messages they point into, per forwarding thread (kept to reuse
// their capacity), and the datagrams the batch left for the exclusive lock.
struct BatchScratch {
  std::vector<io::OutgoingDatagram> out;
  std::vector<control::Bytes> replies;
  std::vector<size_t> slow;
};

BatchScratch& batch_scratch() {
  thread_local BatchScratch scratch;
  scratch.out.clear();
  scratch.replies.clear();
  scratch.slow.clear();
  return scratch;
}

}  // namespace

RelayServer::RelayServer(RelayServerConfig config)
    : config_(std::move(config)),
      service_(
          UdpServiceOptions{.name = "RS",
                            .listen = config_.listen,
                            .receive_timeout = std::chrono::milliseconds(200),
                            .use_gso = config_.use_gso,
                            .threads = threads_wanted(config_.threads)},
          [this](std::span<const io::ReceiveSlot> received, Clock::time_point now) {
            on_batch(received, now);
          },
          [this](Clock::time_point now) { sweep(now); }) {}

RelayServer::~RelayServer() { stop(); }

uint64_t RelayServer::now_unix() const {
  return config_.now_unix ? config_.now_unix() : static_cast<uint64_t>(std::time(nullptr));
}

void RelayServer::start() {
  if (!service_.running()) load_table();
  service_.start();
}

void RelayServer::load_table() {
  if (config_.table_file.empty()) return;
  std::ifstream in(config_.table_file);
  std::string line;
  const auto now = Clock::now();
  const uint64_t unix_now = now_unix();
  while (std::getline(in, line) && relays_.size() < config_.max_relays) {
    std::istringstream f(line);
    uint32_t id = 0;
    Relay r;
    if (!(f >> id >> r.expires_unix >> r.bound) || r.bound < 1 || r.bound > 2) continue;
    bool ok = true;
    for (unsigned i = 0; i < r.bound && ok; ++i) {
      std::string address;
      ok = static_cast<bool>(f >> r.ends[i].node_id >> address >> r.ends[i].sequence);
      auto e = ok ? Endpoint::parse(address) : std::nullopt;
      ok = ok && e.has_value();
      if (ok) r.ends[i].address = *e;
    }
    if (!ok || r.expires_unix <= unix_now) continue;
    r.last_activity.set(now);
    relays_.emplace(id, r);
  }
  relay_count_ = relays_.size();
  if (!relays_.empty())
    NTM_LOG_INFO("RS: %zu relay(s) of the previous run restored", relays_.size());
}

std::optional<std::string> RelayServer::table_text_if_dirty() {
  if (!table_dirty_ || config_.table_file.empty()) return std::nullopt;
  table_dirty_ = false;
  std::ostringstream out;
  for (const auto& [id, r] : relays_) {
    out << id << ' ' << r.expires_unix << ' ' << r.bound;
    for (unsigned i = 0; i < r.bound; ++i)
      out << ' ' << r.ends[i].node_id << ' ' << r.ends[i].address.to_string() << ' '
          << r.ends[i].sequence;
    out << '\n';
  }
  return std::move(out).str();
}

void RelayServer::write_table(const std::string& text) const {
  const auto tmp = config_.table_file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out) {
      NTM_LOG_WARN("RS: cannot write %s", tmp.c_str());
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, config_.table_file, ec);
  if (ec)
    NTM_LOG_WARN("RS: cannot replace %s: %s", config_.table_file.c_str(), ec.message().c_str());
}

void RelayServer::stop() {
  if (!service_.running()) return;
  service_.stop();
  if (auto text = table_text_if_dirty()) write_table(*text);
  relays_.clear();
  relay_count_ = 0;
}

void RelayServer::announce_restart(Clock::time_point now) {
  std::vector<control::Bytes> replies;
  std::vector<Endpoint> ends;
  {
    std::unique_lock lock(mutex_);
    for (const auto& [id, r] : relays_) {
      for (unsigned i = 0; i < r.bound; ++i) {
        replies.push_back(
            control::encode(control::RelayChallenge{id, cookies_.issue(r.ends[i].address, now)}));
        ends.push_back(r.ends[i].address);
      }
    }
  }
  // Spans into replies are taken once it is complete (push_back may move its elements).
  std::vector<io::OutgoingDatagram> out;
  for (size_t i = 0; i < ends.size(); ++i) out.push_back({ends[i], replies[i]});
  if (!out.empty()) service_.send_batch(out);
  if (!ends.empty())
    NTM_LOG_INFO("RS: asked %zu relay end(s) of the previous run to bind again", ends.size());
}

void RelayServer::on_batch(std::span<const io::ReceiveSlot> received, Clock::time_point now) {
  if (!announced_.exchange(true)) announce_restart(now);
  BatchScratch& s = batch_scratch();
  // A datagram adds at most two replies (a bind's ack and a handshake held for its peer), and
  // the spans in s.out into s.replies must stay valid until the send.
  s.replies.reserve(2 * received.size());
  {
    // Forwarding, the common case: every thread at once.
    std::shared_lock lock(mutex_);
    for (size_t i = 0; i < received.size(); ++i) {
      const io::ReceiveSlot& slot = received[i];
      const std::span<const uint8_t> d(slot.buffer.data(), slot.length);
      if (!d.empty() && d[0] == static_cast<uint8_t>(control::MessageType::relayed)) {
        if (auto to = route(d, slot.from, now)) {
          s.out.push_back({*to, d});
          ++forwarded_;
          continue;
        }
      }
      s.slow.push_back(i);
    }
  }
  if (!s.slow.empty()) {
    std::unique_lock lock(mutex_);
    for (size_t i : s.slow) {
      const io::ReceiveSlot& slot = received[i];
      handle_slow(std::span<const uint8_t>(slot.buffer.data(), slot.length), slot.from, now,
                  s.replies, s.out);
    }
  }
  if (!s.out.empty()) service_.send_batch(s.out);
}

void RelayServer::handle_slow(std::span<const uint8_t> d, const Endpoint& from,
                              Clock::time_point now, std::vector<control::Bytes>& replies,
                              std::vector<io::OutgoingDatagram>& out) {
  if (d.empty()) {
    drop(RsDrop::malformed);
  } else if (d[0] == static_cast<uint8_t>(control::MessageType::relayed)) {
    // Another thread may have bound the relay since the shared pass.
    if (auto to = route(d, from, now)) {
      out.push_back({*to, d});
      ++forwarded_;
      return;
    }
    drop(RsDrop::not_relayable);
    hold_if_handshake(d, from, now);
    challenge(d, from, now, replies, out);
  } else if (d[0] == static_cast<uint8_t>(control::MessageType::relay_bind)) {
    bind(d, from, now, replies, out);
  } else {
    drop(RsDrop::malformed);
  }
}

std::optional<Endpoint> RelayServer::route(std::span<const uint8_t> d, const Endpoint& from,
                                           Clock::time_point now) const {
  auto h = control::decode_relayed_header(d);
  if (!h) return std::nullopt;
  auto it = relays_.find(h->relay_id);
  if (it == relays_.end()) return std::nullopt;
  const Relay& r = it->second;
  if (r.bound < 2) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    if (r.ends[i].address == from) {
      // The stamp is atomic: forwarding threads share the lock. Refreshed when it is 100 ms
      // old, not per datagram, so a relay's two directions on two threads rarely share a write.
      if (now - r.last_activity.get() > std::chrono::milliseconds(100)) {
        r.last_activity.set(now);
      }
      return r.ends[1 - i].address;
    }
  }
  return std::nullopt;
}

void RelayServer::bind(std::span<const uint8_t> d, const Endpoint& from, Clock::time_point now,
                       std::vector<control::Bytes>& replies,
                       std::vector<io::OutgoingDatagram>& out) {
  auto b = control::decode_relay_bind(d);
  if (!b || !control::verify_relay_bind(config_.relay_key, *b, now_unix())) {
    drop(RsDrop::bad_token);
    return;
  }
  if (!cookies_.valid(b->cookie, from, now)) {
    // No cookie yet, an old one, or a bind captured elsewhere and replayed from here.
    drop(RsDrop::bad_cookie);
    replies.push_back(control::encode(control::RelayChallenge{b->relay_id, cookies_.issue(from, now)}));
    out.push_back({from, replies.back()});
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
    table_dirty_ = true;
  } else if (b->sequence <= end->sequence) {
    drop(RsDrop::replayed_bind);  // an older bind than the one in place
    return;
  }
  end->sequence = b->sequence;
  if (!(end->address == from)) table_dirty_ = true;
  end->address = from;  // the node's current address (it may have moved)
  r.expires_unix = std::max(r.expires_unix, b->expires_unix);
  r.last_activity.set(now);
  relay_count_ = relays_.size();
  ++binds_;
  replies.push_back(control::encode(control::RelayBindAck{b->relay_id, cookies_.issue(from, now)}));
  out.push_back({from, replies.back()});
  if (r.bound == 2) release_held(b->relay_id, r, from, now, replies, out);
}

void RelayServer::hold_if_handshake(std::span<const uint8_t> d, const Endpoint& from,
                                    Clock::time_point now) {
  const size_t header = control::kRelayHeaderSize;
  if (d.size() <= header) return;
  const auto type = static_cast<wire::MessageType>(d[header]);
  if (type != wire::MessageType::handshake_init && type != wire::MessageType::handshake_response)
    return;
  if (d.size() > header + wire::kHandshakeInitSize) return;
  auto h = control::decode_relayed_header(d);
  if (!h) return;
  auto it = relays_.find(h->relay_id);
  if (it == relays_.end() || it->second.bound != 1 || !(it->second.ends[0].address == from)) return;
  auto held = held_.find(h->relay_id);
  if (held == held_.end()) {
    if (held_.size() >= config_.max_held_handshakes) return;
    held = held_.emplace(h->relay_id, HeldHandshake{}).first;
  }
  held->second.from = from;
  held->second.datagram.assign(d.begin(), d.end());
  held->second.at = now;
}

void RelayServer::release_held(uint32_t relay_id, const Relay& r, const Endpoint& to,
                               Clock::time_point now, std::vector<control::Bytes>& replies,
                               std::vector<io::OutgoingDatagram>& out) {
  auto held = held_.find(relay_id);
  if (held == held_.end()) return;
  // Only the other end's, from where it is bound now, and not one its sender has retried since.
  const bool from_peer = held->second.from != to && (held->second.from == r.ends[0].address ||
                                                     held->second.from == r.ends[1].address);
  if (from_peer && now - held->second.at <= config_.hold_handshake_for) {
    replies.push_back(std::move(held->second.datagram));
    out.push_back({to, replies.back()});
    ++forwarded_;
  }
  held_.erase(held);
}

void RelayServer::challenge(std::span<const uint8_t> d, const Endpoint& from, Clock::time_point now,
                            std::vector<control::Bytes>& replies,
                            std::vector<io::OutgoingDatagram>& out) {
  // Never more bytes back than came in (no amplification from forged sources), and a global cap.
  if (d.size() < control::kRelayChallengeSize) return;
  auto h = control::decode_relayed_header(d);
  if (!h) return;
  // A bound end whose peer has not bound yet needs no new cookie: only strangers and unknown
  // relays (the RS restarted, the relay expired) are asked to bind.
  if (auto it = relays_.find(h->relay_id); it != relays_.end()) {
    for (unsigned i = 0; i < it->second.bound; ++i)
      if (it->second.ends[i].address == from) return;
  }
  if (now - challenge_second_ >= std::chrono::seconds(1)) {
    challenge_second_ = now;
    challenges_this_second_ = 0;
  }
  if (challenges_this_second_ >= config_.challenges_per_second) return;
  ++challenges_this_second_;
  replies.push_back(control::encode(control::RelayChallenge{h->relay_id, cookies_.issue(from, now)}));
  out.push_back({from, replies.back()});
}

void RelayServer::sweep(Clock::time_point now) {
  const uint64_t unix_now = now_unix();
  std::unique_lock lock(mutex_);
  for (auto it = relays_.begin(); it != relays_.end();) {
    const Relay& r = it->second;
    if (now - r.last_activity.get() > config_.idle_timeout || unix_now >= r.expires_unix) {
      held_.erase(it->first);
      it = relays_.erase(it);
      table_dirty_ = true;
    } else {
      ++it;
    }
  }
  std::erase_if(held_, [&](const auto& kv) { return now - kv.second.at > config_.hold_handshake_for; });
  relay_count_ = relays_.size();
  auto text = table_text_if_dirty();
  lock.unlock();  // forwarding goes on while the file is written
  if (text) write_table(*text);
}

}  // namespace ntm::servers
