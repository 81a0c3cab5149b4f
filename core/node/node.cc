#include "node/node.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

extern "C" {
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
}

#include "crypto/hash.h"
#include "node/key_store.h"
#include "node/login_client.h"
#include "node/progress_note.h"
#include "wire/constants.h"
#include "wire/ip_packet.h"
#include "mobility/network_state.h"
#include "node/mtu_clamp.h"
#include "node/tx_batch.h"
#include "stack/core_lock.h"
#include "stack/lwip_port.h"
#include "stack/slow_timers.h"
#include "stack/stack_limits.h"
#include "tunnel/constants.h"
#include "util/log.h"

namespace ntm::node {

namespace {

using namespace std::chrono_literals;
// While datagrams flow, the timers' next instant is worked out again at most this often (state
// that datagrams change, e.g. a new session, can arm timers); held packets are looked at this
// often while they wait for their direction.
constexpr auto kBusyRecompute = 20ms;
// How often the peers of open sockets are listed and held (idle expiry spares them).
constexpr auto kSocketHoldInterval = 500ms;
constexpr size_t kReceiveSlotSize = TxBatch::kSlotSize;
// How long one step with a server (TLS login, DC registration, a resolution) may take.
constexpr auto kServerTimeout = std::chrono::milliseconds(5000);

// The node lwIP's hooks talk to. Set and cleared under the core lock, read under it.
std::atomic<Node*> g_active{nullptr};

TxBatch& thread_batch() {
  thread_local TxBatch batch;
  return batch;
}

}  // namespace

uint64_t node_id_from_key(const crypto::X25519Key& public_key) {
  auto digest = crypto::sha256(public_key);
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id = (id << 8) | digest[i];
  return id;
}

std::string node_id_hex(uint64_t node_id) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016" PRIx64, node_id);
  return text;
}

Node::Node(NodeConfig config) : config_(std::move(config)) {}

std::unique_ptr<Node> Node::start(NodeConfig config) {
  std::unique_ptr<Node> node(new Node(std::move(config)));
  NodeConfig& cfg = node->config_;
  std::optional<control::LoginGrant> grant;
  if (cfg.control) grant = node->log_in();
  node->node_id_ = grant ? grant->node_id : node_id_from_key(cfg.key.public_key);
  node->events_ = std::make_unique<EventQueue>(cfg.on_event);

  tunnel::EngineConfig engine_config;
  engine_config.static_key = cfg.key;
  engine_config.cipher = cfg.cipher;
  engine_config.idle_timeout = cfg.idle_timeout;
  engine_config.virtual_mtu = cfg.mtu;
  engine_config.keepalive_interval = cfg.keepalive_interval;
  if (cfg.control) engine_config.direct_timeout = cfg.control->direct_timeout;
  node->engine_ = std::make_unique<tunnel::Engine>(engine_config, node->table_);

  for (const auto& p : cfg.peers) {
    tunnel::PeerIdentity id;
    id.node_id = node_id_from_key(p.public_key);
    id.fqdn = p.name;
    id.vip4 = p.vip4;
    id.vip6 = p.vip6;
    id.static_public = p.public_key;
    auto ref = node->table_.add(std::move(id), /*pinned=*/true);
    if (!ref) {
      throw StartError(StartError::Kind::invalid,
                       "peer '" + p.name + "' repeats a name, key or virtual address of another");
    }
    if (p.endpoint) {
      std::lock_guard lock(ref->mutex);
      ref->endpoint = *p.endpoint;
      ref->path = tunnel::PathKind::direct;
    }
  }

  io::UdpOptions udp;
  udp.enable_v4 = cfg.listen_v4.has_value();
  udp.enable_v6 = cfg.listen_v6.has_value();
  udp.bind_v4 = cfg.listen_v4;
  udp.bind_v6 = cfg.listen_v6;
  udp.use_gso = true;  // one sendmmsg entry per run of equal-sized capsules to one peer
  try {
    node->transport_ = io::UdpTransport::open(udp);
  } catch (const std::system_error& e) {
    throw StartError(StartError::Kind::io, e.what());
  }

  node->update_punch_hop_limit();
  node->hold_ipv6_while_tentative();
  // NTM_TX_WORKER=0 seals and sends on the thread that runs lwIP (the before/after knob of
  // bench/run.sh); by default a worker thread does it.
  if (const char* knob = std::getenv("NTM_TX_WORKER"); knob == nullptr || std::strcmp(knob, "0") != 0) {
    node->tx_worker_ = std::make_unique<TxWorker>(*node->transport_);
  }
  if (grant) node->register_with_dc(std::move(*grant));
  stack::set_limits({cfg.memory_limit, cfg.max_sockets, cfg.max_connections_per_peer,
                     cfg.max_socket_buffer});
  stack::set_limit_logger([](const char* message) { NTM_LOG_WARN("%s", message); });
  node->limit_drops_at_start_ = stack::limit_drops();
  stack::PacketOutput& output = *node;
  node->interface_ = std::make_unique<stack::VirtualInterface>(output, cfg.vip4, cfg.vip6, cfg.mtu);
  node->interface_mtu_ = cfg.mtu;
  {
    stack::CoreLock lock;
    stack::set_route_functions(&Node::route_ip4, &Node::route_ip6);
    stack::set_core_unlock_hook(&Node::flush_on_core_unlock);
    g_active.store(node.get());
  }
  node->running_.store(true);
  node->receiver_ = std::thread([n = node.get()] { n->run_receiver(); });
  node->watcher_ = std::make_unique<mobility::AddressWatcher>(
      [n = node.get()] { n->notify_network_change(); });
  if (!cfg.control_socket.empty()) {
    try {
      node->control_server_ = std::make_unique<ControlServer>(cfg.control_socket, *node);
    } catch (const std::runtime_error& e) {
      throw StartError(StartError::Kind::io, e.what());
    }
  }
  NTM_LOG_INFO("node %s (%s) started", cfg.name.c_str(), node_id_hex(node->node_id_).c_str());
  if (node->control_) {
    node->events_->post({NodeEvent::Type::registered, "", "", "", 0,
                         "registered as " + cfg.name + " with the DC at " +
                             node->control_->dc().to_string()});
  }
  node->events_->post({NodeEvent::Type::started, "", "", "", 0, "node " + cfg.name + " started"});
  return node;
}

