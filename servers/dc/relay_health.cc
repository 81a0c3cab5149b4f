#include "dc/relay_health.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "control/net_probe.h"
#include "crypto/random.h"
#include "util/log.h"

namespace ntm::servers {

namespace {

io::UniqueFd udp_socket(int family) {
  io::UniqueFd fd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  return fd;  // unbound: the kernel picks a port at the first send
}

}  // namespace

RelayHealth::RelayHealth(std::vector<std::vector<Endpoint>> relays, Config config)
    : relays_(std::move(relays)), config_(config), probed_(relays_.size()) {}

RelayHealth::~RelayHealth() { stop(); }

void RelayHealth::start() {
  if (running_ || relays_.empty()) return;
  v4_ = udp_socket(AF_INET);
  v6_ = udp_socket(AF_INET6);
  wake_ = io::UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void RelayHealth::stop() {
  if (!running_) return;
  running_ = false;
  const uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
  thread_.join();
}

bool RelayHealth::serves(size_t relay, Endpoint::Family f) const {
  const auto& eps = relays_[relay];
  return std::any_of(eps.begin(), eps.end(), [f](const Endpoint& e) { return e.family == f; });
}

bool RelayHealth::alive_locked(size_t relay, Clock::time_point now) const {
  const Probed& p = probed_[relay];
  return p.answered && now - p.last_answer <= config_.dead_after;
}

std::optional<size_t> RelayHealth::index_of(const Endpoint& endpoint) const {
  for (size_t i = 0; i < relays_.size(); ++i)
    if (std::find(relays_[i].begin(), relays_[i].end(), endpoint) != relays_[i].end()) return i;
  return std::nullopt;
}

std::optional<size_t> RelayHealth::choose(Endpoint::Family a, Endpoint::Family b,
                                          uint32_t spread, std::optional<size_t> avoid) const {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  std::vector<size_t> serving, alive;
  for (size_t i = 0; i < relays_.size(); ++i) {
    if (!serves(i, a) || !serves(i, b)) continue;
    serving.push_back(i);
    if (alive_locked(i, now)) alive.push_back(i);
  }
  if (avoid && serving.size() > 1) {
    // A node saw it stop forwarding, perhaps before our probes did (they need dead_after).
    std::erase(serving, *avoid);
    std::erase(alive, *avoid);
  }
  if (alive.empty()) {
    if (serving.empty()) return std::nullopt;
    return serving[spread % serving.size()];
  }
  double best = probed_[alive.front()].srtt_us;
  for (size_t i : alive) best = std::min(best, probed_[i].srtt_us);
  std::erase_if(alive, [&](size_t i) { return probed_[i].srtt_us > best * 1.2 + 500; });
  return alive[spread % alive.size()];
}

RelayHealth::Status RelayHealth::status(size_t relay) const {
  std::lock_guard lock(mu_);
  Status s;
  s.alive = alive_locked(relay, Clock::now());
  s.rtt = std::chrono::microseconds(static_cast<int64_t>(probed_.at(relay).srtt_us));
  return s;
}

void RelayHealth::send_probes(Clock::time_point now) {
  // Probes unanswered for longer than the dead time are forgotten (the RS is dead by then).
  std::erase_if(outstanding_, [&](const Outstanding& o) { return now - o.sent > config_.dead_after; });
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < relays_.size(); ++i) {
      Probed& p = probed_[i];
      if (p.answered && !p.reported_dead && !alive_locked(i, now)) {
        p.reported_dead = true;
        NTM_LOG_WARN("DC: relay %s stopped answering probes: not assigned until it answers",
                     relays_[i].front().to_string().c_str());
      }
    }
  }
  for (size_t i = 0; i < relays_.size(); ++i) {
    for (const auto& e : relays_[i]) {
      control::NetProbe probe;
      probe.nonce = crypto::random_u64();
      const auto bytes = control::encode(probe);
      sockaddr_storage ss{};
      const unsigned len = e.to_sockaddr(ss);
      const int fd = e.is_v4() ? v4_.get() : v6_.get();
      if (::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) >= 0)
        outstanding_.push_back({probe.nonce, i, now});
    }
  }
}

void RelayHealth::receive(int fd, Clock::time_point now) {
  uint8_t buf[64];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    auto reply = control::decode_net_probe_reply(std::span<const uint8_t>(buf, static_cast<size_t>(n)));
    if (!reply) continue;
    auto it = std::find_if(outstanding_.begin(), outstanding_.end(),
                           [&](const Outstanding& o) { return o.nonce == reply.value().nonce; });
    if (it == outstanding_.end()) continue;  // late, or not ours
    const double rtt = std::chrono::duration<double, std::micro>(now - it->sent).count();
    const size_t relay = it->relay;
    outstanding_.erase(it);
    std::lock_guard lock(mu_);
    Probed& p = probed_[relay];
    if (!p.answered || now - p.last_answer > config_.dead_after) {
      if (p.answered)
        NTM_LOG_WARN("DC: relay %s answers again", relays_[relay].front().to_string().c_str());
      p.srtt_us = rtt;
    } else {
      p.srtt_us = p.srtt_us * 7 / 8 + rtt / 8;
    }
    p.answered = true;
    p.reported_dead = false;
    p.last_answer = now;
  }
}

void RelayHealth::run() {
  auto next = Clock::now();
  while (running_) {
    const auto now = Clock::now();
    if (now >= next) {
      send_probes(now);
      next = now + config_.interval;
    }
    pollfd fds[3] = {{v4_.get(), POLLIN, 0}, {v6_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    ::poll(fds, 3, static_cast<int>(std::max<int64_t>(1, wait.count() + 1)));
    const auto at = Clock::now();
    if (fds[0].revents & POLLIN) receive(v4_.get(), at);
    if (fds[1].revents & POLLIN) receive(v6_.get(), at);
  }
}

}  // namespace ntm::servers
