// ntm-dc-bench: how much one DC core does, on each store backend side by side in one run.
//
// For each backend (SQLite in WAL mode, PostgreSQL on a throwaway local cluster) and each node
// count, it fills the accounts table with that many accounts, starts a DirectionCoordinator in
// this process, and forks a client that simulates every node over loopback UDP with the real
// protocol (Register, RegisterChallenge, Register with the challenge, RegisterAck; Keepalive;
// Resolve by name, with both Directions acknowledged). The client keeps `--window` requests
// outstanding and retries one unanswered for 1 s. Printed per phase:
//   ops/s wall      completed operations per second of wall time (client and DC share the
//                   machine's cores with everything else running)
//   DC us/op        CPU time of the DC process (its thread and the store's in-process work,
//                   all of SQLite) per operation: 1e6 / that = operations per DC core
//   PG us/op        CPU time of the PostgreSQL server's processes per operation (PostgreSQL
//                   backend only; another machine's core in a fleet)
// and, per node count: the DC's resident memory per registered node (its process grew by this
// much, SQLite's page cache included), and one account sweep (the DC checks every registered
// node's account every 2 s), timed both ways side by side: one lookup per node (the DC before
// 2026-12-07 evening) and one query for every account (AccountStore::roll, the DC now).
//
//   ntm-dc-bench [--nodes 10000,100000] [--backends sqlite,postgresql] [--window 256]
//                [--resolves N (default: nodes / 2, at most 20000)] [--sweep-only 1]
// --sweep-only 1: only the account sweeps (no DC, no client; seconds instead of minutes).
// Exit status 1 when an operation never completed (the smoke in CTest relies on it).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "capacity_harness.h"
#include "control/certificate.h"
#include "control/dc_channel.h"
#include "control/dc_messages.h"
#include "control/registration.h"
#include "control/ticket.h"
#include "crypto/random.h"
#include "dc/direction_coordinator.h"
#include "store/sql_account_store.h"
#include "store/password_hash.h"
#include "store/sql_address_store.h"
#include "store/migrations.h"
#include "util/log.h"
#ifdef NTM_BENCH_POSTGRESQL
#include "pg_cluster.h"
#endif

using namespace ntm;
using namespace ntm::servers;
using namespace ntm_bench;
using Clock = std::chrono::steady_clock;
using control::MessageType;