Node::~Node() {
  control_server_.reset();  // no more requests into a node going away
  watcher_.reset();  // no more change reports into a node going away
  if (events_) {
    events_->post({NodeEvent::Type::stopping, "", "", "", 0, "node " + config_.name + " stopping"});
  }
  if (interface_) {
    stack::CoreLock lock;
    g_active.store(nullptr);
  }
  running_.store(false);
  if (transport_) transport_->wake();
  if (receiver_.joinable()) receiver_.join();
  interface_.reset();
  table_.clear();
  events_.reset();  // delivers the remaining events
}

// --- control plane ---

control::LoginGrant Node::log_in() {
  NodeConfig& cfg = config_;
  const bool have_key = std::any_of(cfg.key.private_key.begin(), cfg.key.private_key.end(),
                                    [](uint8_t b) { return b != 0; });
  if (!have_key) {
    try {
      cfg.key = cfg.control->state_dir.empty() ? crypto::x25519_generate()
                                               : load_or_create_key(cfg.control->state_dir);
    } catch (const std::runtime_error& e) {
      throw StartError(StartError::Kind::io, e.what());
    }
  }
  try {
    ProgressNote note("the AS at " + cfg.control->server.to_string() + " (login)");
    // Hundreds of nodes may start at once: a busy or silent AS is tried again (jittered) for
    // the start-up budget; a refusal fails at once.
    start_deadline_ = std::chrono::steady_clock::now() + cfg.control->start_timeout;
    auto grant = login_with_retry(*cfg.control, cfg.key.public_key, kServerTimeout,
                                  cfg.control->start_timeout);
    cfg.name = grant.fqdn;
    return grant;
  } catch (const LoginError& e) {
    throw StartError(e.kind() == LoginError::Kind::rejected ? StartError::Kind::auth
                                                            : StartError::Kind::unreachable,
                     e.what());
  }
}

