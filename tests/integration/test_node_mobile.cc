// ntm-test-node's mobile-transfer scenario (test_node.cc lists them all).
//
// mobile-transfer: a long, paced TCP transfer (checksummed both ways, ONE connection) plus a
// UDP stream both ways, meant to keep running while the real addresses change underneath
// (tests/netns/test_mobility.py, bench/mobility.py). All times are CLOCK_MONOTONIC seconds
// (t=...): the clock of Python's time.monotonic(), shared by every network namespace of a host,
// so a driver can compare them with the moment it configured a new address.
//
//   client -> server  the raw stream kClientToServerSeed, --bytes long, paced at --rate-mbps;
//   server -> client  frames {u32 magic, u32 length, u64 acked} followed by `length` bytes of
//                     kServerToClientSeed (--bytes in all, paced); `acked` = client bytes the
//                     server has read so far, sent at once (a frame without payload) whenever it
//                     grows: the application-level ACK the client times;
//   UDP               numbered datagrams (udp_build) every --udp-interval-ms each way, to port
//                     --port + 1; the server sends to wherever the client's datagrams come from.
//
// Lines: CONNECTED; ACK t= acked= gap_ms= (client: an increase of `acked` that follows >= 2 ms
// without one is always printed, others at most every 10 ms; gap_ms = time since the previous
// increase); PROGRESS t= ... every --progress-ms; EVENT t= type= peer= endpoint= path= msg=...
// (node events); PATHNOW t= peer= state= path= endpoint= (the tunnel table whenever it changes);
// NETLINK t= kt= ev= (this host's address and default-route changes, seen by the test program);
// RESULT (digests, counters); PATH (the table at the end); STATS. No progress for --stall-timeout s
// ends the run with "ERROR what=stalled". The connection is never re-made: a broken one is an
// ERROR, so one RESULT with connections=1 means the application never reconnected.
#include "test_node.h"

#include "node_state.h"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ntm_test {

namespace {

struct MobileOptions {
  double rate_mbps = 20.0;        // per direction; 0 = unpaced
  unsigned progress_ms = 100;     // PROGRESS period
  unsigned udp_interval_ms = 10;  // 0 = no UDP stream
  unsigned stall_s = 20;          // no progress for this long = failure
};
MobileOptions g_mobile;

const char *mobile_event_name(int type) {
  switch (type) {
    case NTM_EVENT_STARTED: return "started";
    case NTM_EVENT_STOPPING: return "stopping";
    case NTM_EVENT_TUNNEL_UP: return "tunnel_up";
    case NTM_EVENT_TUNNEL_DOWN: return "tunnel_down";
    case NTM_EVENT_PATH_CHANGED: return "path_changed";
    case NTM_EVENT_REGISTERED: return "registered";
    default: return "other";
  }
}

void mobile_on_event(const ntm_event *e, void *) {
  emit("EVENT t=%.6f type=%s peer=%s endpoint=%s path=%s msg=%s", mono_now(),
       mobile_event_name(static_cast<int>(e->type)), or_dash(e->peer_name), or_dash(e->endpoint),
       path_name(static_cast<int>(e->path)), e->message != nullptr ? e->message : "");
}

// The tunnel table as lines starting with `word`; returns a key that changes when a row does.
std::string mobile_paths(const char *word, bool print) {
  Tunnels rows;
  if (!rows.ok()) return "?";
  std::string key;
  double t = mono_now();
  for (const ntm_tunnel_info &r : rows) {
    key += std::string(r.peer_name) + "|" + std::to_string(r.state) + "|" +
           std::to_string(r.path) + "|" + r.endpoint + ";";
    if (print) {
      emit("%s t=%.6f peer=%s state=%d path=%s endpoint=%s", word, t, or_dash(r.peer_name),
           static_cast<int>(r.state), path_name(static_cast<int>(r.path)),
           or_dash(r.endpoint));
    }
  }
  return key;
}

// Paces a stream at --rate-mbps without catching up after a stall (at most 20 ms of burst).
class MobilePacer {
 public:
  MobilePacer() : bytes_per_s_(g_mobile.rate_mbps * 1e6 / 8.0), next_(mono_now()) {}
  size_t chunk() const {
    if (bytes_per_s_ <= 0) return 64 * 1024;
    return static_cast<size_t>(std::clamp(bytes_per_s_ * 0.002, 1024.0, 65536.0));
  }
  double next() const { return bytes_per_s_ <= 0 ? 0.0 : next_; }
  bool due() const { return mono_now() >= next(); }
  void wait() const {
    double left = next() - mono_now();
    if (left > 0) std::this_thread::sleep_for(std::chrono::duration<double>(left));
  }
  void sent(size_t n) {
    if (bytes_per_s_ <= 0) return;
    next_ = std::max(next_, mono_now() - 0.020) + static_cast<double>(n) / bytes_per_s_;
  }