namespace {

constexpr uint64_t kNodeBase = 0x4e544d0000000000ull;  // node ids: base + index
constexpr auto kRetry = std::chrono::milliseconds(1000);

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string fqdn_of(size_t i) { return "n" + std::to_string(i) + ".bench"; }

// ---------------------------------------------------------------------------------------------
// The client (a child process): every simulated node's control side.

struct SimNode {
  control::Key32 session_key{};
  control::Bytes ticket;
  uint64_t session_counter = 0;
  std::optional<control::DcChannel> pending, channel;
  uint64_t pending_counter = 0;
  bool registered = false;
};

struct Phase {
  const char* name = "";
  size_t done = 0;
  size_t retries = 0;
  double wall_s = 0;
};

class Client {
 public:
  Client(size_t nodes, const control::Key32& ticket_key, Endpoint dc, size_t window)
      : nodes_(nodes), dc_(dc), window_(window) {
    fd_ = loopback_udp_socket(32 << 20, SOCK_NONBLOCK, &local_);
    const uint64_t expires = static_cast<uint64_t>(std::time(nullptr)) + 86400;
    for (size_t i = 0; i < nodes; ++i) {
      SimNode& n = nodes_[i];
      crypto::random_bytes(n.session_key);
      // The DC takes the node's addresses from the certificate (the AS allocated them at login)
      // and forwards it otherwise unread: no signature needed here.
      control::NodeCertificate cert;
      cert.node_id = kNodeBase + i;
      cert.fqdn = fqdn_of(i);
      cert.virtual_ipv4 = {100, static_cast<uint8_t>(64 + ((i >> 16) & 63)),
                           static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
      cert.virtual_ipv6[0] = 0xfd;
      cert.expires_unix = expires;
      control::Ticket t{kNodeBase + i, fqdn_of(i), {}, n.session_key, expires,
                        control::encode_certificate(cert)};
      n.ticket = control::seal_ticket(ticket_key, t);
    }
  }

  // Registers every node.
  Phase registrations() {
    return run("register", nodes_.size(), [](size_t op) { return op; },
               [&](size_t op) { send_register(op, {}); });
  }
  // One keepalive from every node.
  Phase keepalives() {
    return run("keepalive", nodes_.size(), [](size_t op) { return op; }, [&](size_t op) {
      send_sealed(op, MessageType::keepalive, control::encode(control::Keepalive{{local_}}));
    });
  }
  // `count` resolves by name: resolver op mod N asks for node (op * 7919 + 1) mod N (another).
  Phase resolves(size_t count) {
    const size_t n = nodes_.size();
    return run("resolve", count, [n](size_t op) { return op % n; }, [&, n](size_t op) {
      size_t to = (op * 7919 + 1) % n;
      if (to == op % n) to = (to + 1) % n;
      send_sealed(op % n, MessageType::resolve,
                  control::encode(control::Resolve::by_name(static_cast<uint32_t>(op), fqdn_of(to))));
    });
  }

 private:
  // Runs `total` operations with at most window_ outstanding, one per node at a time.
  // node_of(op) is the node whose answer completes operation op; send(op) starts it.
  template <typename NodeOf, typename Send>
  Phase run(const char* name, size_t total, NodeOf node_of, Send send_op) {
    Phase p;
    p.name = name;
    waiting_.assign(nodes_.size(), kIdle);
    sent_at_.assign(nodes_.size(), {});
    std::vector<size_t> op_of(nodes_.size(), 0);
    size_t next = 0, outstanding = 0;
    const auto t0 = Clock::now();
    auto last_scan = t0;
    const auto deadline = t0 + std::chrono::seconds(60 + total / 500);
    while (p.done < total && Clock::now() < deadline) {
      while (outstanding < window_ && next < total) {
        const size_t node = node_of(next);
        if (waiting_[node] != kIdle) break;  // that node is busy: wait for it
        waiting_[node] = kBusy;
        op_of[node] = next;
        sent_at_[node] = Clock::now();
        send_op(next);
        ++next;
        ++outstanding;
      }
      pollfd pfd{fd_, POLLIN, 0};
      ::poll(&pfd, 1, 5);
      for (size_t node : receive()) {
        waiting_[node] = kIdle;
        ++p.done;
        --outstanding;
      }
      if (Clock::now() - last_scan > std::chrono::milliseconds(100)) {
        last_scan = Clock::now();
        for (size_t i = 0; i < nodes_.size(); ++i) {
          if (waiting_[i] != kBusy || last_scan - sent_at_[i] < kRetry) continue;
          ++p.retries;  // lost (a full socket buffer): start the operation again
          sent_at_[i] = last_scan;
          send_op(op_of[i]);
        }
      }
    }
    p.wall_s = seconds_since(t0);
    return p;
  }

  void send_register(size_t i, const control::Challenge& challenge) {
    SimNode& n = nodes_[i];
    control::DcChannel session(control::DcRole::node, kNodeBase + i, n.session_key,
                               n.session_counter);
    const uint64_t counter = session.send_counter();
    const auto d = session.seal(MessageType::register_node,
                                control::encode(control::Register{{local_}, challenge}), n.ticket);
    n.session_counter = session.send_counter();
    if (!control::is_zero(challenge)) {
      n.pending.emplace(control::DcRole::node, kNodeBase + i,
                        control::registration_key(n.session_key, challenge, counter));
    }
    send(d);
  }

  void send_sealed(size_t i, MessageType type, const control::Bytes& plain) {
    send(nodes_[i].channel->seal(type, plain));
  }

  void send(const control::Bytes& d) {
    sockaddr_storage ss{};
    const unsigned len = dc_.to_sockaddr(ss);
    while (::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) < 0 &&
           errno == EAGAIN) {
      pollfd pfd{fd_, POLLOUT, 0};
      ::poll(&pfd, 1, 10);
    }
  }