void Node::register_with_dc(control::LoginGrant grant) {
  const ControlPlaneConfig cp = *config_.control;
  const crypto::X25519Key key = config_.key.public_key;
  control_ = std::make_unique<ControlClient>(cp, std::move(grant), *engine_, table_,
                                             *transport_,
                                             [cp, key] { return login(cp, key, kServerTimeout); },
                                             [this] {
                                               events_->post({NodeEvent::Type::registered, "", "",
                                                              "", 0,
                                                              "registered again as " +
                                                                  config_.name + " with the DC at " +
                                                                  control_->dc().to_string()});
                                               // Directions asked for while the DC was out of
                                               // reach (or from our old address) go again now.
                                               engine_->on_registered(*this, tunnel::Clock::now());
                                             },
                                             [this] {
                                               // A relay binding became usable (new, or an
                                               // RS that had lost it has it again):
                                               // resend what TCP holds without its backoff.
                                               kick_tcp_.store(true);
                                             },
                                             [this](NodeEvent e) { events_->post(std::move(e)); });
  control_->count_login();
  try {
    ProgressNote note("the DC (registration)");
    // The rest of the start-up budget (at least one server timeout): a DC busy with many nodes
    // starting together gets our Register again until it answers.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        start_deadline_ - std::chrono::steady_clock::now());
    auto reg = control_->register_blocking(std::max<std::chrono::milliseconds>(left, kServerTimeout));
    auto nonzero = [](std::span<const uint8_t> b) {
      return std::any_of(b.begin(), b.end(), [](uint8_t x) { return x != 0; });
    };
    if (nonzero(reg.vip4)) config_.vip4 = reg.vip4;
    if (nonzero(reg.vip6)) config_.vip6 = reg.vip6;
  } catch (const std::runtime_error& e) {
    throw StartError(StartError::Kind::unreachable, e.what());
  }
}

bool Node::ensure_peer_for(const Endpoint& virtual_address) {
  // Our own addresses are delivered by the virtual interface itself: asking the DC who owns
  // them would only block the caller until the server timeout.
  if (is_own_address(virtual_address)) return true;
  if (virtual_address.is_v4()) {
    std::array<uint8_t, 4> a;
    std::memcpy(a.data(), virtual_address.address.data(), 4);
    if (engine_->has_peer_for(a)) return true;
  } else if (engine_->has_peer_for(virtual_address.address)) {
    return true;
  }
  if (!control_) return false;
  return control_->resolve_address(virtual_address, kServerTimeout).has_value();
}

bool Node::is_own_address(const Endpoint& address) const {
  if (address.is_v4()) {
    return config_.vip4 && std::memcmp(config_.vip4->data(), address.address.data(), 4) == 0;
  }
  return config_.vip6 && std::memcmp(config_.vip6->data(), address.address.data(), 16) == 0;
}

// --- mobility ---

void Node::notify_network_change() {
  network_changed_.store(true);
  if (transport_) transport_->wake();
}

void Node::wake_receiver() {
  // The receiver works its timers out again before it sleeps; only other threads must wake it.
  if (transport_ && receiver_thread_.load(std::memory_order_relaxed) != std::this_thread::get_id()) {
    transport_->wake();
  }
}

void Node::timers_changed() { wake_receiver(); }

void Node::handle_network_change(tunnel::TimePoint now) {
  NTM_LOG_INFO("network changed: updating paths");
  network_changes_.fetch_add(1, std::memory_order_relaxed);
  hold_ipv6_while_tentative();
  if (control_) control_->on_network_change();
  update_punch_hop_limit();
  engine_->on_network_change(*this, now);
  kick_tcp();
}

void Node::hold_ipv6_while_tentative() {
  const bool pending = mobility::ipv6_source_pending();
  if (pending) NTM_LOG_INFO("IPv6 addresses still tentative: IPv6 sends wait until one is usable");
  transport_->hold_ipv6(pending);
}

void Node::update_punch_hop_limit() {
  const bool nat = mobility::behind_ipv4_nat(mobility::read_network_state());
  engine_->set_punch_open_hop_limit(nat ? tunnel::kPunchOpenHopLimit : 0);
}

void Node::follow_path_mtu() {
  const uint16_t mtu = wanted_mtu(table_, config_.mtu);
  if (mtu == interface_mtu_) {
    if (mtu < config_.mtu) {
      stack::CoreLock lock;
      clamp_mss(mtu);  // connections opened meanwhile, and what was queued before
    }
    return;
  }
  NTM_LOG_INFO("virtual interface MTU %u -> %u (the tunnels' measured path MTU)",
               static_cast<unsigned>(interface_mtu_), static_cast<unsigned>(mtu));
  const bool shrank = mtu < interface_mtu_;
  {
    stack::CoreLock lock;
    apply_mtu(interface_->netif(), mtu);
  }
  interface_mtu_ = mtu;
  // Segments sent meanwhile were probably too big for the path: send them again now (lwIP
  // fragments what no longer fits) rather than after the retransmission timeout.
  if (shrank) kick_tcp();
}

