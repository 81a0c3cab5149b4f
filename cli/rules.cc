#include "rules.h"

#include <vector>

namespace ntm::cli {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::string Rule::text() const {
  std::string out = kind == Kind::forward ? "forward " : "expose ";
  out += proto == Proto::tcp ? "tcp " : "udp ";
  out += kind == Kind::forward ? listen.to_string() : std::to_string(listen.port);
  out += " -> " + target.to_string();
  return out;
}

Rule parse_rule(Rule::Kind kind, std::string_view spec) {
  const char* keyword = kind == Rule::Kind::forward ? "forward" : "expose";
  const std::string usage =
      kind == Rule::Kind::forward ? "forward [tcp|udp] LISTEN_ADDR:PORT -> PEER:PORT"
                                  : "expose [tcp|udp] VIRTUAL_PORT -> ADDR:PORT";
  Rule rule;
  rule.kind = kind;
  spec = trim(spec);
  for (auto [word, proto] : {std::pair{"tcp", Proto::tcp}, std::pair{"udp", Proto::udp}}) {
    const std::string_view w(word);
    if (spec.substr(0, w.size()) == w && spec.size() > w.size() &&
        (spec[w.size()] == ' ' || spec[w.size()] == '\t')) {
      rule.proto = proto;
      spec = trim(spec.substr(w.size()));
    }
  }
  const size_t arrow = spec.find("->");
  if (arrow == std::string_view::npos) {
    throw ConfigError(std::string(keyword) + " '" + std::string(spec) + "': expected " + usage);
  }
  const std::string_view from = trim(spec.substr(0, arrow));
  const std::string_view to = trim(spec.substr(arrow + 2));
  const std::string what = std::string(keyword) + " '" + std::string(spec) + "'";
  if (from.empty() || to.empty()) throw ConfigError(what + ": expected " + usage);
  if (kind == Rule::Kind::forward) {
    rule.listen = parse_host_port(from, what);
    rule.target = parse_host_port(to, what);
  } else {
    rule.listen.port = parse_port(from, what + " (virtual port)");
    if (to.find(':') == std::string_view::npos) {
      rule.target = HostPort{"127.0.0.1", parse_port(to, what)};
    } else {
      rule.target = parse_host_port(to, what);
    }
  }
  return rule;
}

}  // namespace ntm::cli