 private:
  double bytes_per_s_;
  double next_;
};

constexpr uint32_t kMobileFrameMagic = 0x4E544D41;  // "NTMA"
constexpr size_t kMobileHeader = 16;

struct MobileState {
  std::atomic<uint64_t> sent{0};      // stream bytes written
  std::atomic<uint64_t> received{0};  // stream bytes read
  std::atomic<uint64_t> acked{0};     // client: the server's count of our bytes
  std::atomic<uint64_t> frames{0};
  std::atomic<double> last_progress_t{0};
  std::atomic<bool> finished{false};  // the TCP part is over (progress/stall watch ends)
  // UDP
  std::atomic<bool> udp_stop{false};
  std::atomic<uint64_t> udp_sent{0}, udp_send_errors{0}, udp_received{0}, udp_dup{0}, udp_bad{0};
  std::atomic<double> udp_first_rx_t{0}, udp_last_rx_t{0};
  double udp_max_gap = 0, udp_max_gap_at = 0;  // written by the receiver thread only
  std::mutex peer_mutex;
  sockaddr_storage udp_peer{};
  socklen_t udp_peer_len = 0;
};

void mobile_udp_receiver(int fd, uint64_t seed, MobileState &st, bool learn_peer) {
  std::vector<uint8_t> seen;
  unsigned char buf[2048];
  while (!st.udp_stop.load()) {
    sockaddr_storage from;
    socklen_t from_len = 0;
    ssize_t n = recv_datagram(fd, buf, sizeof buf, milliseconds(50), &from, &from_len);
    if (n < 0) continue;
    uint32_t seq = 0;
    if (!udp_valid(seed, buf, static_cast<size_t>(n), &seq) || seq >= (1u << 24)) {
      ++st.udp_bad;
      continue;
    }
    double t = mono_now();
    if (learn_peer) {
      std::lock_guard lock(st.peer_mutex);
      std::memcpy(&st.udp_peer, &from, from_len);
      st.udp_peer_len = from_len;
    }
    if (seq >= seen.size()) seen.resize(seq + 1024, 0);
    if (seen[seq]) {
      ++st.udp_dup;
      continue;
    }
    seen[seq] = 1;
    double last = st.udp_last_rx_t.load();
    if (last > 0 && t - last > st.udp_max_gap) {
      st.udp_max_gap = t - last;
      st.udp_max_gap_at = last;
    }
    if (st.udp_first_rx_t.load() == 0) st.udp_first_rx_t = t;
    st.udp_last_rx_t = t;
    ++st.udp_received;
  }
}

void mobile_udp_sender(int fd, uint64_t seed, MobileState &st) {
  unsigned char out[2048];
  uint32_t seq = 0;
  auto next = Clock::now();
  while (!st.udp_stop.load()) {
    sockaddr_storage to;
    socklen_t to_len;
    {
      std::lock_guard lock(st.peer_mutex);
      to = st.udp_peer;
      to_len = st.udp_peer_len;
    }
    if (to_len > 0) {
      size_t n = udp_build(seed, kUdpMagicData, seq, out);
      if (ntm_sendto(fd, out, n, 0, reinterpret_cast<sockaddr *>(&to), to_len) < 0) {
        ++st.udp_send_errors;  // tolerated: the path may be down during a move
      } else {
        ++st.udp_sent;
      }
      ++seq;
    }
    next += milliseconds(g_mobile.udp_interval_ms);
    auto now = Clock::now();
    if (next < now) next = now;  // no catching up after a stall
    std::this_thread::sleep_until(next);
  }
}

// PROGRESS lines, PATHNOW lines on changes, and the stall watch.
void mobile_progress(const Config &cfg, MobileState &st) {
  std::string last_paths;
  double last_path_check = 0;
  double last_print = 0;
  while (!st.finished.load()) {
    std::this_thread::sleep_for(milliseconds(std::min(g_mobile.progress_ms, 50u)));
    double t = mono_now();
    if (t - last_print >= g_mobile.progress_ms / 1000.0) {
      last_print = t;
      emit("PROGRESS t=%.6f sent=%llu received=%llu acked=%llu udp_sent=%llu udp_received=%llu",
           t, (unsigned long long)st.sent.load(), (unsigned long long)st.received.load(),
           (unsigned long long)st.acked.load(), (unsigned long long)st.udp_sent.load(),
           (unsigned long long)st.udp_received.load());
    }
    if (t - last_path_check >= 0.05) {
      last_path_check = t;
      std::string key = mobile_paths("PATHNOW", false);
      if (key != last_paths) {
        last_paths = mobile_paths("PATHNOW", true);
      }
    }
    if (!st.finished.load() && t - st.last_progress_t.load() > g_mobile.stall_s) {
      mobile_paths("PATHNOW", true);
      emit("ERROR what=stalled t=%.6f role=%s since=%.6f sent=%llu received=%llu acked=%llu",
           t, cfg.role.c_str(), st.last_progress_t.load(), (unsigned long long)st.sent.load(),
           (unsigned long long)st.received.load(), (unsigned long long)st.acked.load());
      std::_Exit(1);
    }
  }
}

void mobile_read_exact(const Conn &c, unsigned char *p, size_t len, const char *what) {
  int err = 0;
  if (c.read_exact(p, len, &err)) return;
  if (err != 0) die_errno(what, err);
  die(std::string(what) + ": end of stream inside a frame");
}

}  // namespace