void Node::kick_tcp() {
  stack::CoreLock lock;
  for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
    if (pcb->unacked == nullptr) continue;
    // Forget the backoff built up while the path was dead and resend the oldest segment now.
    pcb->nrtx = 0;
    pcb->rto = static_cast<s16_t>(std::max<int>((pcb->sa >> 3) + pcb->sv, 1));
    tcp_rexmit_rto(pcb);
  }
}

// --- data plane ---

void Node::run_receiver() {
  receiver_thread_.store(std::this_thread::get_id());
  std::vector<uint8_t> storage(io::UdpTransport::kMaxBatch * kReceiveSlotSize);
  std::vector<io::ReceiveSlot> slots(io::UdpTransport::kMaxBatch);
  for (size_t i = 0; i < slots.size(); ++i) {
    slots[i].buffer = std::span(storage).subspan(i * kReceiveSlotSize, kReceiveSlotSize);
  }
  // The loop sleeps in receive() until a datagram, a wake() from another thread, or the next
  // instant a timer is due - not on a fixed tick: an idle node does not wake at all.
  auto now = tunnel::Clock::now();
  auto timers_due = now;  // once at start
  auto recompute_at = now;
  bool busy = false;
  while (running_.load(std::memory_order_relaxed)) {
    const auto wake_at = busy ? std::min(timers_due, recompute_at) : timers_due;
    // Rounded up: a wait cut to 0 ms before a timer due in 0.7 ms would spin until it.
    const auto wait = wake_at <= now ? 0ms : std::chrono::ceil<std::chrono::milliseconds>(wake_at - now);
    size_t count = transport_->receive(slots, wait);
    receiver_wakeups_.fetch_add(1, std::memory_order_relaxed);
    if (count > 0) {
      now = tunnel::Clock::now();
      // Opening (AEAD) happens outside lwIP's lock, so application threads use the stack
      // meanwhile; the inner packets then go in under one lock, and lwIP's replies (ACKs, more
      // data) leave as one batch when it is released.
      rx_inner_.clear();
      for (size_t i = 0; i < count; ++i) dispatch(slots[i].buffer.first(slots[i].length),
                                                   slots[i].from, now);
      if (!rx_inner_.empty()) {
        stack::CoreLock lock;
        for (const auto& inner : rx_inner_) {
          if (!interface_->input(inner)) {
            NTM_LOG_DEBUG("virtual stack dropped an inner packet of %zu bytes", inner.size());
          }
        }
      }
    }
    now = tunnel::Clock::now();
    if (network_changed_.exchange(false)) handle_network_change(now);
    // After datagrams, timers are looked at again within kBusyRecompute; after a timeout or a
    // wake-up at once.
    if (count == 0 || now >= recompute_at) {
      timers_due = next_timer(now);
      recompute_at = now + kBusyRecompute;
    }
    if (now >= timers_due) {
      run_timers(now);
      timers_due = next_timer(now);
      recompute_at = now + kBusyRecompute;
      if (timers_due <= now) {
        // Something next_timer() reports but tick() did not change: never spin on it.
        NTM_LOG_DEBUG("a timer stayed due after it ran; trying again in %lld ms",
                      static_cast<long long>(kBusyRecompute.count()));
        timers_due = now + kBusyRecompute;
      }
    }
    // Last: timers and datagrams above may have asked for it (a new path, a tunnel up).
    if (kick_tcp_.exchange(false)) kick_tcp();
    busy = count > 0;
  }
}

tunnel::TimePoint Node::next_timer(tunnel::TimePoint now) const {
  auto next = engine_->next_timer(now);
  if (control_) next = std::min(next, control_->next_timer());
  if (!held_.empty()) next = std::min(next, now + kBusyRecompute);
  return std::min(next, next_slow_timers_);
}

