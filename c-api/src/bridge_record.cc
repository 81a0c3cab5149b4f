// The address record bridged descriptors carry before a bridged connection (hello) and before
// each bridged datagram (ntm.h: NTM_BRIDGE_HELLO_SIZE, NTM_BRIDGE_DGRAM_HEADER_SIZE).
#include <netinet/in.h>

#include <cstring>

#include "api_common.h"
#include "bridge.h"

namespace ntm::capi {

static_assert(NTM_BRIDGE_HELLO_SIZE == 20 && NTM_BRIDGE_DGRAM_HEADER_SIZE == 20);

void encode_address_record(const sockaddr_storage& address, unsigned char* record) {
  std::memset(record, 0, NTM_BRIDGE_HELLO_SIZE);
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    record[0] = 6;
    std::memcpy(record + 2, &in6->sin6_port, 2);
    std::memcpy(record + 4, &in6->sin6_addr, 16);
  } else {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    record[0] = 4;
    std::memcpy(record + 2, &in->sin_port, 2);
    std::memcpy(record + 4, &in->sin_addr, 4);
  }
}

socklen_t decode_address_record(const unsigned char* record, sockaddr_storage& address) {
  address = {};
  if (record[0] == 6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    in6->sin6_family = AF_INET6;
    std::memcpy(&in6->sin6_port, record + 2, 2);
    std::memcpy(&in6->sin6_addr, record + 4, 16);
    return sizeof(sockaddr_in6);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&address);
  in->sin_family = AF_INET;
  std::memcpy(&in->sin_port, record + 2, 2);
  std::memcpy(&in->sin_addr, record + 4, 4);
  return sizeof(sockaddr_in);
}

}  // namespace ntm::capi
