#include "tunnel/inner_source.h"

#include <algorithm>

#include "wire/ip_packet.h"

namespace ntm::tunnel {

InnerSource classify_inner_source(const PeerIdentity& peer,
                                  std::span<const uint8_t> inner) noexcept {
  auto addresses = wire::parse_inner_addresses(inner);
  if (!addresses) return InnerSource::malformed;
  const auto& src = addresses.value().src;
  if (addresses.value().version == 4) {
    return peer.vip4 && std::equal(peer.vip4->begin(), peer.vip4->end(), src.begin())
               ? InnerSource::peer
               : InnerSource::spoofed;
  }
  return peer.vip6 && std::equal(peer.vip6->begin(), peer.vip6->end(), src.begin())
             ? InnerSource::peer
             : InnerSource::spoofed;
}

}  // namespace ntm::tunnel
