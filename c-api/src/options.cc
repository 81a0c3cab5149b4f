// Options structs: defaults (the *_init functions) and their validation into a NodeConfig.
#include "options.h"

#include <cstddef>
#include <cstring>
#include <fstream>
#include <sstream>

#include "capi_util.h"
#include "util/resolve.h"

using namespace ntm;

extern "C" NTM_EXTERN(int) ntm_static_peer_init(ntm_static_peer *peer, unsigned int version) {
  if (peer == nullptr) return capi::fail(NTM_EINVAL, "ntm_static_peer_init: NULL peer");
  if (version != NTM_STATIC_PEER_VERSION) {
    return capi::fail(NTM_EVERSION, "ntm_static_peer_init: unknown version " +
                                        std::to_string(version));
  }
  std::memset(peer, 0, sizeof(*peer));
  peer->version = version;
  return NTM_OK;
}

namespace {
// The size of each version of ntm_options: a caller built against an older header passes the
// smaller struct, so nothing past its end may be touched.
size_t options_size(unsigned int version) {
  if (version == 1) return offsetof(ntm_options, server);
  if (version == 2) return offsetof(ntm_options, memory_limit);
  if (version == 3) return sizeof(ntm_options);
  return 0;
}
}  // namespace

extern "C" NTM_EXTERN(int) ntm_options_init(ntm_options *options, unsigned int version) {
  if (options == nullptr) return capi::fail(NTM_EINVAL, "ntm_options_init: NULL options");
  const size_t size = options_size(version);
  if (size == 0) {
    return capi::fail(NTM_EVERSION, "ntm_options_init: unknown version " +
                                        std::to_string(version));
  }
  std::memset(static_cast<void*>(options), 0, size);
  options->version = version;
  options->cipher = NTM_CIPHER_AES_256_GCM;
  options->log_level = NTM_LOG_WARN;
  return NTM_OK;
}

