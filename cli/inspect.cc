#include "inspect.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace ntm::cli {

using nlohmann::json;

nlohmann::json control_request(const std::string& path, const json& request, int timeout_ms) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof(a.sun_path)) throw std::runtime_error("socket path too long: " + path);
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    const int saved = errno;
    ::close(fd);
    throw std::runtime_error("no node is serving its control API on " + path + " (" +
                             std::strerror(saved) +
                             "); is 'ntm up' running? (--socket PATH names another)");
  }
  const std::string line = request.dump() + "\n";
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    throw std::runtime_error("control API: cannot send the request");
  }
  std::string reply;
  char buf[8192];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
      ::close(fd);
      throw std::runtime_error("control API: no answer from the node within " +
                               std::to_string(timeout_ms) + " ms");
    }
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  try {
    return json::parse(reply);
  } catch (const json::exception&) {
    throw std::runtime_error("control API: the answer is not JSON (a node of another version?)");
  }
}

std::string format_rtt(int64_t us) {
  if (us < 0) return "-";
  char b[32];
  if (us < 10000) std::snprintf(b, sizeof(b), "%.2f ms", static_cast<double>(us) / 1000.0);
  else std::snprintf(b, sizeof(b), "%.0f ms", static_cast<double>(us) / 1000.0);
  return b;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char b[32];
  if (u == 0) std::snprintf(b, sizeof(b), "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(b, sizeof(b), "%.1f %s", v, units[u]);
  return b;
}

std::string format_duration(int64_t ms) {
  const long long s = ms / 1000;
  char b[32];
  if (s < 60) std::snprintf(b, sizeof(b), "%llds", s);
  else if (s < 3600) std::snprintf(b, sizeof(b), "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400) std::snprintf(b, sizeof(b), "%lldh%02lldm", s / 3600, (s / 60) % 60);
  else std::snprintf(b, sizeof(b), "%lldd%02lldh", s / 86400, (s / 3600) % 24);
  return b;
}

std::string format_age(int64_t ms) {
  if (ms < 0) return "never";
  return format_duration(ms) + " ago";
}

namespace {

constexpr int kRequestTimeoutMs = 15000;

// Runs `body` and turns errors into a message and status 1.
template <class F>
int guarded(F body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntm: %s\n", e.what());
    return 1;
  }
}

json checked(const json& reply) {
  if (reply.contains("error") && !reply.contains("peer")) {
    throw std::runtime_error("node: " + reply["error"].get<std::string>());
  }
  return reply;
}

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

void print_tunnels(const json& tunnels) {
  if (tunnels.empty()) {
    std::printf("no tunnels\n");
    return;
  }
  std::printf("%-24s %-16s %-9s %-6s %-26s %-9s %-10s %-10s %s\n", "PEER", "VIRTUAL", "STATE",
              "PATH", "ENDPOINT", "RTT", "SENT", "RECEIVED", "HANDSHAKE");
  for (const auto& t : tunnels) {
    std::string vip = str(t, "virtual_ipv4");
    if (vip.empty()) vip = str(t, "virtual_ipv6");
    std::printf("%-24s %-16s %-9s %-6s %-26s %-9s %-10s %-10s %s\n", str(t, "peer").c_str(),
                vip.c_str(), str(t, "state").c_str(), str(t, "path").c_str(),
                str(t, "endpoint").empty() ? "-" : str(t, "endpoint").c_str(),
                format_rtt(t.value("rtt_us", int64_t{-1})).c_str(),
                format_bytes(t.value("bytes_sent", uint64_t{0})).c_str(),
                format_bytes(t.value("bytes_received", uint64_t{0})).c_str(),
                format_age(t.value("last_handshake_ms", int64_t{-1})).c_str());
  }
}

}  // namespace

int cmd_status(const std::string& path, bool as_json) {
  return guarded([&] {
    const json r = checked(control_request(path, {{"command", "status"}}, kRequestTimeoutMs));
    if (as_json) {
      std::printf("%s\n", r.dump(2).c_str());
      return 0;
    }
    const json& n = r["node"];
    std::printf("node      %s (node id %s, %s mode, up %s)\n", str(n, "name").c_str(),
                str(n, "node_id").c_str(), str(n, "mode").c_str(),
                format_duration(n.value("uptime_ms", int64_t{0})).c_str());
    std::printf("virtual   %s %s\n", str(n, "virtual_ipv4").c_str(), str(n, "virtual_ipv6").c_str());
    std::string endpoints;
    for (const auto& e : n["endpoints"]) endpoints += (endpoints.empty() ? "" : " ") + e.get<std::string>();
    std::printf("endpoints %s\n", endpoints.c_str());
    std::printf("public key %s\n\n", str(n, "public_key").c_str());
    print_tunnels(r["tunnels"]);
    const json& s = r["stats"];
    std::printf("\npackets   sent %llu, received %llu; handshakes %llu ok, %llu failed\n",
                s.value("packets_sent", 0ULL), s.value("packets_received", 0ULL),
                s.value("handshakes_completed", 0ULL), s.value("handshakes_failed", 0ULL));
    std::printf("dropped   malformed %llu, unknown path %llu, auth %llu, replay %llu, no tunnel %llu\n",
                s.value("dropped_malformed", 0ULL), s.value("dropped_unknown_path", 0ULL),
                s.value("dropped_auth", 0ULL), s.value("dropped_replay", 0ULL),
                s.value("dropped_no_tunnel", 0ULL));
    if (str(n, "mode") == "control-plane") {
      std::printf("control   logins %llu, registrations %llu, resolves %llu, directions %llu, "
                  "keepalives %llu sent / %llu missed\n",
                  s.value("logins", 0ULL), s.value("registrations", 0ULL), s.value("resolves_sent", 0ULL),
                  s.value("directions_received", 0ULL), s.value("dc_keepalives_sent", 0ULL),
                  s.value("dc_keepalives_missed", 0ULL));
    }
    const json& events = r["events"];
    if (!events.empty()) {
      std::printf("\nrecent events\n");
      const size_t from = events.size() > 10 ? events.size() - 10 : 0;
      for (size_t i = from; i < events.size(); ++i) {
        std::printf("  %s  %s\n", str(events[i], "time").c_str(), str(events[i], "message").c_str());
      }
    }
    return 0;
  });
}

int cmd_peers(const std::string& path, bool as_json) {
  return guarded([&] {
    const json r = checked(control_request(path, {{"command", "tunnels"}}, kRequestTimeoutMs));
    if (as_json) {
      std::printf("%s\n", r["tunnels"].dump(2).c_str());
      return 0;
    }
    print_tunnels(r["tunnels"]);
    return 0;
  });
}

int cmd_ping(const std::string& path, const std::string& peer, int count, int interval_ms,
             int timeout_ms, bool as_json) {
  return guarded([&] {
    int answered = 0;
    json all = json::array();
    for (int i = 0; i < count; ++i) {
      if (i > 0 && interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
      const json r = control_request(path, {{"command", "ping"}, {"peer", peer}, {"timeout_ms", timeout_ms}},
                                     timeout_ms + kRequestTimeoutMs);
      if (r.contains("error")) throw std::runtime_error(r["error"].get<std::string>());
      all.push_back(r);
      if (r.value("timeout", false)) {
        if (!as_json) std::printf("no answer from %s (%s) within %d ms\n", str(r, "peer").c_str(),
                                  str(r, "address").c_str(), timeout_ms);
        continue;
      }
      ++answered;
      if (!as_json) {
        std::printf("pong from %s (%s) via %s %s in %s\n", str(r, "peer").c_str(),
                    str(r, "address").c_str(), str(r, "path").c_str(), str(r, "endpoint").c_str(),
                    format_rtt(r.value("rtt_us", int64_t{-1})).c_str());
      }
    }
    if (as_json) std::printf("%s\n", all.dump(2).c_str());
    return answered > 0 ? 0 : 1;
  });
}

namespace {

// One address family of a netcheck answer.
void print_family(const char* label, const json& f) {
  if (!f.value("available", false)) {
    std::printf("%-5s unavailable: %s\n", label, str(f, "reason").c_str());
    return;
  }
  const std::string nat = str(f, "nat");
  const std::string mapping = str(f, "mapping");
  std::string nat_text = nat == "none" ? "no NAT" : nat == "yes" ? "behind a NAT" : "NAT unknown";
  if (nat == "yes") nat_text += mapping == "unknown" ? " (mapping unknown: one server answered)"
                                                      : " (" + mapping + " mapping)";
  std::string mtu = "not measured";
  if (f.value("path_mtu", 0) > 0)
    mtu = std::to_string(f.value("path_mtu", 0)) + " (to " + str(f, "mtu_server") + ")";
  std::printf("%-5s local %s, %s, path MTU %s\n", label, str(f, "local").c_str(), nat_text.c_str(),
              mtu.c_str());
  for (const auto& s : f["servers"]) {
    const bool ok = s.value("reachable", false);
    std::string seen = str(s, "observed");
    std::printf("  %-3s %-40s %-11s %-9s%s\n", str(s, "role").c_str(), str(s, "server").c_str(),
                ok ? "reachable" : "unreachable",
                ok ? format_rtt(s.value("rtt_us", int64_t{-1})).c_str() : "-",
                seen.empty() ? "" : (" seen as " + seen).c_str());
  }
}

}  // namespace

int cmd_netcheck(const std::string& path, bool as_json) {
  return guarded([&] {
    const json r = checked(control_request(path, {{"command", "netcheck"}}, kRequestTimeoutMs));
    bool answered = false;
    for (const char* family : {"ipv4", "ipv6"}) {
      const json& f = r[family];
      if (!f.value("available", false)) continue;
      for (const auto& s : f["servers"])
        if (s.value("reachable", false) && str(s, "role") != "as") answered = true;
    }
    if (as_json) {
      std::printf("%s\n", r.dump(2).c_str());
    } else {
      print_family("IPv4", r["ipv4"]);
      print_family("IPv6", r["ipv6"]);
    }
    if (!answered) {
      std::fprintf(stderr, "ntm: netcheck: no DC or RS answered over IPv4 or IPv6\n");
      return 1;
    }
    return 0;
  });
}

}  // namespace ntm::cli
