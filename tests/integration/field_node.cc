// ntm-field-node: one ntmobile node (one per process) living through time and trouble, for the
// field tests (tests/faults, tests/netns, control_plane_tests.cc) and the soak (bench/soak.py).
// It reports facts as machine-readable lines on stdout; every judgement is the driver's. All
// times t=... are CLOCK_MONOTONIC seconds, shared by every network namespace of a host.
//
//   ntm-field-node idle-rounds --role server|client NODE-OPTIONS [--connect NAME:PORT] [-6]
//                  [--port N] [--bytes N] [--rounds N] [--go-stdin] [--idle-wait S]
//   ntm-field-node sessions --role server|client NODE-OPTIONS [--connect NAME:PORT] [-6]
//                  [--port N] [--bytes N] [--sessions K] [--duration S] [--gap-ms LO-HI]
//                  [--long-idle-ms MS] [--long-idle-every N] [--stall-timeout S]
//   common: [--timeout S] [--stats-ms MS] [--seed N]
//
// idle-rounds: one TCP connection carries --rounds rounds; in each, one end sends --bytes of a
//   checksummed stream and the other answers with --bytes of another (odd rounds the client
//   starts, even rounds the server). Before every round after the first, the end that starts it
//   waits until its own tunnel to the peer has gone idle (session keys dropped; bounded by
//   --idle-wait), so every later round crosses an idle period longer than idle_timeout_ms.
//   --go-stdin: both ends wait for idle, print WAITING and read "GO" from stdin first (a driver
//   moves a node meanwhile). Lines: IDLE, WAITING, ROUND r= first= ms= ok=1, RESULT.
// sessions: the client opens --sessions TCP connections once each and, until --duration ends,
//   sends bursts of --bytes on each that the server echoes and the client checks byte by byte;
//   between bursts it waits a random --gap-ms, every --long-idle-every-th gap --long-idle-ms.
//   A connection that breaks is dead (never re-made). Lines: PROGRESS t= v=<verified bytes per
//   session>, RESULT sessions= alive= bytes_verified= worst_stall_ms= worst_stall_at=. stdin
//   commands (client): "RESOLVE NAME" -> RESOLVED t= name= ok= ms=; "PAUSE MS": no burst starts
//   for MS ms (the tunnels go idle) -> PAUSED t= until=; "NETCHANGE": ntm_notify_network_change()
//   -> NETCHANGED t= rc= (the server takes this one too); "STOP" ends early.
// Both: EVENT lines (node events), TUNNEL lines (a tunnel row changed), STATS every --stats-ms.
#include <ntm.h>

#include "command_line.h"
#include "node_args.h"
#include "node_state.h"
#include "report.h"
#include "sockets.h"
#include "test_data.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace ntm_test;

