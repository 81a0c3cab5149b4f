// ntm-test-node: the pieces its scenarios share (test_node.h).
#include "test_node.h"

#include "node_state.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace ntm_test {

namespace {

void print_event(const ntm_event *e, void *) {
  emit("EVENT type=%d msg=%s", static_cast<int>(e->type),
       e->message != nullptr && *e->message != '\0' ? e->message : "-");
}

}  // namespace

int g_os_listener = -1;
int g_datagram_bridge = -1;

void start_node(Config &cfg) {
  if (cfg.print_events && cfg.node.options.event_cb == nullptr) {
    cfg.node.options.event_cb = print_event;
  }
  int rc = ntm_start(&cfg.node.options);
  if (rc != NTM_OK) die_ntm("ntm_start", rc);
}

void stop_node() {
  int rc = ntm_stop();
  if (rc != NTM_OK) die_ntm("ntm_stop", rc);
}

void print_ready() {
  ntm_node_info info = node_info();
  emit("READY endpoint_v4=%s endpoint_v6=%s node_id=%s name=%s vip4=%s vip6=%s",
       info.endpoint_ipv4, info.endpoint_ipv6, info.node_id, info.name, info.virtual_ipv4,
       info.virtual_ipv6);
}

void print_paths() {
  for (const ntm_tunnel_info &t : Tunnels()) {
    emit("PATH peer=%s path=%s endpoint=%s", t.peer_name, path_name(static_cast<int>(t.path)),
         t.endpoint);
  }
}

void print_stats(const char *phase) {
  ntm_stats s = node_stats();
  emit("STATS phase=%s packets_sent=%llu packets_received=%llu bytes_sent=%llu "
       "bytes_received=%llu dropped_malformed=%llu dropped_unknown_path=%llu dropped_auth=%llu "
       "dropped_replay=%llu dropped_no_tunnel=%llu handshakes_completed=%llu "
       "handshakes_failed=%llu handshakes_initiated=%llu dropped_spoofed=%llu "
       "registrations=%llu logins=%llu tcp_connections=%llu",
       phase, (unsigned long long)s.packets_sent, (unsigned long long)s.packets_received,
       (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_received,
       (unsigned long long)s.dropped_malformed, (unsigned long long)s.dropped_unknown_path,
       (unsigned long long)s.dropped_auth, (unsigned long long)s.dropped_replay,
       (unsigned long long)s.dropped_no_tunnel, (unsigned long long)s.handshakes_completed,
       (unsigned long long)s.handshakes_failed, (unsigned long long)s.handshakes_initiated,
       (unsigned long long)s.dropped_spoofed, (unsigned long long)s.registrations,
       (unsigned long long)s.logins, (unsigned long long)s.tcp_connections);
  // A caller built against header 0.2 passes a version 1 struct: filled, nothing past it.
  struct {
    ntm_stats v1;
    unsigned char guard[8];
  } old_caller;
  std::memset(&old_caller, 0xa5, sizeof(old_caller));
  old_caller.v1.version = 1;
  int rc = ntm_get_stats(&old_caller.v1);
  const size_t v1_end = offsetof(ntm_stats, dropped_spoofed);
  const auto *raw = reinterpret_cast<const unsigned char *>(&old_caller);
  bool untouched = true;
  for (size_t i = v1_end; i < sizeof(old_caller); ++i) untouched = untouched && raw[i] == 0xa5;
  emit("STATS_V1 phase=%s rc=%d packets_sent=%llu tail_untouched=%d", phase, rc,
       (unsigned long long)old_caller.v1.packets_sent, untouched ? 1 : 0);
}

// ---- connections ----

socklen_t resolve(const Config &cfg, sockaddr_storage *out) {
  return resolve_target(cfg.connect, cfg.family, out);
}

Conn connect_conn(const Config &cfg) {
  sockaddr_storage addr;
  socklen_t len = resolve(cfg, &addr);
  const auto *sa = reinterpret_cast<const sockaddr *>(&addr);
  if (cfg.bridge == "connect" || cfg.bridge == "listen") {
    int fd = ntm_bridge_connect(sa, len);
    if (fd < 0) die_errno("ntm_bridge_connect", errno);
    return {fd, true};
  }
  int fd = ntm_socket(cfg.family, SOCK_STREAM, 0);
  if (fd < 0) die_errno("ntm_socket", errno);
  if (ntm_connect(fd, sa, len) != 0) die_errno("ntm_connect", errno);
  if (cfg.bridge == "socket") {
    int os_fd = ntm_bridge_socket(fd);
    if (os_fd < 0) die_errno("ntm_bridge_socket", errno);
    return {os_fd, true};
  }
  return {fd, false};
}

Conn accept_conn(const Config &cfg, int listen_fd) {
  sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (cfg.bridge == "listen") {
    if (g_os_listener < 0) {
      g_os_listener = ntm_bridge_listen(listen_fd);
      if (g_os_listener < 0) die_errno("ntm_bridge_listen", errno);
    }
    // The OS descriptor works with the OS's own readiness calls.
    pollfd p{g_os_listener, POLLIN, 0};
    int r = ::poll(&p, 1, 30000);
    if (r != 1 || !(p.revents & POLLIN)) die("poll on the bridged listener: no connection in 30 s");
    int fd = ntm_bridge_accept_listener(g_os_listener, reinterpret_cast<sockaddr *>(&addr), &len);
    if (fd < 0) die_errno("ntm_bridge_accept_listener", errno);
    emit("ACCEPTED from=%s", address_text(addr).c_str());
    return {fd, true};
  }
  if (cfg.bridge == "connect") {
    int fd = ntm_bridge_accept(listen_fd, reinterpret_cast<sockaddr *>(&addr), &len);
    if (fd < 0) die_errno("ntm_bridge_accept", errno);
    return {fd, true};
  }
  int fd = ntm_accept(listen_fd, reinterpret_cast<sockaddr *>(&addr), &len);
  if (fd < 0) die_errno("ntm_accept", errno);
  if (cfg.bridge == "socket") {
    int os_fd = ntm_bridge_socket(fd);
    if (os_fd < 0) die_errno("ntm_bridge_socket", errno);
    return {os_fd, true};
  }
  return {fd, false};
}

// ---- checksummed streams ----

std::string send_stream(const Conn &c, uint64_t seed, uint64_t bytes) {
  std::vector<unsigned char> buf(kChunk);
  Sha256 sha;
  for (uint64_t off = 0; off < bytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(bytes - off, kChunk));
    fill(seed, off, {buf.data(), n});
    sha.update({buf.data(), n});
    c.write_all(buf.data(), n, "send");
    off += n;
  }
  return sha.hex();
}