void Node::run_timers(tunnel::TimePoint now) {
  if (now >= next_hold_refresh_) {
    socket_holds_.refresh(table_);  // before the engine's idle expiry
    next_hold_refresh_ = now + kSocketHoldInterval;
  }
  if (control_) control_->tick(*this, now);
  engine_->tick(*this, now);
  follow_path_mtu();  // a probe round may just have ended
  if (!held_.empty()) send_held_packets(now);
  if (now >= next_slow_timers_) {
    {
      stack::CoreLock lock;
      stack::run_slow_timers();
    }
    next_slow_timers_ = now < slow_timers_until_ ? now + stack::slow_timer_interval()
                                                 : tunnel::TimePoint::max();
  }
}

void Node::dispatch(std::span<uint8_t> datagram, const Endpoint& from, tunnel::TimePoint now) {
  if (datagram.empty()) return;
  if (control_ && ControlClient::is_control(datagram)) {
    control_->on_datagram(datagram, from, *this, now);
    return;
  }
  if (datagram[0] == wire::kRelayedType) {
    if (datagram.size() <= wire::kRelayHeaderSize) return;
    uint32_t relay_id = 0;
    for (size_t i = 4; i < 8; ++i) relay_id = (relay_id << 8) | datagram[i];
    engine_->receive(datagram.subspan(wire::kRelayHeaderSize), from, *this, now, relay_id);
    return;
  }
  engine_->receive(datagram, from, *this, now);
}

std::span<uint8_t> Node::datagram_buffer(size_t size) {
  return thread_batch().buffer(size, *transport_, tx_worker_.get());
}

void Node::send(const Endpoint& to, size_t offset, size_t length) {
  thread_batch().commit(to, offset, length, stack::core_locked_by_this_thread(), *transport_,
                        tx_worker_.get());
}

bool Node::send_unsealed(const Endpoint& to, size_t offset, size_t length,
                         tunnel::UnsealedCapsule& capsule) {
  // Only while lwIP's lock is held: the batch leaves when it is released (to the worker).
  if (!tx_worker_ || !stack::core_locked_by_this_thread()) return false;
  return thread_batch().commit_unsealed(to, offset, length, std::move(capsule), *transport_,
                                        tx_worker_.get());
}

void Node::send_hop_limited(const Endpoint& to, size_t offset, size_t length,
                            uint8_t hop_limit) {
  thread_batch().commit(to, offset, length, stack::core_locked_by_this_thread(), *transport_,
                        tx_worker_.get(), hop_limit);
}

void Node::deliver(std::span<const uint8_t> inner) {
  if (pinger_.on_inner(inner)) return;  // an answer to `ntm ping`
  if (stack::is_fragment(inner)) {
    // lwIP's reassembly keeps state: its timers run (on this thread) until that has aged out.
    const auto now = tunnel::Clock::now();
    slow_timers_until_ = now + stack::slow_timer_work_after_fragment();
    if (next_slow_timers_ == tunnel::TimePoint::max()) {
      next_slow_timers_ = now + stack::slow_timer_interval();
    }
  }
  if (inner.size() > 0xffff) {
    NTM_LOG_DEBUG("virtual stack dropped an inner packet of %zu bytes", inner.size());
    return;
  }
  // Receiver thread, outside lwIP's lock: the bytes stay in the receive slot until the batch is
  // delivered (run_receiver).
  rx_inner_.push_back(inner);
}

err_t Node::output_packet(struct pbuf* packet) {
  const size_t length = packet->tot_len;
  auto buffer = datagram_buffer(tunnel::kDatagramHeadroom + length + tunnel::kDatagramTailroom);
  pbuf_copy_partial(packet, buffer.data() + tunnel::kDatagramHeadroom,
                    static_cast<u16_t>(length), 0);
  const auto now = tunnel::Clock::now();
  auto result = engine_->send_inner(buffer, length, *this, now);
  if (result != tunnel::SendResult::no_tunnel) return ERR_OK;
  if (!control_) return ERR_RTE;
  // Control-plane mode: no entry owns the destination (any more). Keep the packet and ask the
  // DC; it leaves when the direction has added the peer (send_held_packets), or is dropped after
  // HeldPackets::kHoldLimit. lwIP sees a sent packet, not a routing error.
  auto inner = std::span<const uint8_t>(buffer).subspan(tunnel::kDatagramHeadroom, length);
  auto addresses = wire::parse_inner_addresses(inner);
  if (!addresses) return ERR_RTE;
  Endpoint destination;
  if (addresses.value().version == 4) {
    std::array<uint8_t, 4> a;
    std::copy_n(addresses.value().dst.begin(), 4, a.begin());
    destination = Endpoint::v4(a, 0);
  } else {
    destination = Endpoint::v6(addresses.value().dst, 0);
  }
  if (held_.hold(destination, inner, now)) {
    NTM_LOG_INFO("no tunnel to %s: resolving it through the DC", destination.to_string().c_str());
    control_->request_resolve(destination);
    wake_receiver();  // held packets have a timer (they leave when the direction is in)
  }
  return ERR_OK;
}