namespace {

using std::chrono::milliseconds;

struct Config : NodeRun {
  int family = AF_INET;
  unsigned short port = 5000;
  uint64_t bytes = 64 * 1024;
  int rounds = 3;
  bool go_stdin = false;
  double idle_wait_s = 60;
  int sessions = 4;
  double duration_s = 10;
  unsigned gap_lo_ms = 20, gap_hi_ms = 100;
  unsigned long_idle_ms = 0, long_idle_every = 0;
  double stall_s = 30;
  unsigned stats_ms = 500;
  uint64_t seed = 1;
};

// Fatal problems end the process at once (library threads may still run). The ERROR lines of this
// program carry the time too.
[[noreturn]] void fail(const std::string &what, int err = 0) {
  if (err != 0) {
    emit("ERROR t=%.6f what=%s errno=%s msg=%s", mono_now(), what.c_str(), errno_name(err),
         strerror(err));
  } else {
    emit("ERROR t=%.6f what=%s msg=%s", mono_now(), what.c_str(), ntm_last_error());
  }
  std::_Exit(1);
}

void on_event(const ntm_event *e, void *) {
  emit("EVENT t=%.6f type=%d peer=%s endpoint=%s path=%s msg=%s", mono_now(),
       static_cast<int>(e->type), or_dash(e->peer_name), or_dash(e->endpoint),
       path_name(static_cast<int>(e->path)), e->message != nullptr ? e->message : "");
}

// ---- the node's state, watched from a thread ----

std::atomic<bool> g_watch_stop{false};

void print_stats(double t) {
  ntm_stats s{};
  s.version = NTM_STATS_VERSION;
  if (ntm_get_stats(&s) != NTM_OK) return;
  emit("STATS t=%.6f registrations=%llu handshakes_initiated=%llu handshakes_completed=%llu "
       "network_changes=%llu resolves_sent=%llu directions_received=%llu relay_fallbacks=%llu "
       "direct_upgrades=%llu dc_keepalives_missed=%llu logins=%llu dropped_no_tunnel=%llu",
       t, (unsigned long long)s.registrations, (unsigned long long)s.handshakes_initiated,
       (unsigned long long)s.handshakes_completed, (unsigned long long)s.network_changes,
       (unsigned long long)s.resolves_sent, (unsigned long long)s.directions_received,
       (unsigned long long)s.relay_fallbacks, (unsigned long long)s.direct_upgrades,
       (unsigned long long)s.dc_keepalives_missed, (unsigned long long)s.logins,
       (unsigned long long)s.dropped_no_tunnel);
}

// TUNNEL lines whenever a row changes (polled every 20 ms), STATS every --stats-ms.
void watch(const Config &cfg) {
  std::string last;
  double next_stats = 0;
  while (!g_watch_stop.load()) {
    if (Tunnels rows; rows.ok()) {
      std::string key;
      for (const ntm_tunnel_info &r : rows) {
        key += std::string(r.peer_name) + "|" + std::to_string(r.state) + "|" +
               std::to_string(r.path) + "|" + r.endpoint + "|" + std::to_string(r.path_mtu) + ";";
      }
      if (key != last) {
        double t = mono_now();
        for (const ntm_tunnel_info &r : rows) {
          emit("TUNNEL t=%.6f peer=%s state=%d path=%s endpoint=%s path_mtu=%u", t,
               or_dash(r.peer_name), static_cast<int>(r.state),
               path_name(static_cast<int>(r.path)), or_dash(r.endpoint), r.path_mtu);
        }
        if (rows.size() == 0) emit("TUNNEL t=%.6f peer=- state=-1", t);
        last = key;
      }
    }
    double t = mono_now();
    if (cfg.stats_ms > 0 && t >= next_stats) {
      print_stats(t);
      next_stats = t + cfg.stats_ms / 1000.0;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

// The state of our tunnel to `peer` now: 0 idle, 1 handshake, 2 up, -1 no entry.
int tunnel_state(const std::string &peer) {
  Tunnels rows;
  if (!rows.ok()) fail("ntm_tunnels_snapshot");
  int state = -1;
  for (const ntm_tunnel_info &r : rows) {
    if (peer == r.peer_name) state = static_cast<int>(r.state);
  }
  return state;
}

// ---- sockets ----

std::string g_peer_name;  // --connect's name (client) / the first accepted peer (server)

Conn connect_to(const Config &cfg) {
  sockaddr_storage addr;
  socklen_t len = resolve_target(cfg.connect, cfg.family, &addr, &g_peer_name);
  int fd = ntm_socket(cfg.family, SOCK_STREAM, 0);
  if (fd < 0) fail("ntm_socket", errno);
  if (ntm_connect(fd, reinterpret_cast<sockaddr *>(&addr), len) != 0) fail("ntm_connect", errno);
  return {fd};
}

// The name of the peer behind an accepted connection, from the tunnel table (the row whose
// virtual address matches).
std::string peer_name_of(const sockaddr_storage &from) {
  const std::string text = address_text(from);
  std::string name;
  for (const ntm_tunnel_info &r : Tunnels()) {
    if (text == r.virtual_ipv4 || text == r.virtual_ipv6) name = r.peer_name;
  }
  return name;
}

Conn accept_one(int listen_fd) {
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  int fd = ntm_accept(listen_fd, reinterpret_cast<sockaddr *>(&from), &len);
  if (fd < 0) fail("ntm_accept", errno);
  if (g_peer_name.empty()) g_peer_name = peer_name_of(from);
  return {fd};
}

void print_ready() {
  ntm_node_info info = node_info();
  emit("READY t=%.6f endpoint_v4=%s endpoint_v6=%s name=%s vip4=%s vip6=%s", mono_now(),
       or_dash(info.endpoint_ipv4), or_dash(info.endpoint_ipv6), info.name,
       or_dash(info.virtual_ipv4), or_dash(info.virtual_ipv6));
}

// A line from stdin, waiting at most `timeout_s`; empty on timeout or end of input.
std::string read_stdin_line(double timeout_s) {
  std::string out;
  const double deadline = mono_now() + timeout_s;
  for (;;) {
    double left = deadline - mono_now();
    if (left <= 0) return {};
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) continue;
    char c;
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n <= 0) return {};
    if (c == '\n') return out;
    out.push_back(c);
  }
}

// ---- idle-rounds ----

uint64_t round_seed(int round, bool from_client) {
  return (from_client ? kClientToServerSeed : kServerToClientSeed) + static_cast<uint64_t>(round);
}

void send_stream(const Conn &c, uint64_t seed, uint64_t bytes) {
  std::vector<unsigned char> buf(64 * 1024);
  for (uint64_t off = 0; off < bytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(bytes - off, buf.size()));
    fill(seed, off, {buf.data(), n});
    c.write_all(buf.data(), n, "send");
    off += n;
  }
}

// Reads `bytes` and checks them against stream `seed`; fails the process on any difference.
void expect_stream(const Conn &c, uint64_t seed, uint64_t bytes, const char *what) {
  std::vector<unsigned char> got(64 * 1024), want(64 * 1024);
  for (uint64_t off = 0; off < bytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(bytes - off, got.size()));
    int err = 0;
    if (!c.read_exact(got.data(), n, &err)) {
      if (err == 0) {
        emit("ERROR t=%.6f what=%s msg=end of stream after %llu of %llu bytes", mono_now(), what,
             (unsigned long long)off, (unsigned long long)bytes);
        std::_Exit(1);
      }
      fail(what, err);
    }
    fill(seed, off, {want.data(), n});
    if (std::memcmp(got.data(), want.data(), n) != 0) {
      emit("ERROR t=%.6f what=%s msg=corrupted bytes near offset %llu", mono_now(), what,
           (unsigned long long)off);
      std::_Exit(1);
    }
    off += n;
  }
}

