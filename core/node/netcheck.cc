#include "node/netcheck.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>

#include "control/net_probe.h"

namespace ntm::node {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRetransmit = std::chrono::milliseconds(300);

// Sizes of whole IP packets tried for the path MTU: the usual tunnel and link sizes.
constexpr int kMtuSizes[] = {576,  1280, 1300, 1350, 1380, 1400, 1420, 1440, 1460,
                             1472, 1480, 1492, 1500, 2000, 4000, 9000};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

int domain_of(Endpoint::Family f) { return f == Endpoint::Family::v4 ? AF_INET : AF_INET6; }
int ip_overhead(Endpoint::Family f) { return f == Endpoint::Family::v4 ? 28 : 48; }

std::optional<Endpoint> local_endpoint(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
}

// The source address the kernel picks towards `to`, and that route's MTU (a connected UDP
// socket sends nothing).
std::optional<std::pair<Endpoint, int>> route_to(const Endpoint& to, std::string& error) {
  Fd fd(::socket(domain_of(to.family), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    error = std::string("no socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  sockaddr_storage ss{};
  const socklen_t len = to.to_sockaddr(ss);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    error = std::string("no route to ") + to.to_string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  auto local = local_endpoint(fd.get());
  if (!local) {
    error = "getsockname failed";
    return std::nullopt;
  }
  int mtu = 0;
  socklen_t mlen = sizeof(mtu);
  if (to.is_v4()) ::getsockopt(fd.get(), IPPROTO_IP, IP_MTU, &mtu, &mlen);
  else ::getsockopt(fd.get(), IPPROTO_IPV6, IPV6_MTU, &mtu, &mlen);
  return std::make_pair(*local, mtu);
}

void send_to(int fd, const Endpoint& to, std::span<const uint8_t> bytes) {
  sockaddr_storage ss{};
  const socklen_t len = to.to_sockaddr(ss);
  (void)::sendto(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&ss), len);
}

struct Outstanding {
  Outstanding() = default;
  Outstanding(const Endpoint& server, control::Bytes bytes) : to(server), probe(std::move(bytes)) {}
  Endpoint to;
  control::Bytes probe;
  Clock::time_point first_sent{};
  std::optional<control::NetProbeReply> reply;
  Clock::time_point answered{};
};

// Sends every probe, repeats the unanswered ones every kRetransmit, and collects replies until
// all are answered or `timeout` has passed. Replies are matched by nonce and sender.
void exchange(int fd, std::map<uint64_t, Outstanding>& probes, std::chrono::milliseconds timeout) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  auto next_send = start;
  std::array<uint8_t, 256> buf{};
  for (;;) {
    auto now = Clock::now();
    size_t open = 0;
    for (auto& [nonce, p] : probes) open += p.reply ? 0 : 1;
    if (open == 0 || now >= deadline) return;
    if (now >= next_send) {
      for (auto& [nonce, p] : probes) {
        if (p.reply) continue;
        if (p.first_sent == Clock::time_point{}) p.first_sent = now;
        send_to(fd, p.to, p.probe);
      }
      next_send = now + kRetransmit;
    }
    const auto wait = std::min(next_send, deadline) - now;
    pollfd pfd{fd, POLLIN, 0};
    const int ms = static_cast<int>(
        std::chrono::ceil<std::chrono::milliseconds>(std::max(wait, Clock::duration::zero())).count());
    if (::poll(&pfd, 1, ms) <= 0) continue;
    for (;;) {
      sockaddr_storage ss{};
      socklen_t len = sizeof(ss);
      const ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&ss), &len);
      if (n < 0) break;
      auto reply = control::decode_net_probe_reply(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
      auto from = Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
      if (!reply || !from) continue;
      auto it = probes.find(reply->nonce);
      if (it == probes.end() || it->second.reply || !(it->second.to == *from)) continue;
      // A probe cut short on the way (received_size) does not count.
      if (reply->received_size != it->second.probe.size()) continue;
      it->second.reply = *reply;
      it->second.answered = Clock::now();
    }
  }
}

bool tcp_reachable(const Endpoint& to, std::chrono::milliseconds timeout, int64_t& rtt_us) {
  Fd fd(::socket(domain_of(to.family), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return false;
  sockaddr_storage ss{};
  const socklen_t len = to.to_sockaddr(ss);
  const auto start = Clock::now();
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    return false;
  pollfd pfd{fd.get(), POLLOUT, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return false;
  int err = 0;
  socklen_t elen = sizeof(err);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0) return false;
  rtt_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
  return true;
}

FamilyReport check_family(Endpoint::Family family, const NetcheckTargets& targets,
                          std::chrono::milliseconds timeout, std::mt19937_64& rng) {
  FamilyReport report;
  auto of_family = [&](const std::vector<Endpoint>& v) {
    std::vector<Endpoint> out;
    for (const auto& e : v)
      if (e.family == family && std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    return out;
  };
  const auto as = of_family(targets.as);
  const auto dcs = of_family(targets.dcs);
  const auto relays = of_family(targets.relays);
  if (as.empty() && dcs.empty() && relays.empty()) {
    report.unavailable_reason = "no server has an address of this family";
    return report;
  }
  const Endpoint& first = !dcs.empty() ? dcs.front() : !relays.empty() ? relays.front() : as.front();
  auto route = route_to(first, report.unavailable_reason);
  if (!route) return report;
  report.available = true;

  for (const auto& e : as) {
    ServerProbe p;
    p.role = "as";
    p.server = e;
    p.reachable = tcp_reachable(e, timeout, p.rtt_us);
    report.servers.push_back(p);
  }
  if (dcs.empty() && relays.empty()) return report;

  Fd fd(::socket(domain_of(family), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    report.available = false;
    report.unavailable_reason = std::string("no UDP socket: ") + std::strerror(errno);
    return report;
  }
  // DF on, the kernel's cached path MTU ignored: what gets through decides, as for the tunnel.
  const int probe_mode = family == Endpoint::Family::v4 ? IP_PMTUDISC_PROBE : IPV6_PMTUDISC_PROBE;
  if (family == Endpoint::Family::v4)
    ::setsockopt(fd.get(), IPPROTO_IP, IP_MTU_DISCOVER, &probe_mode, sizeof(probe_mode));
  else
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe_mode, sizeof(probe_mode));

  // 1. Reachability and the endpoint each server sees, all from this one socket.
  std::map<uint64_t, Outstanding> probes;
  std::vector<std::pair<std::string, Endpoint>> udp_servers;
  for (const auto& e : dcs) udp_servers.emplace_back("dc", e);
  for (const auto& e : relays) udp_servers.emplace_back("rs", e);
  std::vector<uint64_t> order;
  for (const auto& [role, e] : udp_servers) {
    const uint64_t nonce = rng();
    probes[nonce] = Outstanding(e, control::encode(control::NetProbe{nonce, control::kNetProbeMinSize}));
    order.push_back(nonce);
  }
  exchange(fd.get(), probes, timeout);
  if (auto bound = local_endpoint(fd.get())) report.local = Endpoint{route->first.family, route->first.address, bound->port};

  std::vector<Endpoint> seen;
  std::optional<Endpoint> mtu_server;
  for (size_t i = 0; i < order.size(); ++i) {
    const Outstanding& o = probes[order[i]];
    ServerProbe p;
    p.role = udp_servers[i].first;
    p.server = o.to;
    if (o.reply) {
      p.reachable = true;
      p.rtt_us = std::chrono::duration_cast<std::chrono::microseconds>(o.answered - o.first_sent).count();
      p.observed = o.reply->observed;
      seen.push_back(p.observed);
      if (!mtu_server) mtu_server = o.to;
    }
    report.servers.push_back(p);
  }
  if (!seen.empty()) report.nat = seen.front() == report.local ? "none" : "yes";
  if (seen.size() >= 2) {
    const bool same = std::all_of(seen.begin(), seen.end(), [&](const Endpoint& e) { return e == seen.front(); });
    report.mapping = same ? "endpoint-independent" : "endpoint-dependent";
  }

  // 2. Path MTU to the first server that answered: every size at once, the largest answered wins.
  if (mtu_server) {
    report.mtu_server = *mtu_server;
    const int link_mtu = route->second > 0 ? route->second : 1500;
    std::map<uint64_t, Outstanding> sized;
    std::vector<int> sizes(std::begin(kMtuSizes), std::end(kMtuSizes));
    if (std::find(sizes.begin(), sizes.end(), link_mtu) == sizes.end() && link_mtu < 9000)
      sizes.push_back(link_mtu);  // the local link's own MTU, when it is not a usual size
    for (int size : sizes) {
      if (size > link_mtu || (family == Endpoint::Family::v6 && size < 1280)) continue;
      const uint64_t nonce = rng();
      const size_t payload = static_cast<size_t>(size - ip_overhead(family));
      sized[nonce] = Outstanding(*mtu_server, control::encode(control::NetProbe{nonce, payload}));
    }
    exchange(fd.get(), sized, timeout);
    for (const auto& [nonce, o] : sized)
      if (o.reply)
        report.path_mtu = std::max(report.path_mtu, static_cast<int>(o.probe.size()) + ip_overhead(family));
  }
  return report;
}

}  // namespace

NetcheckReport run_netcheck(const NetcheckTargets& targets, std::chrono::milliseconds timeout) {
  std::mt19937_64 rng(std::random_device{}());
  NetcheckReport r;
  r.ipv4 = check_family(Endpoint::Family::v4, targets, timeout, rng);
  r.ipv6 = check_family(Endpoint::Family::v6, targets, timeout, rng);
  return r;
}

}  // namespace ntm::node
