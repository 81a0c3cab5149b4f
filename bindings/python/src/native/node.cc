// Node lifecycle, state and events: ntm_start/ntm_stop, node info, tunnel snapshot, stats, keys.
// Each returns plain Python values (tuples, dicts); ntmobile's Python layer shapes them.
#include <ntm.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common.h"

namespace ntmpy {

namespace {

// The Python callable receiving events, or null. Read and replaced only with the GIL held.
py::object* g_event_handler = nullptr;
// Set while ntm_stop() runs: calls into the node from the event callback would then wait for
// ntm_stop(), which waits for the event thread (the library documents not to call ntm_stop()
// from the callback; querying the node during stop is refused here for the same reason).
std::atomic<bool> g_stopping{false};


py::str text(const char* s) {
  if (s == nullptr) return py::str("");
  PyObject* o = PyUnicode_DecodeUTF8(s, static_cast<Py_ssize_t>(std::strlen(s)), "replace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

void set_event_handler(py::object handler) {
  delete g_event_handler;
  g_event_handler = handler.is_none() ? nullptr : new py::object(std::move(handler));
}

// Runs on the library's event thread: takes the GIL and calls the Python handler.
void on_event(const ntm_event* event, void*) {
  if (event == nullptr || !Py_IsInitialized() || interpreter_finalizing()) return;
  py::gil_scoped_acquire gil;
  if (g_event_handler == nullptr) return;
  try {
    (*g_event_handler)(static_cast<int>(event->type), text(event->peer_name),
                       text(event->peer_node_id), text(event->endpoint),
                       static_cast<int>(event->path), text(event->message));
  } catch (py::error_already_set& error) {
    error.discard_as_unraisable("ntmobile event callback");
  }
}

[[noreturn]] void raise_last(int rc) {
  std::string message = ntm_last_error();
  raise_ntm(rc, message.c_str());
}

void check(int rc) {
  if (rc != NTM_OK) raise_last(rc);
}

// A node query without the GIL: it takes the library's lock, which ntm_start()/ntm_stop() hold
// while the event thread may be waiting for the GIL.
template <class F>
void check_nogil(F f) {
  int rc;
  std::string message;
  {
    ReleasedGil release;
    rc = f();
    if (rc != NTM_OK) message = ntm_last_error();
  }
  if (rc != NTM_OK) raise_ntm(rc, message.c_str());
}

void refuse_while_stopping(const char* what) {
  if (g_stopping.load()) {
    std::string message = std::string(what) + ": the node is stopping";
    raise_ntm(NTM_ESTATE, message.c_str());
  }
}

using OptText = std::optional<std::string>;
const char* c_str(const OptText& s) { return s ? s->c_str() : nullptr; }

void start(const OptText& name, const OptText& private_key, const OptText& virtual_ipv4,
           const OptText& virtual_ipv6, const OptText& listen_ipv4, const OptText& listen_ipv6,
           const std::vector<std::tuple<std::string, std::string, OptText, OptText, OptText>>& peers,
           int cipher, unsigned mtu, unsigned idle_timeout_ms, int log_level,
           py::object on_event_handler, const OptText& server, const OptText& server_certificate,
           const OptText& account, const OptText& password, const OptText& state_dir,
           unsigned direct_timeout_ms, size_t memory_limit, unsigned max_sockets,
           unsigned max_connections_per_peer, size_t max_socket_buffer,
           unsigned keepalive_interval_ms, unsigned start_timeout_ms,
           const OptText& control_socket) {
  ntm_options options;
  check(ntm_options_init(&options, NTM_OPTIONS_VERSION));
  std::vector<ntm_static_peer> peer_structs(peers.size());
  for (size_t i = 0; i < peers.size(); ++i) {
    ntm_static_peer& p = peer_structs[i];
    check(ntm_static_peer_init(&p, NTM_STATIC_PEER_VERSION));
    p.name = std::get<0>(peers[i]).c_str();
    p.public_key = std::get<1>(peers[i]).c_str();
    p.endpoint = c_str(std::get<2>(peers[i]));
    p.virtual_ipv4 = c_str(std::get<3>(peers[i]));
    p.virtual_ipv6 = c_str(std::get<4>(peers[i]));
  }
  options.name = c_str(name);
  options.private_key = c_str(private_key);
  options.virtual_ipv4 = c_str(virtual_ipv4);
  options.virtual_ipv6 = c_str(virtual_ipv6);
  if (listen_ipv4) options.listen_ipv4 = listen_ipv4->c_str();
  if (listen_ipv6) options.listen_ipv6 = listen_ipv6->c_str();
  options.peers = peer_structs.empty() ? nullptr : peer_structs.data();
  options.peer_count = peer_structs.size();
  options.cipher = static_cast<ntm_cipher>(cipher);
  options.mtu = mtu;
  options.idle_timeout_ms = idle_timeout_ms;
  options.log_level = static_cast<ntm_log_level>(log_level);
  options.server = c_str(server);
  options.server_certificate = c_str(server_certificate);
  options.account = c_str(account);
  options.password = c_str(password);
  options.state_dir = c_str(state_dir);
  options.direct_timeout_ms = direct_timeout_ms;
  options.memory_limit = memory_limit;
  options.max_sockets = max_sockets;
  options.max_connections_per_peer = max_connections_per_peer;
  options.max_socket_buffer = max_socket_buffer;
  options.keepalive_interval_ms = keepalive_interval_ms;
  options.start_timeout_ms = start_timeout_ms;
  options.control_socket = c_str(control_socket);
  const bool with_events = !on_event_handler.is_none();
  if (with_events) {
    if (ntm_is_running()) raise_ntm(NTM_ESTATE, "ntm_start: a node is already running");
    set_event_handler(std::move(on_event_handler));
    options.event_cb = on_event;
  }
  int rc;
  {
    ReleasedGil release;  // the event thread may need the GIL meanwhile
    rc = ntm_start(&options);
  }
  if (rc != NTM_OK) {
    std::string message = ntm_last_error();
    if (with_events) set_event_handler(py::none());
    raise_ntm(rc, message.c_str());
  }
}

void stop() {
  int rc;
  g_stopping.store(true);
  {
    ReleasedGil release;  // the event thread finishes its callbacks, which need it
    rc = ntm_stop();
  }
  g_stopping.store(false);
  if (rc != NTM_OK) raise_last(rc);
  set_event_handler(py::none());  // the event thread has ended: no callback can run now
}

py::dict node_info() {
  refuse_while_stopping("ntm_get_node_info");
  ntm_node_info info{};
  info.version = NTM_NODE_INFO_VERSION;
  check_nogil([&] { return ntm_get_node_info(&info); });
  py::dict d;
  d["node_id"] = text(info.node_id);
  d["name"] = text(info.name);
  d["public_key"] = text(info.public_key);
  d["virtual_ipv4"] = text(info.virtual_ipv4);
  d["virtual_ipv6"] = text(info.virtual_ipv6);
  d["endpoint_ipv4"] = text(info.endpoint_ipv4);
  d["endpoint_ipv6"] = text(info.endpoint_ipv6);
  d["mtu"] = info.mtu;
  return d;
}

py::list tunnels() {
  refuse_while_stopping("ntm_tunnels_snapshot");
  ntm_tunnel_info* rows = nullptr;
  size_t count = 0;
  check_nogil([&] { return ntm_tunnels_snapshot(&rows, &count); });
  std::unique_ptr<ntm_tunnel_info, void (*)(ntm_tunnel_info*)> owner(rows, ntm_tunnels_free);
  py::list out;
  for (size_t i = 0; i < count; ++i) {
    const ntm_tunnel_info& t = rows[i];
    py::dict d;
    d["peer_name"] = text(t.peer_name);
    d["peer_node_id"] = text(t.peer_node_id);
    d["virtual_ipv4"] = text(t.virtual_ipv4);
    d["virtual_ipv6"] = text(t.virtual_ipv6);
    d["state"] = static_cast<int>(t.state);
    d["path"] = static_cast<int>(t.path);
    d["endpoint"] = text(t.endpoint);
    d["local_path_id"] = t.local_path_id;
    d["bytes_sent"] = t.bytes_sent;
    d["bytes_received"] = t.bytes_received;
    d["packets_sent"] = t.packets_sent;
    d["packets_received"] = t.packets_received;
    d["last_activity_ms"] = t.last_activity_ms;
    d["session_age_ms"] = t.session_age_ms;
    d["rtt_us"] = t.rtt_us;
    d["path_mtu"] = t.path_mtu;
    out.append(d);
  }
  return out;
}

py::dict stats() {
  refuse_while_stopping("ntm_get_stats");
  ntm_stats s{};
  s.version = NTM_STATS_VERSION;
  check_nogil([&] { return ntm_get_stats(&s); });
  py::dict d;
  d["packets_sent"] = s.packets_sent;
  d["packets_received"] = s.packets_received;
  d["bytes_sent"] = s.bytes_sent;
  d["bytes_received"] = s.bytes_received;
  d["dropped_malformed"] = s.dropped_malformed;
  d["dropped_unknown_path"] = s.dropped_unknown_path;
  d["dropped_auth"] = s.dropped_auth;
  d["dropped_replay"] = s.dropped_replay;
  d["dropped_no_tunnel"] = s.dropped_no_tunnel;
  d["handshakes_completed"] = s.handshakes_completed;
  d["handshakes_failed"] = s.handshakes_failed;
  d["dropped_spoofed"] = s.dropped_spoofed;
  d["dropped_policy"] = s.dropped_policy;
  d["dropped_limit"] = s.dropped_limit;
  d["handshakes_initiated"] = s.handshakes_initiated;
  d["logins"] = s.logins;
  d["registrations"] = s.registrations;
  d["network_changes"] = s.network_changes;
  d["resolves_sent"] = s.resolves_sent;
  d["directions_received"] = s.directions_received;
  d["dc_keepalives_sent"] = s.dc_keepalives_sent;
  d["dc_keepalives_missed"] = s.dc_keepalives_missed;
  d["relay_fallbacks"] = s.relay_fallbacks;
  d["direct_upgrades"] = s.direct_upgrades;
  d["tcp_connections"] = s.tcp_connections;
  d["memory_used"] = s.memory_used;
  return d;
}

py::tuple keypair_generate() {
  char private_key[NTM_KEY_TEXT_SIZE] = {};
  char public_key[NTM_KEY_TEXT_SIZE] = {};
  check(ntm_keypair_generate(private_key, public_key));
  return py::make_tuple(py::str(private_key), py::str(public_key));
}

py::str public_key_from_private(const std::string& private_key) {
  char public_key[NTM_KEY_TEXT_SIZE] = {};
  check(ntm_public_key_from_private(private_key.c_str(), public_key));
  return py::str(public_key);
}

}  // namespace

void register_node(py::module_& m) {
  m.def("version", [] { return std::string(ntm_version()); }, "The library's version string.");
  m.def("strerror", [](int code) { return std::string(ntm_strerror(code)); },
        "The name of an NTM_E* code.");
  m.def("keypair_generate", &keypair_generate, "A new X25519 key pair (private, public), base64.");
  m.def("public_key_from_private", &public_key_from_private, py::arg("private_key"));
  m.def("start", &start, py::arg("name"), py::arg("private_key"), py::arg("virtual_ipv4"),
        py::arg("virtual_ipv6"), py::arg("listen_ipv4"), py::arg("listen_ipv6"), py::arg("peers"),
        py::arg("cipher"), py::arg("mtu"), py::arg("idle_timeout_ms"), py::arg("log_level"),
        py::arg("on_event"), py::arg("server") = py::none(),
        py::arg("server_certificate") = py::none(), py::arg("account") = py::none(),
        py::arg("password") = py::none(), py::arg("state_dir") = py::none(),
        py::arg("direct_timeout_ms") = 0, py::arg("memory_limit") = 0,
        py::arg("max_sockets") = 0, py::arg("max_connections_per_peer") = 0,
        py::arg("max_socket_buffer") = 0, py::arg("keepalive_interval_ms") = 0,
        py::arg("start_timeout_ms") = 0, py::arg("control_socket") = py::none(),
        "ntm_start() with these options.");
  m.def("stop", &stop, "ntm_stop(): blocks (without the GIL) until the node is down.");
  m.def("is_running", [] { return ntm_is_running() != 0; });
  m.def(
      "notify_network_change",
      [] {
        int rc = ntm_notify_network_change();
        if (rc != NTM_OK) raise_ntm(rc, ntm_last_error());
      },
      "ntm_notify_network_change(): the host's network changed; move the tunnels.");
  m.def("node_info", &node_info);
  m.def("tunnels", &tunnels);
  m.def("stats", &stats);
}

}  // namespace ntmpy
