// ntm-test-node's UDP scenarios: udp (stop-and-wait datagrams, also through the datagram bridge)
// and self-udp (test_node.cc lists them all).
#include "test_node.h"

#include "node_state.h"

#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace ntm_test {

// ---- udp: stop-and-wait request/reply datagrams, tolerant of rare loss, bounded in time. ----

int udp(Config &cfg) {
  start_node(cfg);
  int fd = bound_socket(cfg.family, SOCK_DGRAM, cfg.role == "server" ? cfg.port : 0);
  if (cfg.bridge == "datagram") {
    g_datagram_bridge = ntm_bridge_datagram(fd);
    if (g_datagram_bridge < 0) die_errno("ntm_bridge_datagram", errno);
  }
  unsigned char buf[2048];
  unsigned char out[2048];
  sockaddr_storage from;
  socklen_t from_len = 0;
  std::vector<bool> seen(static_cast<size_t>(cfg.count), false);
  int unique = 0;
  int bad = 0;

  if (cfg.role == "server") {
    print_ready();
    std::string first_source = "-";
    auto last = Clock::now();
    bool got_any = false;
    bool fin = false;
    // Ends on FIN, or 10 s after the last datagram (30 s before the first).
    while (!fin && ms_since(last) < (got_any ? 10000 : 30000)) {
      ssize_t n = recv_datagram(fd, buf, sizeof buf, milliseconds(100), &from, &from_len);
      if (n < 0) continue;
      last = Clock::now();
      if (!got_any) first_source = address_text(from);
      got_any = true;
      uint32_t magic = 0;
      uint32_t seq = 0;
      if (n == 8) std::memcpy(&magic, buf, 4);
      size_t reply_len;
      if (magic == kUdpMagicFin) {
        fin = true;
        reply_len = udp_build(0, kUdpMagicFin, 0, out);
      } else if (udp_valid(kUdpRequestSeed, buf, static_cast<size_t>(n), &seq) &&
                 seq < seen.size()) {
        if (!seen[seq]) ++unique;
        seen[seq] = true;
        reply_len = udp_build(kUdpReplySeed, kUdpMagicData, seq, out);
      } else {
        ++bad;
        continue;
      }
      if (ntm_sendto(fd, out, reply_len, 0, reinterpret_cast<sockaddr *>(&from), from_len) < 0) {
        die_errno("ntm_sendto", errno);
      }
    }
    emit("RESULT received_unique=%d bad=%d fin=%d source=%s", unique, bad, fin ? 1 : 0,
         first_source.c_str());
  } else {
    sockaddr_storage to;
    socklen_t to_len = resolve(cfg, &to);
    int resends = 0;
    auto send_to_server = [&](size_t n) {
      if (ntm_sendto(fd, out, n, 0, reinterpret_cast<sockaddr *>(&to), to_len) < 0) {
        die_errno("ntm_sendto", errno);
      }
    };
    for (int s = 0; s < cfg.count; ++s) {
      auto seq = static_cast<uint32_t>(s);
      size_t n = udp_build(kUdpRequestSeed, kUdpMagicData, seq, out);
      // The first datagram also waits for the tunnel handshake.
      auto give_up = Clock::now() + milliseconds(s == 0 ? 3000 : 1000);
      send_to_server(n);
      while (!seen[seq] && Clock::now() < give_up) {
        ssize_t r = recv_datagram(fd, buf, sizeof buf, milliseconds(100), &from, &from_len);
        if (r < 0) {
          send_to_server(n);
          ++resends;
          continue;
        }
        uint32_t got = 0;
        if (udp_valid(kUdpReplySeed, buf, static_cast<size_t>(r), &got) && got < seen.size()) {
          if (!seen[got]) ++unique;
          seen[got] = true;
        } else {
          ++bad;
        }
      }
    }
    bool fin_acked = false;
    size_t n = udp_build(0, kUdpMagicFin, 0, out);
    for (int i = 0; i < 10 && !fin_acked; ++i) {
      send_to_server(n);
      auto give_up = Clock::now() + milliseconds(100);
      while (!fin_acked && Clock::now() < give_up) {
        ssize_t r = recv_datagram(fd, buf, sizeof buf, milliseconds(100), &from, &from_len);
        uint32_t magic = 0;
        if (r == 8) std::memcpy(&magic, buf, 4);
        fin_acked = magic == kUdpMagicFin;
      }
    }
    emit("RESULT sent=%d replies_unique=%d bad=%d resends=%d fin_acked=%d", cfg.count, unique, bad,
         resends, fin_acked ? 1 : 0);
  }
  ntm_close(fd);
  if (g_datagram_bridge >= 0) {
    // ntm_close() returned once the bridge ended: its descriptor is at end-of-file now.
    pollfd p{g_datagram_bridge, POLLIN, 0};
    int ready = ::poll(&p, 1, 0);
    errno = 0;
    ssize_t n = ntm_bridge_recvfrom(g_datagram_bridge, buf, sizeof buf, MSG_DONTWAIT, nullptr,
                                    nullptr);
    emit("BRIDGE_END readable=%d result=%zd errno=%d", ready, n, errno);
    ::close(g_datagram_bridge);
  }
  stop_node();
  return 0;
}

// ---- self-udp: a datagram to the node's own virtual address comes back at once (in control-
// plane mode too, where an address no tunnel knows is otherwise looked up at the DC). ----

int self_udp(Config &cfg) {
  start_node(cfg);
  print_ready();
  ntm_node_info info = node_info();
  for (int family : {AF_INET, AF_INET6}) {
    const char *own = family == AF_INET ? info.virtual_ipv4 : info.virtual_ipv6;
    if (own[0] == '\0') continue;
    int fd = bound_socket(family, SOCK_DGRAM, cfg.port);
    sockaddr_storage to{};
    socklen_t len = any_address(family, cfg.port, &to);
    void *raw = family == AF_INET
                    ? static_cast<void *>(&reinterpret_cast<sockaddr_in &>(to).sin_addr)
                    : static_cast<void *>(&reinterpret_cast<sockaddr_in6 &>(to).sin6_addr);
    inet_pton(family, own, raw);
    const char message[] = "to myself";
    auto start = Clock::now();
    if (ntm_sendto(fd, message, sizeof message, 0, reinterpret_cast<sockaddr *>(&to), len) < 0) {
      die_errno("ntm_sendto", errno);
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ntm_poll(&p, 1, 10000);
    char buf[64];
    ssize_t n = ready == 1 ? ntm_recv(fd, buf, sizeof buf, 0) : -1;
    emit("RESULT family=%d delivered=%d elapsed_ms=%lld", family == AF_INET ? 4 : 6,
         n == static_cast<ssize_t>(sizeof message) && std::memcmp(buf, message, sizeof message) == 0,
         ms_since(start));
    ntm_close(fd);
  }
  stop_node();
  return 0;
}

}  // namespace ntm_test
