// ntm_bridge_setsockopt / ntm_bridge_getsockopt: TCP options of the virtual connection behind a
// bridged OS descriptor. The descriptor is a Unix-domain socket, so setsockopt(2) cannot reach
// TCP_NODELAY or the keepalive timers; these calls apply them where they mean something.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "api_common.h"
#include "bridge.h"

namespace {

// Options that belong to the connection. The bridge owns the others on the virtual side (e.g. its
// receive timeout), and buffer sizes and timeouts are the OS descriptor's own.
bool connection_option(int level, int optname) {
  if (level == IPPROTO_TCP) {
    return optname == TCP_NODELAY || optname == TCP_KEEPIDLE || optname == TCP_KEEPINTVL ||
           optname == TCP_KEEPCNT;
  }
  return level == SOL_SOCKET && optname == SO_KEEPALIVE;
}

}  // namespace

extern "C" NTM_EXTERN(int) ntm_bridge_setsockopt(int os_fd, int level, int optname,
                                                 const void *optval, socklen_t optlen) {
  if (!connection_option(level, optname)) {
    errno = ENOPROTOOPT;
    return -1;
  }
  return ntm::capi::with_bridged_ntm_fd(os_fd, [&](int ntm_fd) {
    return ntm_setsockopt(ntm_fd, level, optname, optval, optlen);
  });
}

extern "C" NTM_EXTERN(int) ntm_bridge_getsockopt(int os_fd, int level, int optname, void *optval,
                                                 socklen_t *optlen) {
  if (!connection_option(level, optname)) {
    errno = ENOPROTOOPT;
    return -1;
  }
  return ntm::capi::with_bridged_ntm_fd(os_fd, [&](int ntm_fd) {
    return ntm_getsockopt(ntm_fd, level, optname, optval, optlen);
  });
}