void wait_idle(const Config &cfg, int round) {
  const double deadline = mono_now() + cfg.idle_wait_s;
  while (tunnel_state(g_peer_name) > 0) {
    if (mono_now() > deadline) {
      emit("ERROR t=%.6f what=not_idle round=%d peer=%s msg=the tunnel did not go idle within "
           "%.0f s", mono_now(), round, g_peer_name.c_str(), cfg.idle_wait_s);
      std::_Exit(1);
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  emit("IDLE t=%.6f round=%d peer=%s state=%d", mono_now(), round, g_peer_name.c_str(),
       tunnel_state(g_peer_name));
}

int idle_rounds(const Config &cfg) {
  const bool client = cfg.role == "client";
  Conn c;
  if (client) {
    c = connect_to(cfg);
  } else {
    int listen_fd = listen_socket(cfg.family, cfg.port, 64);
    print_ready();
    c = accept_one(listen_fd);
  }
  emit("CONNECTED t=%.6f peer=%s", mono_now(), g_peer_name.c_str());
  for (int r = 1; r <= cfg.rounds; ++r) {
    const bool client_first = r % 2 == 1;
    const bool we_start = client == client_first;
    if (r > 1 && (we_start || cfg.go_stdin)) wait_idle(cfg, r);
    if (r > 1 && cfg.go_stdin) {
      emit("WAITING t=%.6f round=%d", mono_now(), r);
      std::string cmd = read_stdin_line(cfg.idle_wait_s);
      if (cmd != "GO") {
        emit("ERROR what=no_go round=%d msg=expected GO on stdin, got '%s'", r, cmd.c_str());
        std::_Exit(1);
      }
    }
    const double t0 = mono_now();
    if (we_start) {
      send_stream(c, round_seed(r, client), cfg.bytes);
      expect_stream(c, round_seed(r, !client), cfg.bytes, "recv_answer");
    } else {
      expect_stream(c, round_seed(r, !client), cfg.bytes, "recv_round");
      send_stream(c, round_seed(r, client), cfg.bytes);
    }
    emit("ROUND t=%.6f r=%d first=%s ms=%.1f ok=1", mono_now(), r,
         client_first ? "client" : "server", (mono_now() - t0) * 1000.0);
  }
  // The client closes first; the server reads the end of stream.
  if (client) {
    ntm_shutdown(c.fd, SHUT_WR);
    unsigned char b;
    int err = 0;
    c.read_exact(&b, 1, &err);
  } else {
    unsigned char b;
    int err = 0;
    if (c.read_exact(&b, 1, &err)) fail("recv_end: unexpected data after the last round");
    ntm_shutdown(c.fd, SHUT_WR);
  }
  ntm_close(c.fd);
  emit("RESULT rounds_ok=%d", cfg.rounds);
  return 0;
}

// ---- sessions ----

struct Session {
  std::atomic<uint64_t> verified{0};
  std::atomic<bool> alive{true};
  double worst_stall = 0, worst_at = 0;  // written by the session's thread
};

std::atomic<bool> g_stop{false};
// "PAUSE MS" on stdin: no session starts a burst before this time (CLOCK_MONOTONIC seconds).
std::atomic<double> g_pause_until{0};

void run_session(const Config &cfg, int index, Session &s, double deadline) {
  Conn c = connect_to(cfg);
  std::mt19937_64 rng(cfg.seed * 1000003 + static_cast<uint64_t>(index));
  const uint64_t seed = kClientToServerSeed + 0x1000 + static_cast<uint64_t>(index);
  std::vector<unsigned char> out(cfg.bytes), in(cfg.bytes);
  uint64_t offset = 0;
  unsigned gaps = 0;
  while (!g_stop.load() && mono_now() < deadline) {
    fill(seed, offset, {out.data(), out.size()});
    const double t0 = mono_now();
    c.write_all(out.data(), out.size(), "send");
    int err = 0;
    if (!c.read_exact(in.data(), in.size(), &err)) {
      emit("ERROR t=%.6f what=session_broken session=%d errno=%s verified=%llu", mono_now(),
           index, err ? strerrorname_np(err) : "EOF", (unsigned long long)s.verified.load());
      s.alive = false;
      ntm_close(c.fd);
      return;
    }
    if (std::memcmp(in.data(), out.data(), in.size()) != 0) {
      emit("ERROR t=%.6f what=corrupted session=%d offset=%llu", mono_now(), index,
           (unsigned long long)offset);
      std::_Exit(1);
    }
    const double took = mono_now() - t0;
    if (took > s.worst_stall) {
      s.worst_stall = took;
      s.worst_at = t0;
    }
    offset += out.size();
    s.verified += out.size();
    ++gaps;
    unsigned gap = cfg.gap_lo_ms + static_cast<unsigned>(rng() % (cfg.gap_hi_ms - cfg.gap_lo_ms + 1));
    if (cfg.long_idle_every > 0 && gaps % cfg.long_idle_every == 0) gap = cfg.long_idle_ms;
    const double wake =
        std::min(deadline, std::max(mono_now() + gap / 1000.0, g_pause_until.load()));
    while (!g_stop.load() && mono_now() < wake) {
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(0.02, wake - mono_now())));
    }
  }
  ntm_shutdown(c.fd, SHUT_WR);
  unsigned char b;
  int err = 0;
  c.read_exact(&b, 1, &err);  // the server's end of stream
  ntm_close(c.fd);
}

