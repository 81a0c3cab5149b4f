// ntm-rs-bench: how much one RS core relays, and what a relay binding costs.
//
// Starts a RelayServer in this process and forks a client that (1) binds `--relays` relays,
// both ends each (two UDP sockets, A and B, as two nodes), the way nodes do (RelayBind with a
// cookie, RelayBindAck); (2) measures the round-trip time A -> B directly and A -> RS -> B,
// ping-pong, median of `--pings`; (3) blasts Relayed datagrams of each `--sizes` from A through
// the RS to B for `--seconds` (sendmmsg / recvmmsg batches of 64, across 64 of the relays), once
// through an RS that forwards with sendmmsg alone and once through a second RS in the same
// process that forwards with UDP GSO (the default), so the two figures come from the same run.
// Then `--flows` pairs of sockets, one relay each, blast in turn through that one-thread GSO RS
// and through a third RS with `--threads` forwarding threads (SO_REUSEPORT spreads the flows
// over them): one thread against several on the same traffic.
// Printed: binds, the RS process's resident memory per relay (both ends bound); the relay's
// added RTT; and per size the packets and bits the RS forwarded per second of wall time and per
// second of its own CPU time ("per core": its thread's work, whatever else runs on the
// machine).
//
//   ntm-rs-bench [--relays 50000] [--pings 2000] [--seconds 3] [--sizes 128,1280] [--flows 8]
//                [--threads 2]
// Exit status 1 when a bind or the relayed path failed (the CTest smoke relies on it).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "capacity_harness.h"
#include "control/relay_messages.h"
#include "crypto/random.h"
#include "rs/relay_server.h"
#include "util/log.h"

using namespace ntm;
using namespace ntm::servers;
using namespace ntm_bench;
using Clock = std::chrono::steady_clock;

namespace {

class Socket {
 public:
  Socket() { fd_ = loopback_udp_socket(16 << 20, 0, &local_); }
  ~Socket() { ::close(fd_); }
  int fd() const { return fd_; }
  const Endpoint& local() const { return local_; }
  void send_to(const Endpoint& to, std::span<const uint8_t> d) const {
    sockaddr_storage ss{};
    const unsigned len = to.to_sockaddr(ss);
    ::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  // One datagram within `ms`, or an empty vector.
  std::vector<uint8_t> receive(int ms) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return {};
    std::vector<uint8_t> b(2048);
    const ssize_t n = ::recv(fd_, b.data(), b.size(), 0);
    b.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return b;
  }

