// ntm-test-node's scenarios about the node API itself: restart, node-api and errors
// (test_node.cc lists them all).
#include "test_node.h"

#include "node_state.h"

#include <netdb.h>

#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ntm_test {

// ---- restart: exchange, ntm_stop(), ntm_start() again, exchange again, in one process. ----

int restart(Config &cfg) {
  start_node(cfg);
  transfer_client(cfg, 0, "round=0");
  auto stop_started = Clock::now();
  stop_node();
  emit("STOPPED is_running=%d stop_ms=%lld", ntm_is_running(), ms_since(stop_started));
  if (cfg.restart_cipher == "chacha") {
    cfg.node.options.cipher = NTM_CIPHER_CHACHA20_POLY1305;
  }
  start_node(cfg);
  ntm_node_info info = node_info();
  emit("RESTARTED is_running=%d endpoint_v4=%s endpoint_v6=%s", ntm_is_running(),
       info.endpoint_ipv4, info.endpoint_ipv6);
  transfer_client(cfg, 1, "round=1");
  stop_node();
  return 0;
}

// ---- node-api: node info, tunnel table, stats and events around one transfer. ----

namespace {

struct EventLog {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::pair<int, std::string>> events;
  bool wait_for(int type, milliseconds timeout) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] {
      for (auto &e : events)
        if (e.first == type) return true;
      return false;
    });
  }
};

void on_event(const ntm_event *event, void *user_data) {
  auto *log = static_cast<EventLog *>(user_data);
  {
    std::lock_guard lock(log->mutex);
    log->events.emplace_back(static_cast<int>(event->type),
                             event->peer_name != nullptr ? event->peer_name : "(null)");
  }
  log->cv.notify_all();
}

}  // namespace

int node_api(Config &cfg) {
  EventLog log;
  cfg.node.options.event_cb = on_event;
  cfg.node.options.event_user_data = &log;
  emit("BEFORE is_running=%d", ntm_is_running());
  start_node(cfg);
  ntm_node_info info = node_info();
  emit("INFO is_running=%d node_id=%s name=%s public_key=%s vip4=%s vip6=%s endpoint_v4=%s "
       "endpoint_v6=%s mtu=%u",
       ntm_is_running(), info.node_id, info.name, info.public_key, info.virtual_ipv4,
       info.virtual_ipv6, info.endpoint_ipv4, info.endpoint_ipv6, info.mtu);
  print_stats("before");
  transfer_client(cfg, 0, "conn=0");
  emit("WAITED tunnel_up=%d", log.wait_for(NTM_EVENT_TUNNEL_UP, milliseconds(2000)) ? 1 : 0);
  {
    Tunnels rows;
    if (!rows.ok()) die_ntm("ntm_tunnels_snapshot", rows.rc());
    emit("TUNNELS count=%zu", rows.size());
    for (const ntm_tunnel_info &t : rows) {
      emit("TUNNEL peer=%s node_id=%s vip4=%s vip6=%s state=%d path=%d endpoint=%s "
           "local_path_id=%u bytes_sent=%llu bytes_received=%llu packets_sent=%llu "
           "packets_received=%llu last_activity_ms=%lld session_age_ms=%lld rtt_us=%lld "
           "path_mtu=%u",
           t.peer_name, t.peer_node_id, t.virtual_ipv4, t.virtual_ipv6, static_cast<int>(t.state),
           static_cast<int>(t.path), t.endpoint, static_cast<unsigned>(t.local_path_id),
           (unsigned long long)t.bytes_sent, (unsigned long long)t.bytes_received,
           (unsigned long long)t.packets_sent, (unsigned long long)t.packets_received,
           (long long)t.last_activity_ms, (long long)t.session_age_ms, (long long)t.rtt_us,
           t.path_mtu);
    }
  }
  print_stats("after");
  auto stop_started = Clock::now();
  int rc = ntm_stop();
  emit("STOP rc=%d stop_ms=%lld", rc, ms_since(stop_started));
  log.wait_for(NTM_EVENT_STOPPING, milliseconds(1000));
  {
    std::lock_guard lock(log.mutex);
    for (size_t i = 0; i < log.events.size(); ++i) {
      emit("EVENT index=%zu type=%d peer=%s", i, log.events[i].first,
           log.events[i].second.c_str());
    }
  }
  ntm_node_info after{};
  after.version = NTM_NODE_INFO_VERSION;
  ntm_stats stats{};
  stats.version = NTM_STATS_VERSION;
  emit("AFTER_STOP is_running=%d info_rc=%d stats_rc=%d", ntm_is_running(),
       ntm_get_node_info(&after), ntm_get_stats(&stats));
  return 0;
}

