#include "tunnel/path_mtu.h"

#include <algorithm>

#include "tunnel/constants.h"

namespace ntm::tunnel {

std::vector<uint16_t> mtu_probe_sizes(uint16_t virtual_mtu) {
  std::vector<uint16_t> sizes;
  for (int size = virtual_mtu; size > kMinTunnelMtu; size -= kMtuProbeStep) {
    sizes.push_back(static_cast<uint16_t>(size));
  }
  sizes.push_back(std::min(virtual_mtu, kMinTunnelMtu));
  return sizes;
}

uint16_t probe_ceiling(uint16_t virtual_mtu, bool relayed) {
  if (!relayed) return virtual_mtu;
  const int lowered = static_cast<int>(virtual_mtu) - static_cast<int>(kRelayHeaderRoom);
  return static_cast<uint16_t>(std::max(lowered, static_cast<int>(std::min(virtual_mtu, kMinTunnelMtu))));
}

void encode_mtu_control(const MtuControl& message, std::span<uint8_t> out) {
  std::fill(out.begin(), out.end(), uint8_t{0});
  out[0] = message.type;
  for (int i = 0; i < 4; ++i) out[1 + i] = static_cast<uint8_t>(message.round >> (24 - 8 * i));
  out[5] = static_cast<uint8_t>(message.size >> 8);
  out[6] = static_cast<uint8_t>(message.size);
}

std::optional<MtuControl> decode_mtu_control(std::span<const uint8_t> plaintext) {
  if (plaintext.size() < kMtuControlSize) return std::nullopt;
  MtuControl m;
  m.type = plaintext[0];
  for (int i = 0; i < 4; ++i) m.round = (m.round << 8) | plaintext[1 + i];
  m.size = static_cast<uint16_t>((plaintext[5] << 8) | plaintext[6]);
  if (m.type == kControlMtuProbe && plaintext.size() == m.size) return m;
  if (m.type == kControlMtuAck && plaintext.size() == kMtuControlSize) return m;
  return std::nullopt;
}

}  // namespace ntm::tunnel
