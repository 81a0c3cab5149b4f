// Proxies on a real local address that let unmodified programs reach the virtual network by
// name: SOCKS5 (RFC 1928: CONNECT and UDP ASSOCIATE, no authentication - bind it to localhost)
// and HTTP (CONNECT tunnels, and plain http:// requests in absolute form). Names are resolved
// through the node (the DC or the static peer list), so
// `curl --socks5-hostname 127.0.0.1:1080 http://bob.example/` reaches bob.
#pragma once

#include <memory>
#include <vector>

#include "listener.h"
#include "service.h"

namespace ntm::cli {

class Socks5Proxy final : public Service {
 public:
  Socks5Proxy(const HostPort& at, ConnectionLimit& limit);

 private:
  std::vector<std::unique_ptr<RealListener>> listeners_;
};

class HttpProxy final : public Service {
 public:
  HttpProxy(const HostPort& at, ConnectionLimit& limit);

 private:
  std::vector<std::unique_ptr<RealListener>> listeners_;
};

// Reads exactly `size` bytes from a real socket (honouring its receive timeout). False on
// error, timeout or end of stream.
bool read_exact(int fd, void* data, size_t size);

}  // namespace ntm::cli