void Node::send_held_packets(tunnel::TimePoint now) {
  auto ready = held_.take(
      [this](const Endpoint& a) {
        if (a.is_v4()) {
          std::array<uint8_t, 4> v4;
          std::copy_n(a.address.begin(), 4, v4.begin());
          return engine_->has_peer_for(v4);
        }
        return engine_->has_peer_for(a.address);
      },
      now);
  if (ready.empty()) return;
  stack::CoreLock lock;  // in order with what lwIP sends meanwhile; the batch leaves on unlock
  for (const auto& packet : ready) {
    auto buffer = datagram_buffer(tunnel::kDatagramHeadroom + packet.size() +
                                  tunnel::kDatagramTailroom);
    std::memcpy(buffer.data() + tunnel::kDatagramHeadroom, packet.data(), packet.size());
    engine_->send_inner(buffer, packet.size(), *this, now);
  }
}

bool Node::routes_to_tunnel(const Endpoint& virtual_address) const {
  if (virtual_address.is_v4()) {
    std::array<uint8_t, 4> a;
    std::copy_n(virtual_address.address.begin(), 4, a.begin());
    if (engine_->has_peer_for(a)) return true;
  } else if (engine_->has_peer_for(virtual_address.address)) {
    return true;
  }
  // A socket's peer whose entry is gone still goes to the tunnel: output_packet holds the packet
  // and resolves the address instead of failing the connection with a routing error.
  return control_ != nullptr && socket_holds_.covers(virtual_address);
}

void Node::flush_on_core_unlock() {
  Node* node = g_active.load(std::memory_order_acquire);
  TxBatch& batch = thread_batch();
  if (node != nullptr && !batch.empty()) batch.flush(*node->transport_, node->tx_worker_.get());
}

struct netif* Node::route_ip4(const ip4_addr_t* dest) {
  Node* node = g_active.load(std::memory_order_acquire);
  if (node == nullptr) return nullptr;
  std::array<uint8_t, 4> address;
  std::memcpy(address.data(), &dest->addr, 4);
  return node->routes_to_tunnel(Endpoint::v4(address, 0)) ? node->interface_->netif() : nullptr;
}

struct netif* Node::route_ip6(const ip6_addr_t* dest) {
  Node* node = g_active.load(std::memory_order_acquire);
  if (node == nullptr) return nullptr;
  std::array<uint8_t, 16> address;
  std::memcpy(address.data(), dest->addr, 16);
  return node->routes_to_tunnel(Endpoint::v6(address, 0)) ? node->interface_->netif() : nullptr;
}

// --- events and state ---

void Node::event(const tunnel::EngineEvent& e) {
  NodeEvent out;
  switch (e.type) {
    case tunnel::EngineEventType::tunnel_up: out.type = NodeEvent::Type::tunnel_up; break;
    case tunnel::EngineEventType::tunnel_down: out.type = NodeEvent::Type::tunnel_down; break;
    case tunnel::EngineEventType::path_changed: out.type = NodeEvent::Type::path_changed; break;
    case tunnel::EngineEventType::needs_direction:
      if (control_ && e.peer != nullptr) {
        NTM_LOG_INFO("%s", e.message.c_str());
        control_->request_direction(e.peer->identity.fqdn, e.failed_relay);
      }
      return;
  }
  // Connections stalled in retransmission backoff should not wait for their timer.
  if (e.type == tunnel::EngineEventType::tunnel_up ||
      e.type == tunnel::EngineEventType::path_changed) {
    kick_tcp_.store(true);
    wake_receiver();
  }
  if (e.peer != nullptr) {
    out.peer_name = e.peer->identity.fqdn;
    out.peer_node_id = node_id_hex(e.peer->identity.node_id);
  }
  out.endpoint = e.endpoint.valid() ? e.endpoint.to_string() : "";
  out.path = static_cast<int>(e.path);
  out.message = e.message;
  NTM_LOG_INFO("%s", out.message.c_str());
  events_->post(std::move(out));
}