void client_commands() {
  for (;;) {
    std::string cmd = read_stdin_line(3600);
    if (cmd.empty()) {
      if (std::feof(stdin)) return;
      continue;
    }
    if (cmd == "STOP") {
      g_stop = true;
      return;
    }
    if (cmd.rfind("PAUSE ", 0) == 0) {
      const double until = mono_now() + std::stod(cmd.substr(6)) / 1000.0;
      g_pause_until = until;
      emit("PAUSED t=%.6f until=%.6f", mono_now(), until);
      continue;
    }
    if (cmd == "NETCHANGE") {
      const int rc = ntm_notify_network_change();
      emit("NETCHANGED t=%.6f rc=%d", mono_now(), rc);
      continue;
    }
    if (cmd.rfind("RESOLVE ", 0) == 0) {
      std::string name = cmd.substr(8);
      const double t0 = mono_now();
      sockaddr_storage addr;
      int gai = 0;
      socklen_t len = resolve_name(name, "1", AF_UNSPEC, &addr, &gai);
      emit("RESOLVED t=%.6f name=%s ok=%d ms=%.1f rc=%d", mono_now(), name.c_str(), len > 0 ? 1 : 0,
           (mono_now() - t0) * 1000.0, gai);
    }
  }
}

int sessions_client(const Config &cfg) {
  std::vector<Session> sessions(static_cast<size_t>(cfg.sessions));
  const double deadline = mono_now() + cfg.duration_s;
  std::thread(client_commands).detach();
  std::vector<std::thread> threads;
  for (int i = 0; i < cfg.sessions; ++i) {
    threads.emplace_back(run_session, std::cref(cfg), i, std::ref(sessions[static_cast<size_t>(i)]),
                         deadline);
  }
  // Progress and the stall watch.
  std::atomic<bool> done{false};
  std::thread progress([&] {
    double last_change = mono_now();
    uint64_t last_total = 0;
    while (!done.load()) {
      std::this_thread::sleep_for(milliseconds(100));
      std::string v;
      uint64_t total = 0;
      for (auto &s : sessions) {
        v += (v.empty() ? "" : ",") + std::to_string(s.verified.load());
        total += s.verified.load();
      }
      const double t = mono_now();
      emit("PROGRESS t=%.6f v=%s", t, v.c_str());
      if (total != last_total) {
        last_total = total;
        last_change = t;
      } else if (t - last_change > cfg.stall_s && t < deadline) {
        emit("ERROR t=%.6f what=stalled since=%.6f", t, last_change);
        std::_Exit(1);
      }
    }
  });
  for (auto &t : threads) t.join();
  done = true;
  progress.join();
  int alive = 0;
  uint64_t verified = 0;
  double worst = 0, worst_at = 0;
  for (auto &s : sessions) {
    alive += s.alive.load() ? 1 : 0;
    verified += s.verified.load();
    if (s.worst_stall > worst) {
      worst = s.worst_stall;
      worst_at = s.worst_at;
    }
  }
  emit("RESULT sessions=%d alive=%d bytes_verified=%llu worst_stall_ms=%.1f worst_stall_at=%.6f",
       cfg.sessions, alive, (unsigned long long)verified, worst * 1000.0, worst_at);
  return alive == cfg.sessions ? 0 : 1;
}