Received recv_stream(const Conn &c, const std::function<void(size_t)> &on_data) {
  std::vector<unsigned char> buf(kChunk);
  Sha256 sha;
  for (;;) {
    ssize_t n = c.read(buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("recv", errno);
    }
    if (n == 0) break;
    sha.update({buf.data(), static_cast<size_t>(n)});
    if (on_data) on_data(static_cast<size_t>(n));
  }
  return {sha.bytes(), sha.hex()};
}

void transfer_client(const Config &cfg, int index, const char *tag) {
  Conn c = connect_conn(cfg);
  std::string sent = send_stream(c, kClientToServerSeed + index, cfg.bytes);
  if (c.shutdown_write() != 0) die_errno("shutdown", errno);
  Received got = recv_stream(c);
  c.close();
  emit("RESULT %s sent_bytes=%llu sent_sha256=%s recv_bytes=%llu recv_sha256=%s", tag,
       static_cast<unsigned long long>(cfg.bytes), sent.c_str(),
       static_cast<unsigned long long>(got.bytes), got.sha.c_str());
  print_paths();
}

// ---- datagrams ----

namespace {

ssize_t recv_bridged_datagram(unsigned char *buf, size_t len, milliseconds timeout,
                              sockaddr_storage *from, socklen_t *from_len) {
  pollfd p{g_datagram_bridge, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) die_errno("poll", errno);
  if (r == 0) return -1;
  *from_len = sizeof *from;
  ssize_t n = ntm_bridge_recvfrom(g_datagram_bridge, buf, len, MSG_DONTWAIT,
                                  reinterpret_cast<sockaddr *>(from), from_len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    die_errno("ntm_bridge_recvfrom", errno);
  }
  return n;
}

}  // namespace

ssize_t recv_datagram(int fd, unsigned char *buf, size_t len, milliseconds timeout,
                      sockaddr_storage *from, socklen_t *from_len) {
  if (g_datagram_bridge >= 0) return recv_bridged_datagram(buf, len, timeout, from, from_len);
  pollfd p{fd, POLLIN, 0};
  int r = ntm_poll(&p, 1, static_cast<int>(timeout.count()));
  if (r < 0) die_errno("ntm_poll", errno);
  if (r == 0) return -1;
  *from_len = sizeof *from;
  ssize_t n = ntm_recvfrom(fd, buf, len, MSG_DONTWAIT, reinterpret_cast<sockaddr *>(from), from_len);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return -1;
    die_errno("ntm_recvfrom", errno);
  }
  return n;
}

}  // namespace ntm_test