NodeInfo Node::info() const {
  NodeInfo i;
  i.node_id = node_id_;
  i.name = config_.name;
  i.public_key = config_.key.public_key;
  i.vip4 = config_.vip4;
  i.vip6 = config_.vip6;
  i.endpoints = transport_->local_endpoints();
  i.mtu = config_.mtu;
  return i;
}

std::vector<TunnelInfo> Node::tunnels() const {
  std::vector<TunnelInfo> out;
  const auto now = tunnel::Clock::now();
  auto ms_since = [now](int64_t then_ns) -> int64_t {
    if (then_ns == 0) return -1;
    return (now.time_since_epoch().count() - then_ns) / 1000000;
  };
  for (const auto& peer : table_.all()) {
    TunnelInfo t;
    t.peer_name = peer->identity.fqdn;
    t.peer_node_id = peer->identity.node_id;
    t.vip4 = peer->identity.vip4;
    t.vip6 = peer->identity.vip6;
    {
      std::lock_guard lock(peer->mutex);
      t.state = peer->current ? 2 : (peer->pending || peer->next) ? 1 : 0;
      t.path = peer->path;
      t.endpoint = peer->endpoint;
      if (peer->current) {
        t.local_path_id = peer->current->local_path_id;
        t.session_age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               now - peer->current->created).count();
      }
    }
    t.bytes_sent = peer->bytes_sent.load();
    t.bytes_received = peer->bytes_received.load();
    t.packets_sent = peer->packets_sent.load();
    t.packets_received = peer->packets_received.load();
    int64_t last = std::max(peer->last_sent_ns.load(), peer->last_received_ns.load());
    t.last_activity_ms = ms_since(last);
    t.rtt_us = peer->rtt_us.load(std::memory_order_relaxed);
    t.path_mtu = peer->path_mtu.load(std::memory_order_relaxed);
    out.push_back(std::move(t));
  }
  return out;
}

NodeStats Node::stats() const {
  NodeStats out;
  const auto& e = engine_->stats();
  auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  out.packets_sent = get(e.packets_sent);
  out.packets_received = get(e.packets_received);
  out.bytes_sent = get(e.bytes_sent);
  out.bytes_received = get(e.bytes_received);
  out.dropped_malformed = get(e.dropped_malformed);
  out.dropped_unknown_path = get(e.dropped_unknown_path);
  out.dropped_auth = get(e.dropped_auth);
  out.dropped_replay = get(e.dropped_replay);
  out.dropped_no_tunnel = get(e.dropped_no_tunnel);
  out.dropped_spoofed = get(e.dropped_spoofed);
  out.dropped_policy = get(e.dropped_policy);
  out.dropped_limit = get(e.dropped_limit) + (stack::limit_drops() - limit_drops_at_start_);
  out.memory_used = stack::memory_used();
  out.handshakes_completed = get(e.handshakes_completed);
  out.handshakes_failed = get(e.handshakes_failed);
  out.handshakes_initiated = get(e.handshakes_initiated);
  out.relay_fallbacks = get(e.relay_fallbacks);
  out.direct_upgrades = get(e.direct_upgrades);
  out.network_changes = get(network_changes_);
  out.receiver_wakeups = get(receiver_wakeups_);
  if (control_) {
    const auto& c = control_->stats();
    out.logins = get(c.logins);
    out.registrations = get(c.registrations);
    out.resolves_sent = get(c.resolves_sent);
    out.directions_received = get(c.directions_received);
    out.dc_keepalives_sent = get(c.dc_keepalives_sent);
    out.dc_keepalives_missed = get(c.dc_keepalives_missed);
  }
  {
    stack::CoreLock lock;
    for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
      ++out.tcp_connections;
    }
  }
  return out;
}