int sessions_server(const Config &cfg) {
  int listen_fd = listen_socket(cfg.family, cfg.port, 64);
  print_ready();
  std::thread(client_commands).detach();  // NETCHANGE (a test drives a node with no peer)
  std::atomic<int> closed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < cfg.sessions; ++i) {
    Conn c = accept_one(listen_fd);
    threads.emplace_back([c, &closed] {
      std::vector<unsigned char> buf(64 * 1024);
      for (;;) {
        ssize_t n = ntm_recv(c.fd, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        c.write_all(buf.data(), static_cast<size_t>(n), "echo");
      }
      ntm_shutdown(c.fd, SHUT_WR);
      ntm_close(c.fd);
      ++closed;
    });
  }
  for (auto &t : threads) t.join();
  emit("RESULT accepted=%d closed=%d", cfg.sessions, closed.load());
  ntm_close(listen_fd);
  return 0;
}

void usage(FILE *out) {
  fputs("usage: ntm-field-node idle-rounds|sessions --role server|client NODE-OPTIONS\n"
        "         [--connect NAME:PORT] [-6] [--port N] [--bytes N] [--timeout S] [--stats-ms MS]\n"
        "       idle-rounds: [--rounds N] [--go-stdin] [--idle-wait S]\n"
        "       sessions: [--sessions K] [--duration S] [--gap-ms LO-HI] [--long-idle-ms MS]\n"
        "         [--long-idle-every N] [--stall-timeout S] [--seed N]\n\n",
        out);
  fputs(node_args_usage(), out);
}