// ---- errors: bad options, wrong state, unknown names. ----

namespace {

void report_case(const char *id, int rc) {
  emit("CASE id=%s rc=%d msg=%s", id, rc, ntm_last_error());
}

}  // namespace

int errors(Config &cfg) {
  const ntm_options good = cfg.node.options;
  int fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  emit("CASE id=socket_before_start rc=%d errno=%s", fd, fd < 0 ? errno_name(errno) : "-");
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  report_case("node_info_before_start", ntm_get_node_info(&info));
  report_case("stop_before_start", ntm_stop());
  ntm_options o{};
  report_case("options_init_bad_version", ntm_options_init(&o, 999));
  report_case("options_init_null", ntm_options_init(nullptr, NTM_OPTIONS_VERSION));

  auto try_start = [&](const char *id, const std::function<void(ntm_options &)> &change) {
    ntm_options bad = good;
    change(bad);
    int rc = ntm_start(&bad);
    report_case(id, rc);
    if (rc == NTM_OK) ntm_stop();  // reported as a failure by the driver; keep going
  };
  try_start("start_bad_private_key", [](ntm_options &x) { x.private_key = "not-a-key"; });
  try_start("start_missing_name", [](ntm_options &x) { x.name = nullptr; });
  try_start("start_bad_virtual_ipv4", [](ntm_options &x) { x.virtual_ipv4 = "100.64.0.300"; });
  try_start("start_bad_virtual_ipv6", [](ntm_options &x) { x.virtual_ipv6 = "fd00::zz::1"; });
  try_start("start_no_virtual_address", [](ntm_options &x) {
    x.virtual_ipv4 = nullptr;
    x.virtual_ipv6 = nullptr;
  });
  try_start("start_bad_listen_ipv4", [](ntm_options &x) { x.listen_ipv4 = "127.0.0.1:notaport"; });
  try_start("start_bad_memory_limit", [](ntm_options &x) { x.memory_limit = 1024; });
  try_start("start_bad_max_sockets", [](ntm_options &x) { x.max_sockets = 3; });
  try_start("start_bad_max_socket_buffer", [](ntm_options &x) { x.max_socket_buffer = 100; });
  try_start("start_bad_keepalive_interval", [](ntm_options &x) { x.keepalive_interval_ms = 5; });
  try_start("start_bad_control_socket", [](ntm_options &x) { x.control_socket = ""; });
  ntm_static_peer bad_peer{};
  if (good.peer_count > 0) bad_peer = good.peers[0];
  bad_peer.public_key = "c2hvcnQ=";
  try_start("start_bad_peer_public_key", [&](ntm_options &x) {
    x.peers = &bad_peer;
    x.peer_count = 1;
  });
  emit("CASE id=running_after_failed_starts rc=%d", ntm_is_running());

  report_case("start_good", ntm_start(&good));
  report_case("start_twice", ntm_start(&good));

  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *res = nullptr;
  int gai = ntm_getaddrinfo("nobody.invalid", "80", &hints, &res);
  emit("CASE id=getaddrinfo_unknown rc=%d is_eai_noname=%d", gai, gai == EAI_NONAME ? 1 : 0);
  if (gai == 0) ntm_freeaddrinfo(res);
  res = nullptr;
  gai = ntm_getaddrinfo(good.name, "80", &hints, &res);
  std::string self = gai == 0 && res != nullptr
                         ? address_text(*reinterpret_cast<sockaddr_storage *>(res->ai_addr))
                         : "-";
  emit("CASE id=getaddrinfo_self rc=%d address=%s", gai, self.c_str());
  if (gai == 0) ntm_freeaddrinfo(res);
  res = nullptr;
  gai = ntm_getaddrinfo(good.peer_count > 0 ? good.peers[0].name : "none", "80", &hints, &res);
  std::string peer = gai == 0 && res != nullptr
                         ? address_text(*reinterpret_cast<sockaddr_storage *>(res->ai_addr))
                         : "-";
  emit("CASE id=getaddrinfo_peer rc=%d address=%s", gai, peer.c_str());
  if (gai == 0) ntm_freeaddrinfo(res);

  report_case("stop", ntm_stop());
  report_case("stop_twice", ntm_stop());
  fd = ntm_socket(AF_INET, SOCK_STREAM, 0);
  emit("CASE id=socket_after_stop rc=%d errno=%s", fd, fd < 0 ? errno_name(errno) : "-");
  return 0;
}

}  // namespace ntm_test