bool Node::has_closing_connections() const {
  stack::CoreLock lock;
  for (struct tcp_pcb* pcb = tcp_active_pcbs; pcb != nullptr; pcb = pcb->next) {
    if (pcb->state == FIN_WAIT_1 || pcb->state == CLOSING || pcb->state == LAST_ACK) return true;
  }
  return false;
}

int64_t Node::uptime_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               started_)
      .count();
}

PingResult Node::ping(std::string_view target, std::chrono::milliseconds timeout) {
  PingResult r;
  r.peer_name = std::string(target);
  // A virtual address, or a name to resolve (through the DC in control-plane mode).
  std::optional<Endpoint> address;
  if (auto numeric = parse_numeric_address(target)) {
    address = *numeric;
    if (!ensure_peer_for(*address)) {
      r.error = "no peer has the virtual address " + std::string(target);
      return r;
    }
  } else {
    const auto found = resolve(target);
    if (!found) {
      r.error = "unknown peer '" + std::string(target) + "'";
      return r;
    }
    // The family this node has too, IPv4 first.
    if (found->vip4 && config_.vip4) {
      address = Endpoint::v4(*found->vip4, 0);
    } else if (found->vip6 && config_.vip6) {
      Endpoint e;
      e.family = Endpoint::Family::v6;
      std::memcpy(e.address.data(), found->vip6->data(), 16);
      address = e;
    } else {
      r.error = "'" + std::string(target) + "' has no virtual address of a family this node has";
      return r;
    }
  }
  tunnel::TunnelTable::Ref peer;
  std::vector<uint8_t> packet;
  uint16_t sequence = 0;
  if (address->is_v4()) {
    if (!config_.vip4) {
      r.error = "this node has no virtual IPv4 address";
      return r;
    }
    std::array<uint8_t, 4> dest;
    std::memcpy(dest.data(), address->address.data(), 4);
    peer = table_.find_vip4(dest);
    packet = pinger_.request(*config_.vip4, dest, &sequence);
  } else {
    if (!config_.vip6) {
      r.error = "this node has no virtual IPv6 address";
      return r;
    }
    peer = table_.find_vip6(address->address);
    packet = pinger_.request(*config_.vip6, address->address, &sequence);
  }
  r.address = address_text(*address);
  if (!peer) {
    r.error = "no peer has the virtual address " + r.address;
    return r;
  }
  r.peer_name = peer->identity.fqdn;
  {
    stack::CoreLock lock;  // the datagram leaves with the batch when the lock is released
    auto buffer = datagram_buffer(tunnel::kDatagramHeadroom + packet.size() + tunnel::kDatagramTailroom);
    std::memcpy(buffer.data() + tunnel::kDatagramHeadroom, packet.data(), packet.size());
    if (engine_->send_inner(buffer, packet.size(), *this, tunnel::Clock::now()) ==
        tunnel::SendResult::no_tunnel) {
      r.error = "no tunnel to " + r.peer_name;
      return r;
    }
  }
  const auto rtt = pinger_.wait(sequence, timeout);
  if (!rtt) {
    r.timed_out = true;
    return r;
  }
  // A fresh sample for the tunnel's smoothed RTT, as from a handshake.
  peer->add_rtt_sample(*rtt);
  r.rtt_us = std::chrono::duration_cast<std::chrono::microseconds>(*rtt).count();
  std::lock_guard lock(peer->mutex);
  r.path = peer->path;
  r.endpoint = peer->endpoint;
  return r;
}

std::optional<Resolved> Node::resolve(std::string_view name) const {
  if (name == config_.name) return Resolved{config_.vip4, config_.vip6};
  if (auto peer = table_.find_fqdn(name)) return Resolved{peer->identity.vip4, peer->identity.vip6};
  if (!control_) return std::nullopt;
  // Control-plane mode: the DC resolves the name and directs both ends to build the tunnel.
  auto found = control_->resolve_name(std::string(name), kServerTimeout);
  if (!found) return std::nullopt;
  auto peer = table_.find_node_id(found->node_id);
  if (!peer) return std::nullopt;
  return Resolved{peer->identity.vip4, peer->identity.vip6};
}

NetcheckTargets Node::netcheck_targets() const {
  if (!control_) return {};
  auto servers = control_->servers();
  return NetcheckTargets{{servers.as}, std::move(servers.dcs), std::move(servers.relays)};
}

}  // namespace ntm::node