namespace ntm::capi {

namespace {

std::optional<Endpoint> listen_endpoint(const char* text, const char* fallback, bool& disabled,
                                        const char* field) {
  disabled = false;
  if (text == nullptr) return Endpoint::parse(fallback);
  if (*text == '\0') {
    disabled = true;
    return std::nullopt;
  }
  auto e = Endpoint::parse(text);
  if (!e) throw OptionError(std::string(field) + ": '" + text + "' is not an address:port");
  return e;
}

bool is_blank(const char* s) { return s == nullptr || *s == '\0'; }

// The AS certificate option is PEM text or the path of a PEM file.
std::string read_certificate(const char* value) {
  std::string text(value);
  if (text.find("-----BEGIN") != std::string::npos) return text;
  std::ifstream file(text);
  if (!file) throw OptionError("options.server_certificate: cannot read '" + text + "'");
  std::stringstream content;
  content << file.rdbuf();
  if (content.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    throw OptionError("options.server_certificate: '" + text + "' holds no PEM certificate");
  }
  return content.str();
}

node::ControlPlaneConfig control_config(const ntm_options* o) {
  node::ControlPlaneConfig cp;
  // A host name is resolved now; the first of its addresses (the resolver's preference) is used.
  std::string error;
  const auto servers = resolve_host_port(o->server, &error);
  if (servers.empty()) throw OptionError("options.server: " + error);
  cp.server = servers.front();
  if (is_blank(o->server_certificate)) {
    throw OptionError("options.server_certificate: required with options.server");
  }
  cp.server_certificate = read_certificate(o->server_certificate);
  if (is_blank(o->account)) throw OptionError("options.account: required with options.server");
  cp.account = o->account;
  if (is_blank(o->password)) throw OptionError("options.password: required with options.server");
  cp.password = o->password;
  if (o->state_dir != nullptr) cp.state_dir = o->state_dir;
  if (o->direct_timeout_ms != 0) cp.direct_timeout = std::chrono::milliseconds(o->direct_timeout_ms);
  if (o->version >= 3 && o->start_timeout_ms != 0) {
    cp.start_timeout = std::chrono::milliseconds(o->start_timeout_ms);
  }
  return cp;
}

// ntm_options version 3: the node's limits, keepalive interval and control socket.
void limits_and_timers(const ntm_options* o, node::NodeConfig& c) {
  constexpr size_t kMiB = size_t{1} << 20;
  if (o->memory_limit != 0) {
    if (o->memory_limit < 4 * kMiB) {
      throw OptionError("options.memory_limit: " + std::to_string(o->memory_limit) +
                        " bytes is below the minimum of 4 MiB");
    }
    c.memory_limit = o->memory_limit;
  }
  if (o->max_sockets != 0) {
    if (o->max_sockets < 16 || o->max_sockets > 1000000) {
      throw OptionError("options.max_sockets: " + std::to_string(o->max_sockets) +
                        " is outside 16..1000000");
    }
    c.max_sockets = o->max_sockets;
  }
  if (o->max_connections_per_peer != 0) c.max_connections_per_peer = o->max_connections_per_peer;
  if (o->max_socket_buffer != 0) {
    if (o->max_socket_buffer < 64 * 1024 || o->max_socket_buffer > 1024 * kMiB) {
      throw OptionError("options.max_socket_buffer: " + std::to_string(o->max_socket_buffer) +
                        " is outside 64 KiB..1 GiB");
    }
    c.max_socket_buffer = o->max_socket_buffer;
  }
  if (o->keepalive_interval_ms != 0) {
    if (o->keepalive_interval_ms < 1000) {
      throw OptionError("options.keepalive_interval_ms: " +
                        std::to_string(o->keepalive_interval_ms) + " is below 1000");
    }
    c.keepalive_interval = std::chrono::milliseconds(o->keepalive_interval_ms);
  }
  if (o->control_socket != nullptr) {
    if (*o->control_socket == '\0') throw OptionError("options.control_socket: empty path");
    if (std::strlen(o->control_socket) >= 108) {  // sizeof(sockaddr_un::sun_path)
      throw OptionError(std::string("options.control_socket: '") + o->control_socket +
                        "' is longer than a Unix socket path may be (107 bytes)");
    }
    c.control_socket = o->control_socket;
  }
}

}  // namespace

node::NodeConfig to_node_config(const ntm_options* o) {
  if (o == nullptr) throw OptionError("options: NULL");
  if (options_size(o->version) == 0) {
    throw OptionError("options.version: " + std::to_string(o->version) +
                      " is unknown (call ntm_options_init)");
  }
  node::NodeConfig c;
  const bool control_plane = o->version >= 2 && o->server != nullptr;
  if (control_plane) {
    c.control = control_config(o);
    if (!is_blank(o->name)) throw OptionError("options.name: set by the AS in control-plane mode");
    if (!is_blank(o->virtual_ipv4) || !is_blank(o->virtual_ipv6)) {
      throw OptionError("options.virtual_ipv4/6: assigned by the DC in control-plane mode");
    }
  } else {
    if (is_blank(o->name)) throw OptionError("options.name: required");
    c.name = o->name;
  }
  if (o->private_key != nullptr || !control_plane) {
    auto key = parse_key(o->private_key);
    if (!key) throw OptionError("options.private_key: not a base64 X25519 key (44 characters)");
    c.key.private_key = *key;
    c.key.public_key = crypto::x25519_public_from_private(*key);
  }

  if (!is_blank(o->virtual_ipv4)) {
    c.vip4 = parse_ipv4(o->virtual_ipv4);
    if (!c.vip4) throw OptionError(std::string("options.virtual_ipv4: '") + o->virtual_ipv4 +
                                   "' is not an IPv4 address");
  }
  if (!is_blank(o->virtual_ipv6)) {
    c.vip6 = parse_ipv6(o->virtual_ipv6);
    if (!c.vip6) throw OptionError(std::string("options.virtual_ipv6: '") + o->virtual_ipv6 +
                                   "' is not an IPv6 address");
  }
  if (!control_plane && !c.vip4 && !c.vip6) {
    throw OptionError("options: virtual_ipv4 or virtual_ipv6 is required");
  }

  bool v4_off = false, v6_off = false;
  c.listen_v4 = listen_endpoint(o->listen_ipv4, "0.0.0.0:0", v4_off, "options.listen_ipv4");
  c.listen_v6 = listen_endpoint(o->listen_ipv6, "[::]:0", v6_off, "options.listen_ipv6");
  if (c.listen_v4 && !c.listen_v4->is_v4()) throw OptionError("options.listen_ipv4: not IPv4");
  if (c.listen_v6 && !c.listen_v6->is_v6()) throw OptionError("options.listen_ipv6: not IPv6");
  if (v4_off && v6_off) throw OptionError("options: listen_ipv4 and listen_ipv6 both disabled");

  if (o->peer_count > 0 && o->peers == nullptr) {
    throw OptionError("options.peers: NULL with peer_count " + std::to_string(o->peer_count));
  }
  for (size_t i = 0; i < o->peer_count; ++i) {
    const ntm_static_peer& p = o->peers[i];
    const std::string field = "options.peers[" + std::to_string(i) + "]";
    if (p.version != NTM_STATIC_PEER_VERSION) {
      throw OptionError(field + ".version: unknown (call ntm_static_peer_init)");
    }
    node::StaticPeer sp;
    if (is_blank(p.name)) throw OptionError(field + ".name: required");
    sp.name = p.name;
    auto pub = parse_key(p.public_key);
    if (!pub) throw OptionError(field + ".public_key: not a base64 X25519 key");
    sp.public_key = *pub;
    if (sp.public_key == c.key.public_key) {
      throw OptionError(field + ".public_key: is this node's own key");
    }
    if (!is_blank(p.endpoint)) {
      std::string error;
      const auto found = resolve_host_port(p.endpoint, &error);
      if (found.empty()) throw OptionError(field + ".endpoint: " + error);
      sp.endpoint = found.front();
    }
    if (!is_blank(p.virtual_ipv4)) {
      sp.vip4 = parse_ipv4(p.virtual_ipv4);
      if (!sp.vip4) throw OptionError(field + ".virtual_ipv4: not an IPv4 address");
    }
    if (!is_blank(p.virtual_ipv6)) {
      sp.vip6 = parse_ipv6(p.virtual_ipv6);
      if (!sp.vip6) throw OptionError(field + ".virtual_ipv6: not an IPv6 address");
    }
    if (!sp.vip4 && !sp.vip6) throw OptionError(field + ": virtual_ipv4 or virtual_ipv6 required");
    if ((sp.vip4 && sp.vip4 == c.vip4) || (sp.vip6 && sp.vip6 == c.vip6)) {
      throw OptionError(field + ": uses this node's own virtual address");
    }
    c.peers.push_back(std::move(sp));
  }

  switch (o->cipher) {
    case NTM_CIPHER_AES_256_GCM: c.cipher = crypto::AeadAlgorithm::aes_256_gcm; break;
    case NTM_CIPHER_CHACHA20_POLY1305: c.cipher = crypto::AeadAlgorithm::chacha20_poly1305; break;
    default: throw OptionError("options.cipher: unknown value " + std::to_string(o->cipher));
  }
  if (o->mtu != 0) {
    if (o->mtu < 1280 || o->mtu > 4000) {
      throw OptionError("options.mtu: " + std::to_string(o->mtu) + " is outside 1280..4000");
    }
    c.mtu = static_cast<uint16_t>(o->mtu);
  }
  if (o->idle_timeout_ms != 0) c.idle_timeout = std::chrono::milliseconds(o->idle_timeout_ms);
  if (o->log_level < NTM_LOG_OFF || o->log_level > NTM_LOG_DEBUG) {
    throw OptionError("options.log_level: unknown value " + std::to_string(o->log_level));
  }
  if (o->version >= 3) limits_and_timers(o, c);
  if (o->event_cb != nullptr) {
    ntm_event_cb cb = o->event_cb;
    void* user = o->event_user_data;
    c.on_event = [cb, user](const node::NodeEvent& e) {
      ntm_event ev;
      ev.type = static_cast<ntm_event_type>(e.type);
      ev.peer_name = e.peer_name.c_str();
      ev.peer_node_id = e.peer_node_id.c_str();
      ev.endpoint = e.endpoint.c_str();
      ev.path = static_cast<ntm_path_kind>(e.path);
      ev.message = e.message.c_str();
      cb(&ev, user);
    };
  }
  return c;
}

}  // namespace ntm::capi
