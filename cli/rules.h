// Forwarding rules, as written in the config file or given with --forward / --expose:
//   forward [tcp|udp] LISTEN_ADDR:PORT -> PEER:PORT    a real local port to a peer's virtual port
//   expose  [tcp|udp] VIRTUAL_PORT -> ADDR:PORT        a virtual port served by a real service
// PEER is a peer name (resolved through the DC or the static peer list) or a virtual address;
// an expose target given as PORT alone means 127.0.0.1:PORT. tcp is the default.
#pragma once

#include <string>
#include <string_view>

#include "address.h"

namespace ntm::cli {

enum class Proto { tcp, udp };

struct Rule {
  enum class Kind { forward, expose } kind = Kind::forward;
  Proto proto = Proto::tcp;
  HostPort listen;  // forward: the real address to listen on; expose: host empty, the virtual port
  HostPort target;  // forward: peer name/virtual address; expose: the real service
  // The rule in canonical form ("forward tcp 127.0.0.1:2222 -> bob.example:22"): equal text,
  // equal rule (a reload keeps such rules running).
  std::string text() const;
};

// Parses the part after the keyword ("udp 127.0.0.1:53 -> bob.example:53"). Throws ConfigError.
Rule parse_rule(Rule::Kind kind, std::string_view spec);

}  // namespace ntm::cli