  // Handles every datagram waiting; returns the nodes whose operation completed.
  std::vector<size_t> receive() {
    std::vector<size_t> completed;
    uint8_t buf[2048];
    for (;;) {
      const ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
      if (got <= 0) break;
      std::span<const uint8_t> d(buf, static_cast<size_t>(got));
      if (auto c = control::decode_register_challenge(d)) {
        const size_t i = c.value().node_id - kNodeBase;
        if (i < nodes_.size() && waiting_[i] == kBusy) send_register(i, c.value().challenge);
        continue;
      }
      auto env = control::decode_dc_envelope(d);
      if (!env) continue;
      const size_t i = env.value().node_id - kNodeBase;
      if (i >= nodes_.size()) continue;
      SimNode& n = nodes_[i];
      std::optional<control::DcChannel::Opened> m;
      if (n.pending) {
        m = n.pending->open(d);
        if (m && m->type == MessageType::register_ack) {
          n.channel = std::move(n.pending);
          n.pending.reset();
          n.registered = true;
        }
      }
      if (!m && n.channel) m = n.channel->open(d);
      if (!m) continue;
      switch (m->type) {
        case MessageType::register_ack:
        case MessageType::keepalive_ack:
        case MessageType::resolve_reply:
          if (waiting_[i] == kBusy) {
            waiting_[i] = kDone;
            completed.push_back(i);
          }
          break;
        case MessageType::direction:
          if (auto dir = control::decode_direction(m->plaintext))
            send_sealed(i, MessageType::direction_ack,
                        control::encode(control::DirectionAck{dir.value().direction_id}));
          break;
        default:
          break;
      }
    }
    return completed;
  }

  enum : uint8_t { kIdle, kBusy, kDone };
  std::vector<SimNode> nodes_;
  std::vector<uint8_t> waiting_;
  std::vector<Clock::time_point> sent_at_;
  Endpoint dc_, local_;
  size_t window_;
  int fd_ = -1;
};

// ---------------------------------------------------------------------------------------------
// The DC side (this process) and its measurements.

// CPU seconds of the process `pid` and its children still running (PostgreSQL's postmaster
// and its backends): utime + stime from /proc.
double tree_cpu_s(pid_t root) {
  if (root <= 0) return 0;
  const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const pid_t pid = std::atoi(e.path().filename().c_str());
    if (pid <= 0) continue;
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 2));
    std::string state;
    long ppid = 0;
    fields >> state >> ppid;
    if (pid != root && ppid != root) continue;
    std::string skip;
    for (int k = 0; k < 9; ++k) fields >> skip;  // pgrp .. cmajflt
    unsigned long long utime = 0, stime = 0;
    fields >> utime >> stime;
    total += static_cast<double>(utime + stime) / tick;
  }
  return total;
}

struct Row {
  std::string backend;
  size_t nodes = 0;
  std::vector<Phase> phases;
  std::vector<double> dc_us, pg_us;
  double kib_per_node = 0;
  double sweep_lookups_ms = 0;  // one find_by_node_id per node (the old sweep)
  double sweep_roll_ms = 0;     // one roll() and a check per node (the DC's sweep now)
  double sweep_compare_ms = 0;  // the roll compared with the previous one (fleet revocations)
  bool ok = true;
};

// Accounts for every simulated node, inserted in batches (the bench does not measure this).
void fill_accounts(const std::string& location, size_t nodes) {
  auto db = sql::open(location);
  migrate(*db);
  sql::Transaction tx(*db, "accounts");
  for (size_t from = 0; from < nodes; from += 500) {
    std::string insert = "INSERT INTO accounts (name, node_id, kind, secret_hash, created_unix) VALUES ";
    for (size_t i = from; i < std::min(nodes, from + 500); ++i) {
      if (i != from) insert += ",";
      insert += "('n" + std::to_string(i) + "', " +
                std::to_string(static_cast<int64_t>(kNodeBase + i)) + ", 0, 'x', 0)";
    }
    db->exec_script(insert);
  }
  tx.commit();
}