 private:
  int fd_ = -1;
  Endpoint local_;
};

double median_us(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The client (child process). Talks to the parent in lines; each "start"/"end" waits for the
// parent's sample.
int client(const Endpoint& rs, const Endpoint& rs_gso, const Endpoint& rs_threads,
           const control::Key32& key, size_t relays, size_t pings, double seconds,
           const std::vector<size_t>& sizes, size_t flows, const PhaseLink& parent) {
  Socket a, b;
  const uint64_t expires = static_cast<uint64_t>(std::time(nullptr)) + 3600;
  const uint64_t node_a = 1, node_b = 2;
  // Binds with the cookie from the previous answer (the first bind of each end fetches one).
  control::RelayCookie cookie_a{}, cookie_b{};
  uint64_t seq_a = 0, seq_b = 0;
  size_t bound = 0;
  auto bind_end = [&](const Endpoint& server, Socket& s, uint64_t node, uint32_t relay,
                      control::RelayCookie& cookie, uint64_t& seq) {
    const auto token = control::compute_relay_token(key, relay, node, expires);
    for (int attempt = 0; attempt < 4; ++attempt) {
      s.send_to(server, control::encode(control::make_relay_bind(relay, node, expires, token, ++seq, cookie)));
      const auto d = s.receive(1000);
      if (d.empty()) continue;
      if (auto ack = control::decode_relay_bind_ack(d); ack.ok() && ack->relay_id == relay) {
        cookie = ack->cookie;
        return true;
      }
      if (auto ch = control::decode_relay_challenge(d); ch.ok()) cookie = ch->cookie;
    }
    return false;
  };
  parent.say("start binds\n");
  const auto t0 = Clock::now();
  for (uint32_t r = 1; r <= relays; ++r)
    if (bind_end(rs, a, node_a, r, cookie_a, seq_a) && bind_end(rs, b, node_b, r, cookie_b, seq_b))
      ++bound;
  const double bind_s = std::chrono::duration<double>(Clock::now() - t0).count();
  parent.say("end binds " + std::to_string(bound) + " " + std::to_string(bind_s) + "\n");
  if (bound != relays) return 1;
  // The blast's relays on the GSO RS too (their own cookies: one per RS and source address).
  control::RelayCookie gso_cookie_a{}, gso_cookie_b{};
  for (uint32_t r = 1; r <= std::min<size_t>(relays, 64); ++r)
    if (!bind_end(rs_gso, a, node_a, r, gso_cookie_a, seq_a) ||
        !bind_end(rs_gso, b, node_b, r, gso_cookie_b, seq_b))
      return 1;

  // The multi-flow blasts: `flows` pairs of sockets, pair i on relay kFlowRelay + i, bound on
  // the one-thread GSO RS and on the multi-threaded one.
  constexpr uint32_t kFlowRelay = 1000000;
  std::vector<std::unique_ptr<Socket>> flow_a, flow_b;
  for (size_t i = 0; i < flows; ++i) {
    flow_a.push_back(std::make_unique<Socket>());
    flow_b.push_back(std::make_unique<Socket>());
    const uint32_t relay = kFlowRelay + static_cast<uint32_t>(i);
    const uint64_t na = 10 + 2 * i, nb = 11 + 2 * i;
    for (const Endpoint& server : {rs_gso, rs_threads}) {
      control::RelayCookie ca{}, cb{};
      uint64_t sa = 0, sb = 0;
      if (!bind_end(server, *flow_a[i], na, relay, ca, sa) ||
          !bind_end(server, *flow_b[i], nb, relay, cb, sb))
        return 1;
    }
  }

  // Round trips: direct A <-> B, then through the RS.
  std::vector<uint8_t> payload(64, 0x42);
  auto rtts = [&](bool relayed) {
    std::vector<double> us;
    const auto to_b = relayed ? control::encode_relayed(1, payload) : payload;
    const auto to_a = relayed ? control::encode_relayed(1, payload) : payload;
    for (size_t i = 0; i < pings; ++i) {
      const auto t = Clock::now();
      a.send_to(relayed ? rs : b.local(), to_b);
      if (b.receive(1000).empty()) continue;
      b.send_to(relayed ? rs : a.local(), to_a);
      if (a.receive(1000).empty()) continue;
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    return us;
  };
  const auto direct = rtts(false), relayed = rtts(true);
  char line[200];
  std::snprintf(line, sizeof(line), "rtt %.1f %.1f %zu\n", median_us(direct), median_us(relayed),
                relayed.size());
  parent.say(line);
  if (relayed.size() < pings / 2) return 1;

  // Throughput: the senders send batches through the RS as fast as they can for `seconds`
  // (one batch each in turn), the receivers count. One flow spreads its datagrams over 64 relays
  // (A -> B); several flows send on one relay each.
  struct Target {
    std::string label;
    Endpoint server;
    std::vector<const Socket*> senders, receivers;
  };
  std::vector<Target> targets{{"sendmmsg", rs, {&a}, {&b}}, {"gso", rs_gso, {&a}, {&b}}};
  if (flows > 1) {
    Target one{std::to_string(flows) + "flows-1t", rs_gso, {}, {}};
    for (size_t i = 0; i < flows; ++i) {
      one.senders.push_back(flow_a[i].get());
      one.receivers.push_back(flow_b[i].get());
    }
    Target many = one;
    many.label = std::to_string(flows) + "flows-mt";
    many.server = rs_threads;
    targets.push_back(std::move(one));
    targets.push_back(std::move(many));
  }
  constexpr size_t kBatch = 64;
  std::vector<std::vector<uint8_t>> rbufs(kBatch, std::vector<uint8_t>(2048));
  std::vector<mmsghdr> rmsgs(kBatch);
  std::vector<iovec> riovs(kBatch);
  for (size_t i = 0; i < kBatch; ++i) {
    riovs[i] = {rbufs[i].data(), rbufs[i].size()};
    rmsgs[i].msg_hdr = {};
    rmsgs[i].msg_hdr.msg_iov = &riovs[i];
    rmsgs[i].msg_hdr.msg_iovlen = 1;
  }
  auto drain = [&](const std::vector<const Socket*>& receivers) {
    uint64_t n = 0;
    for (const Socket* r : receivers) {
      for (;;) {
        const int m = ::recvmmsg(r->fd(), rmsgs.data(), kBatch, MSG_DONTWAIT, nullptr);
        if (m <= 0) break;
        n += static_cast<uint64_t>(m);
      }
    }
    return n;
  };
  for (size_t size : sizes)
  for (const Target& target : targets) {
    const size_t senders = target.senders.size();
    std::vector<control::Bytes> datagrams;
    for (size_t f = 0; f < senders; ++f)
      for (uint32_t r = 0; r < kBatch; ++r)
        datagrams.push_back(control::encode_relayed(
            senders == 1 ? 1 + r % static_cast<uint32_t>(std::min<size_t>(relays, 64))
                         : kFlowRelay + static_cast<uint32_t>(f),
            std::vector<uint8_t>(size - control::kRelayHeaderSize, 0x17)));
    sockaddr_storage to{};
    const unsigned to_len = target.server.to_sockaddr(to);
    std::vector<mmsghdr> msgs(senders * kBatch);
    std::vector<iovec> iovs(senders * kBatch);
    for (size_t i = 0; i < msgs.size(); ++i) {
      iovs[i] = {datagrams[i].data(), datagrams[i].size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = &to;
      msgs[i].msg_hdr.msg_namelen = to_len;
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint64_t sent = 0, received = 0;
    parent.say("start blast " + std::to_string(size) + " " + target.label + "\n");
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      bool any = false;
      for (size_t f = 0; f < senders; ++f) {
        const int n = ::sendmmsg(target.senders[f]->fd(), msgs.data() + f * kBatch, kBatch,
                                 MSG_DONTWAIT);
        if (n > 0) {
          sent += static_cast<uint64_t>(n);
          any = true;
        }
      }
      received += drain(target.receivers);
      if (!any) {
        pollfd p{target.senders[0]->fd(), POLLOUT, 0};
        ::poll(&p, 1, 1);
      }
    }
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    // What is still in flight arrives within a moment: drain until 50 ms pass with nothing.
    std::vector<pollfd> readable;
    for (const Socket* r : target.receivers) readable.push_back({r->fd(), POLLIN, 0});
    while (::poll(readable.data(), readable.size(), 50) > 0) received += drain(target.receivers);
    std::snprintf(line, sizeof(line), "end blast %zu %llu %llu %.6f %s\n", size,
                  static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received),
                  wall, target.label.c_str());
    parent.say(line);
    if (received == 0) return 1;
  }
  return 0;
}

std::vector<size_t> split(const std::string& s) {
  std::vector<size_t> out;
  for (const auto& part : split_list(s)) out.push_back(std::stoul(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  size_t relays = 50000, pings = 2000, flows = 8;
  unsigned threads = 2;
  double seconds = 3;
  std::vector<size_t> sizes{128, 1280};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--relays") relays = std::stoul(v);
    else if (k == "--pings") pings = std::stoul(v);
    else if (k == "--seconds") seconds = std::stod(v);
    else if (k == "--sizes") sizes = split(v);
    else if (k == "--flows") flows = std::stoul(v);
    else if (k == "--threads") threads = static_cast<unsigned>(std::stoul(v));
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  log::set_level(log::Level::error);
  control::Key32 key;
  crypto::random_bytes(key);

  PhaseChild child(3, [&](const PhaseLink& parent, const std::vector<uint16_t>& ports) {
    return client(Endpoint::v4({127, 0, 0, 1}, ports[0]), Endpoint::v4({127, 0, 0, 1}, ports[1]),
                  Endpoint::v4({127, 0, 0, 1}, ports[2]), key, relays, pings, seconds, sizes,
                  flows, parent);
  });

  RelayServerConfig c;
  c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
  c.relay_key = key;
  c.max_relays = std::max<size_t>(relays, 100000);
  RelayServerConfig c_gso = c;
  c.use_gso = false;
  c_gso.use_gso = true;
  RelayServerConfig c_threads = c_gso;
  c_threads.threads = threads;
  RelayServer rs_gso(std::move(c_gso));
  rs_gso.start();
  RelayServer rs_threads(std::move(c_threads));
  rs_threads.start();
  const double rss0 = rss_mib();
  RelayServer rs(std::move(c));
  rs.start();
  child.start({rs.local_endpoints().at(0).port, rs_gso.local_endpoints().at(0).port,
               rs_threads.local_endpoints().at(0).port});

  double cpu0 = 0;
  uint64_t fwd0 = 0;
  bool ok = true;
  std::printf("RS capacity (loopback; one RS thread unless the row says mt: %u threads)\n",
              threads);
  for (std::string text; child.next(text); child.ack()) {
    const char* line = text.c_str();
    const double cpu = process_cpu_s();
    // Which RS the blast in progress goes through, by its label: "sendmmsg", "gso" and
    // "<K>flows-1t" (GSO, one thread), "<K>flows-mt" (GSO, --threads threads).
    const RelayServer& via = std::strstr(line, "mt") != nullptr     ? rs_threads
                             : std::strstr(line, "sendmmsg") != nullptr ? rs
                                                                       : rs_gso;
    const uint64_t fwd = via.stats().forwarded;
    if (std::strncmp(line, "start", 5) == 0) {
      cpu0 = cpu;
      fwd0 = fwd;
    } else if (std::strncmp(line, "end binds", 9) == 0) {
      size_t bound = 0;
      double s = 0;
      std::sscanf(line, "end binds %zu %lf", &bound, &s);
      std::printf("binds      %zu relays (2 ends each) in %.1f s: %.0f binds/s wall, %.1f us RS CPU "
                  "per bind; %.2f KiB RS memory per relay\n",
                  bound, s, 2.0 * static_cast<double>(bound) / s,
                  (cpu - cpu0) * 1e6 / (2.0 * static_cast<double>(std::max<size_t>(bound, 1))),
                  (rss_mib() - rss0) * 1024.0 / static_cast<double>(std::max<size_t>(bound, 1)));
      if (bound != relays) ok = false;
    } else if (std::strncmp(line, "rtt", 3) == 0) {
      double direct = 0, relayed = 0;
      size_t n = 0;
      std::sscanf(line, "rtt %lf %lf %zu", &direct, &relayed, &n);
      std::printf("rtt        64-byte ping-pong, median: direct %.1f us, through the RS %.1f us "
                  "(+%.1f us for two relay hops)\n",
                  direct, relayed, relayed - direct);
    } else if (std::strncmp(line, "end blast", 9) == 0) {
      size_t size = 0;
      unsigned long long sent = 0, received = 0;
      double wall = 0;
      char how[16] = "";
      std::sscanf(line, "end blast %zu %llu %llu %lf %15s", &size, &sent, &received, &wall, how);
      const double forwarded = static_cast<double>(fwd - fwd0);
      const double rs_cpu = cpu - cpu0;
      std::printf("relay %4zu B, %-8s: sent %llu, RS forwarded %.0f, received %llu in %.2f s: %.0f "
                  "pps (%.2f Gb/s) wall; per RS core %.0f pps (%.2f Gb/s), %.2f us per packet\n",
                  size, how, sent, forwarded, received, wall, forwarded / wall,
                  forwarded * static_cast<double>(size) * 8 / wall / 1e9,
                  rs_cpu > 0 ? forwarded / rs_cpu : 0,
                  rs_cpu > 0 ? forwarded * static_cast<double>(size) * 8 / rs_cpu / 1e9 : 0,
                  forwarded > 0 ? rs_cpu * 1e6 / forwarded : 0);
    }
  }
  if (!child.finish()) ok = false;
  rs.stop();
  rs_gso.stop();
  rs_threads.stop();
  std::printf("loadavg at end: %s%s\n", loadavg_1min().c_str(), ok ? "" : "; FAILED");
  return ok ? 0 : 1;
}
