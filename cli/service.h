// What `ntm up` runs besides the node: forwards, exposes, proxies, the DNS responder. Each is
// started by its constructor (which throws ConfigError when it cannot bind) and stopped by its
// destructor: it stops taking new connections or datagrams; connections already proxied keep
// going until they end (a reload that drops a rule does not cut sessions in use).
#pragma once

#include <string>

#include "address.h"
#include "pump.h"

namespace ntm::cli {

class Service {
 public:
  virtual ~Service() = default;
};

// Connects a new virtual stream socket to `target` (a peer name or virtual address), trying
// each of its virtual addresses. Returns the ntm fd, or -1 with errno set and *error filled.
int connect_virtual(const HostPort& target, std::string* error);

// Connects a real stream socket to one of `targets`. Returns the fd, or -1 with errno set.
int connect_real(const std::vector<SockAddr>& targets);

// The node's virtual address families right now (after ntm_start).
bool node_has_ipv4();
bool node_has_ipv6();

}  // namespace ntm::cli