Row measure(const std::string& backend, const std::string& location, pid_t pg_root, size_t nodes,
            size_t window, size_t resolves, bool sweep_only) {
  Row row;
  row.backend = backend;
  row.nodes = nodes;
  fill_accounts(location, nodes);
  SqlAccountStore accounts(sql::open(location));
  SqlAddressStore addresses(sql::open(location), AddressPools{});

  // One account sweep (the DC runs one every 2 s), both ways in the same run: a lookup per
  // registered node, as the DC did before, and one roll() checked per node, as it does now
  // (DirectionCoordinator::check_accounts). Every node is registered (the worst case).
  {
    const auto t0 = Clock::now();
    for (size_t i = 0; i < nodes; ++i) accounts.find_by_node_id(kNodeBase + i);
    row.sweep_lookups_ms = seconds_since(t0) * 1000;
  }
  {
    const auto t0 = Clock::now();
    const auto roll = accounts.roll();
    size_t refused = 0;
    for (size_t i = 0; i < nodes; ++i) {
      const uint64_t id = kNodeBase + i;
      if (!roll.node_ids.contains(id) || roll.disabled.contains(id)) ++refused;
    }
    row.sweep_roll_ms = seconds_since(t0) * 1000;
    if (refused != 0) row.ok = false;  // every account exists and is enabled
  }
  {
    // The sweep's fleet part: the roll compared with the previous sweep's, for accounts
    // revoked since whose node another DC holds (DirectionCoordinator::check_accounts).
    const auto previous = accounts.roll();
    const auto roll = accounts.roll();
    const auto t0 = Clock::now();
    size_t revoked = 0;
    for (const auto& [id, name] : roll.disabled)
      if (!previous.disabled.contains(id) && previous.node_ids.contains(id)) ++revoked;
    for (uint64_t id : previous.node_ids)
      if (!roll.node_ids.contains(id) && !previous.disabled.contains(id)) ++revoked;
    row.sweep_compare_ms = seconds_since(t0) * 1000;
    if (revoked != 0) row.ok = false;  // nothing changed between the two
  }
  if (sweep_only) return row;

  const control::Key32 ticket_key = [] {
    control::Key32 k;
    crypto::random_bytes(k);
    return k;
  }();
  // The client: waits for the DC's port, runs the phases, reports each one's start and end.
  PhaseChild child(1, [&](const PhaseLink& parent, const std::vector<uint16_t>& ports) {
    Client client(nodes, ticket_key, Endpoint::v4({127, 0, 0, 1}, ports[0]), window);
    for (int k = 0; k < 3; ++k) {
      parent.say("start\n");
      Phase p = k == 0 ? client.registrations() : k == 1 ? client.keepalives()
                                                           : client.resolves(resolves);
      char line[160];
      std::snprintf(line, sizeof(line), "end %s %zu %zu %.6f\n", p.name, p.done, p.retries,
                    p.wall_s);
      parent.say(line);
    }
    return 0;
  });

  std::filesystem::path known = std::filesystem::temp_directory_path() /
                                ("ntm-dc-bench-" + std::to_string(::getpid()));
  DirectionCoordinatorConfig c;
  c.listen = {Endpoint::v4({127, 0, 0, 1}, 0)};
  c.ticket_key = ticket_key;
  crypto::random_bytes(c.relay_key);
  c.relays = {RelayServerInfo{{Endpoint::v4({127, 0, 0, 1}, 9)}}};
  c.keepalive_s = 3600;             // no node expires during the run
  c.account_recheck = std::chrono::hours(1);  // the sweep is timed on its own above
  c.known_nodes_file = known;       // as a real DC: rewritten at most once a second
  const double rss0 = rss_mib();
  DirectionCoordinator dc(std::move(c), addresses, &accounts);
  dc.start();
  child.start({dc.local_endpoints().at(0).port});

  double cpu0 = 0, pg0 = 0;
  std::string text;
  for (int k = 0; k < 6 && child.next(text); ++k, child.ack()) {
    const char* line = text.c_str();
    const double cpu = process_cpu_s(), pg = tree_cpu_s(pg_root);
    if (std::strncmp(line, "start", 5) == 0) {
      cpu0 = cpu;
      pg0 = pg;
    } else {
      char name[32];
      Phase p;
      std::sscanf(line, "end %31s %zu %zu %lf", name, &p.done, &p.retries, &p.wall_s);
      p.name = k == 1 ? "register" : k == 3 ? "keepalive" : "resolve";
      const size_t want = k == 5 ? resolves : nodes;
      if (p.done < want) row.ok = false;
      row.dc_us.push_back(p.done ? (cpu - cpu0) * 1e6 / static_cast<double>(p.done) : 0);
      row.pg_us.push_back(p.done ? (pg - pg0) * 1e6 / static_cast<double>(p.done) : 0);
      row.phases.push_back(p);
      if (k == 1) row.kib_per_node = (rss_mib() - rss0) * 1024.0 / static_cast<double>(nodes);
    }
  }
  if (!child.finish()) row.ok = false;
  dc.stop();
  std::filesystem::remove(known);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> node_counts{10000, 100000};
  std::vector<std::string> backends{"sqlite"};
#ifdef NTM_BENCH_POSTGRESQL
  backends.push_back("postgresql");
#endif
  size_t window = 256, resolves = 0;
  bool sweep_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--nodes") {
      node_counts.clear();
      for (const auto& n : split_list(v)) node_counts.push_back(std::stoul(n));
    } else if (k == "--backends") {
      backends = split_list(v);
    } else if (k == "--window") {
      window = std::stoul(v);
    } else if (k == "--resolves") {
      resolves = std::stoul(v);
    } else if (k == "--sweep-only") {
      sweep_only = v != "0";
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  log::set_level(log::Level::error);

  std::vector<Row> rows;
  bool ok = true;
  for (const auto& backend : backends) {
#ifdef NTM_BENCH_POSTGRESQL
    std::unique_ptr<test::PgCluster> pg;
    if (backend == "postgresql") pg = std::make_unique<test::PgCluster>();
#endif
    for (size_t nodes : node_counts) {
      const size_t r = resolves ? resolves : std::min<size_t>(nodes / 2, 20000);
      std::string location;
      pid_t pg_root = 0;
      std::filesystem::path dir;
      if (backend == "sqlite") {
        dir = std::filesystem::temp_directory_path() /
              ("ntm-dc-bench-db-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        location = (dir / "ntm.db").string();
#ifdef NTM_BENCH_POSTGRESQL
      } else if (backend == "postgresql") {
        location = pg->create_database();
        pg_root = pg->postmaster_pid();
#endif
      } else {
        std::fprintf(stderr, "backend %s is not in this build\n", backend.c_str());
        return 2;
      }
      std::fprintf(stderr, "ntm-dc-bench: %s, %zu nodes...\n", backend.c_str(), nodes);
      rows.push_back(measure(backend, location, pg_root, nodes, window, r, sweep_only));
      ok = ok && rows.back().ok;
      if (!dir.empty()) std::filesystem::remove_all(dir);
    }
  }

  std::printf("DC capacity (one DC thread; client with %zu outstanding; loadavg at end: %s)\n",
              window, loadavg_1min().c_str());
  std::printf("%-10s %7s %-9s %8s %7s %9s %7s %7s %9s %9s\n", "backend", "nodes", "op", "done",
              "retries", "ops/s", "DC_us", "PG_us", "ops/core", "KiB/node");
  for (const auto& row : rows) {
    for (size_t k = 0; k < row.phases.size(); ++k) {
      const Phase& p = row.phases[k];
      const double per_core = row.dc_us[k] > 0 ? 1e6 / row.dc_us[k] : 0;
      std::printf("%-10s %7zu %-9s %8zu %7zu %9.0f %7.1f %7.1f %9.0f %9s\n",
                  row.backend.c_str(), row.nodes, p.name, p.done, p.retries,
                  p.wall_s > 0 ? static_cast<double>(p.done) / p.wall_s : 0, row.dc_us[k],
                  row.pg_us[k], per_core,
                  k == 0 ? std::to_string(static_cast<int>(row.kib_per_node + 0.5)).c_str() : "");
    }
    std::printf("%-10s %7zu %-9s one account sweep (every 2 s in the DC): one lookup per node "
                "%.0f ms, one query (roll) %.0f ms, + compared with the previous roll %.1f ms\n",
                row.backend.c_str(), row.nodes, "sweep", row.sweep_lookups_ms, row.sweep_roll_ms,
                row.sweep_compare_ms);
  }
  // What bounds the AS: each login verifies an Argon2id hash at the default cost.
  {
    const auto hash = hash_password("bench-password");
    const auto t0 = Clock::now();
    constexpr int kHashes = 5;
    for (int i = 0; i < kHashes; ++i) verify_password("bench-password", hash);
    const double ms = seconds_since(t0) * 1000 / kHashes;
    std::printf("AS: one Argon2id verification (m=19 MiB, t=2, p=1) takes %.1f ms: at most %.0f "
                "logins/s per AS core (the hash alone; TLS comes on top)\n",
                ms, 1000 / ms);
  }
  if (!ok) std::printf("FAILED: some operations never completed\n");
  return ok ? 0 : 1;
}