// Declares the command line's options into `cfg`.
void add_options(CommandLine &cl, Config &cfg) {
  auto whole = [](const std::string &v) { return static_cast<unsigned>(std::stoul(v)); };
  add_run_options(cl, cfg);
  cl.flag("-6", [&] { cfg.family = AF_INET6; });
  cl.flag("--go-stdin", [&] { cfg.go_stdin = true; });
  cl.option("--port",
            [&](const std::string &v) { cfg.port = static_cast<unsigned short>(whole(v)); });
  cl.option("--bytes",
            [&](const std::string &v) { cfg.bytes = std::max<uint64_t>(1, std::stoull(v)); });
  cl.option("--rounds", [&](const std::string &v) { cfg.rounds = std::max(1, std::stoi(v)); });
  cl.option("--idle-wait", [&](const std::string &v) { cfg.idle_wait_s = std::stod(v); });
  cl.option("--sessions", [&](const std::string &v) { cfg.sessions = std::max(1, std::stoi(v)); });
  cl.option("--duration", [&](const std::string &v) { cfg.duration_s = std::stod(v); });
  cl.option("--gap-ms", [&](const std::string &v) {
    auto dash = v.find('-');
    cfg.gap_lo_ms = whole(v.substr(0, dash));
    cfg.gap_hi_ms = dash == std::string::npos ? cfg.gap_lo_ms : whole(v.substr(dash + 1));
    if (cfg.gap_hi_ms < cfg.gap_lo_ms) std::swap(cfg.gap_lo_ms, cfg.gap_hi_ms);
  });
  cl.option("--long-idle-ms", [&](const std::string &v) { cfg.long_idle_ms = whole(v); });
  cl.option("--long-idle-every", [&](const std::string &v) { cfg.long_idle_every = whole(v); });
  cl.option("--stall-timeout", [&](const std::string &v) { cfg.stall_s = std::stod(v); });
  cl.option("--stats-ms", [&](const std::string &v) { cfg.stats_ms = whole(v); });
  cl.option("--seed", [&](const std::string &v) { cfg.seed = std::stoull(v); });
}

}  // namespace

int main(int argc, char **argv) {
  Config cfg;
  const char *program = "ntm-field-node";
  CommandLine cl(program, usage);
  add_options(cl, cfg);
  if (!cl.parse_run(cfg, argc, argv)) return 2;
  if (cfg.scenario != "idle-rounds" && cfg.scenario != "sessions") {
    fprintf(stderr, "%s: unknown scenario '%s'\n", program, cfg.scenario.c_str());
    usage(stderr);
    return 2;
  }
  if (cfg.role == "client" && cfg.connect.empty()) {
    fprintf(stderr, "%s: the client needs --connect NAME:PORT\n", program);
    return 2;
  }
  // A hung run must not outlive its test: SIGALRM's default action ends the process.
  alarm(cfg.timeout_s);
  signal(SIGPIPE, SIG_IGN);
  cfg.node.options.event_cb = on_event;
  int rc = ntm_start(&cfg.node.options);
  if (rc != NTM_OK) {
    emit("ERROR what=ntm_start rc=%d msg=%s", rc, ntm_last_error());
    return 1;
  }
  if (cfg.role == "client") print_ready();
  std::thread watcher(watch, std::cref(cfg));
  int result;
  if (cfg.scenario == "idle-rounds") {
    result = idle_rounds(cfg);
  } else {
    result = cfg.role == "client" ? sessions_client(cfg) : sessions_server(cfg);
  }
  print_stats(mono_now());
  g_watch_stop = true;
  watcher.join();
  rc = ntm_stop();
  if (rc != NTM_OK) emit("ERROR what=ntm_stop rc=%d msg=%s", rc, ntm_last_error());
  emit("DONE");
  node_args_free(&cfg.node);
  return result;
}