void add_mobile_options(CommandLine &cl) {
  cl.option("--rate-mbps", [](const std::string &v) { g_mobile.rate_mbps = std::stod(v); });
  cl.option("--progress-ms", [](const std::string &v) {
    g_mobile.progress_ms = static_cast<unsigned>(std::max(1ul, std::stoul(v)));
  });
  cl.option("--udp-interval-ms", [](const std::string &v) {
    g_mobile.udp_interval_ms = static_cast<unsigned>(std::stoul(v));
  });
  cl.option("--stall-timeout", [](const std::string &v) {
    g_mobile.stall_s = static_cast<unsigned>(std::max(1ul, std::stoul(v)));
  });
}

int mobile_transfer(Config &cfg) {
  watch_netlink();
  cfg.node.options.event_cb = mobile_on_event;
  cfg.node.options.event_user_data = nullptr;
  start_node(cfg);
  MobileState st;
  st.last_progress_t = mono_now();
  const unsigned short udp_port = static_cast<unsigned short>(cfg.port + 1);
  const double started = mono_now();

  if (cfg.role == "server") {
    int listen_fd = listen_socket(cfg.family, cfg.port, 4);
    int udp_fd = g_mobile.udp_interval_ms > 0 ? bound_socket(cfg.family, SOCK_DGRAM, udp_port) : -1;
    print_ready();
    std::thread udp_rx, udp_tx;
    if (udp_fd >= 0) {
      udp_rx = std::thread(mobile_udp_receiver, udp_fd, kUdpRequestSeed, std::ref(st), true);
      udp_tx = std::thread(mobile_udp_sender, udp_fd, kUdpReplySeed, std::ref(st));
    }
    Conn c = accept_conn(cfg, listen_fd);
    emit("CONNECTED t=%.6f", mono_now());
    st.last_progress_t = mono_now();
    std::thread progress(mobile_progress, std::cref(cfg), std::ref(st));

    std::mutex m;
    std::condition_variable cv;
    bool reader_done = false;
    std::string recv_sha;
    std::thread reader([&] {
      Received got = recv_stream(c, [&](size_t n) {
        st.received += n;
        st.last_progress_t = mono_now();
        std::lock_guard lock(m);
        cv.notify_all();
      });
      std::lock_guard lock(m);
      recv_sha = got.sha;
      reader_done = true;
      cv.notify_all();
    });

    MobilePacer pacer;
    const size_t chunk = pacer.chunk();
    std::vector<unsigned char> frame(kMobileHeader + chunk);
    Sha256 sent_sha;
    uint64_t payload_off = 0;
    uint64_t acked_sent = 0;
    for (;;) {
      bool rdone;
      {
        std::unique_lock lock(m);
        auto pred = [&] {
          return st.received.load() != acked_sent || reader_done ||
                 (payload_off < cfg.bytes && pacer.due());
        };
        if (!pred()) {
          double next = payload_off < cfg.bytes ? pacer.next() : mono_now() + 0.05;
          double wait = std::clamp(next - mono_now(), 0.0, 0.05);
          cv.wait_for(lock, std::chrono::duration<double>(wait), pred);
        }
        rdone = reader_done;
      }
      uint64_t rec = st.received.load();
      bool ack_due = rec != acked_sent;
      bool data_due = payload_off < cfg.bytes && pacer.due();
      if (!ack_due && !data_due) {
        if (rdone && payload_off >= cfg.bytes) break;
        if (rdone) pacer.wait();  // nothing more to read: only the payload's pace remains
        continue;
      }
      uint32_t n = data_due ? static_cast<uint32_t>(std::min<uint64_t>(cfg.bytes - payload_off, chunk)) : 0;
      std::memcpy(frame.data(), &kMobileFrameMagic, 4);
      std::memcpy(frame.data() + 4, &n, 4);
      std::memcpy(frame.data() + 8, &rec, 8);
      if (n > 0) {
        fill(kServerToClientSeed, payload_off, {frame.data() + kMobileHeader, n});
        sent_sha.update({frame.data() + kMobileHeader, n});
      }
      c.write_all(frame.data(), kMobileHeader + n, "send");
      if (rdone) st.last_progress_t = mono_now();  // only our own stream is left to send
      ++st.frames;
      acked_sent = rec;
      if (n > 0) {
        payload_off += n;
        st.sent = payload_off;
        pacer.sent(n);
      }
    }
    if (c.shutdown_write() != 0) die_errno("shutdown", errno);
    reader.join();
    c.close();
    st.finished = true;
    progress.join();
    // A second connection would mean the client reconnected.
    pollfd p{listen_fd, POLLIN, 0};
    int extra = ntm_poll(&p, 1, 0) > 0 && (p.revents & POLLIN) ? 1 : 0;
    st.udp_stop = true;
    if (udp_rx.joinable()) udp_rx.join();
    if (udp_tx.joinable()) udp_tx.join();
    emit("RESULT role=server accepted=1 extra_connections=%d recv_bytes=%llu recv_sha256=%s "
         "sent_bytes=%llu sent_sha256=%s frames=%llu duration_s=%.3f udp_sent=%llu "
         "udp_send_errors=%llu udp_received=%llu udp_dup=%llu udp_bad=%llu "
         "udp_first_rx_t=%.6f udp_last_rx_t=%.6f udp_max_gap_ms=%.1f udp_max_gap_at=%.6f",
         extra, (unsigned long long)st.received.load(), recv_sha.c_str(),
         (unsigned long long)payload_off, sent_sha.hex().c_str(),
         (unsigned long long)st.frames.load(), mono_now() - started,
         (unsigned long long)st.udp_sent.load(), (unsigned long long)st.udp_send_errors.load(),
         (unsigned long long)st.udp_received.load(), (unsigned long long)st.udp_dup.load(),
         (unsigned long long)st.udp_bad.load(), st.udp_first_rx_t.load(),
         st.udp_last_rx_t.load(), st.udp_max_gap * 1000.0, st.udp_max_gap_at);
    mobile_paths("PATH", true);
    print_stats("end");
    if (udp_fd >= 0) ntm_close(udp_fd);
    ntm_close(listen_fd);
    stop_node();
    return 0;
  }

  // ---- client ----
  Conn c = connect_conn(cfg);
  emit("CONNECTED t=%.6f", mono_now());
  st.last_progress_t = mono_now();
  int udp_fd = -1;
  std::thread udp_rx, udp_tx;
  if (g_mobile.udp_interval_ms > 0) {
    udp_fd = bound_socket(cfg.family, SOCK_DGRAM, 0);
    sockaddr_storage to;
    socklen_t to_len = resolve(cfg, &to);
    if (to.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in &>(to).sin_port = htons(udp_port);
    } else {
      reinterpret_cast<sockaddr_in6 &>(to).sin6_port = htons(udp_port);
    }
    st.udp_peer = to;
    st.udp_peer_len = to_len;
    udp_rx = std::thread(mobile_udp_receiver, udp_fd, kUdpReplySeed, std::ref(st), false);
    udp_tx = std::thread(mobile_udp_sender, udp_fd, kUdpRequestSeed, std::ref(st));
  }
  std::thread progress(mobile_progress, std::cref(cfg), std::ref(st));
  std::string sent_sha;
  std::thread writer([&] {
    MobilePacer pacer;
    std::vector<unsigned char> buf(pacer.chunk());
    Sha256 sha;
    for (uint64_t off = 0; off < cfg.bytes;) {
      pacer.wait();
      size_t n = static_cast<size_t>(std::min<uint64_t>(cfg.bytes - off, buf.size()));
      fill(kClientToServerSeed, off, {buf.data(), n});
      sha.update({buf.data(), n});
      c.write_all(buf.data(), n, "send");
      off += n;
      st.sent = off;
      pacer.sent(n);
    }
    sent_sha = sha.hex();
    if (c.shutdown_write() != 0) die_errno("shutdown", errno);
  });

  Sha256 recv_sha;
  std::vector<unsigned char> payload(65536);
  double last_increase = mono_now();
  double last_print = 0;
  uint64_t acked = 0;
  for (;;) {
    unsigned char header[kMobileHeader];
    ssize_t n = c.read(header, 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("recv", errno);
    }
    if (n == 0) break;  // the server's end of stream
    mobile_read_exact(c, header + 1, kMobileHeader - 1, "recv");
    uint32_t magic, len;
    uint64_t server_acked;
    std::memcpy(&magic, header, 4);
    std::memcpy(&len, header + 4, 4);
    std::memcpy(&server_acked, header + 8, 8);
    if (magic != kMobileFrameMagic || len > payload.size()) die("recv: bad frame header");
    if (len > 0) {
      mobile_read_exact(c, payload.data(), len, "recv");
      recv_sha.update({payload.data(), len});
      st.received += len;
      st.last_progress_t = mono_now();
    }
    ++st.frames;
    if (server_acked > acked) {
      double t = mono_now();
      double gap = t - last_increase;
      if (gap >= 0.002 || t - last_print >= 0.010) {
        emit("ACK t=%.6f acked=%llu gap_ms=%.3f", t, (unsigned long long)server_acked,
             gap * 1000.0);
        last_print = t;
      }
      last_increase = t;
      acked = server_acked;
      st.acked = acked;
      st.last_progress_t = t;
    }
  }
  writer.join();
  c.close();
  st.finished = true;
  progress.join();
  // Let the last datagrams arrive, then stop the UDP stream.
  std::this_thread::sleep_for(milliseconds(200));
  st.udp_stop = true;
  if (udp_rx.joinable()) udp_rx.join();
  if (udp_tx.joinable()) udp_tx.join();
  emit("RESULT role=client connections=1 sent_bytes=%llu sent_sha256=%s recv_bytes=%llu "
       "recv_sha256=%s acked_bytes=%llu frames=%llu duration_s=%.3f udp_sent=%llu "
       "udp_send_errors=%llu udp_received=%llu udp_dup=%llu udp_bad=%llu udp_first_rx_t=%.6f "
       "udp_last_rx_t=%.6f udp_max_gap_ms=%.1f udp_max_gap_at=%.6f",
       (unsigned long long)st.sent.load(), sent_sha.c_str(),
       (unsigned long long)recv_sha.bytes(), recv_sha.hex().c_str(),
       (unsigned long long)acked, (unsigned long long)st.frames.load(), mono_now() - started,
       (unsigned long long)st.udp_sent.load(), (unsigned long long)st.udp_send_errors.load(),
       (unsigned long long)st.udp_received.load(), (unsigned long long)st.udp_dup.load(),
       (unsigned long long)st.udp_bad.load(), st.udp_first_rx_t.load(), st.udp_last_rx_t.load(),
       st.udp_max_gap * 1000.0, st.udp_max_gap_at);
  mobile_paths("PATH", true);
  print_stats("end");
  if (udp_fd >= 0) ntm_close(udp_fd);
  stop_node();
  return 0;
}

}  // namespace ntm_test
