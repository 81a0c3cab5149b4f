#include "wire/ip_packet.h"

#include <algorithm>

#include "wire/bytes.h"
#include "wire/constants.h"

namespace ntm::wire {
namespace {

// IPv4 header: version/IHL at 0, total length at 2, source at 12, destination at 16.
Decoded<InnerAddresses> parse_v4(std::span<const uint8_t> p) noexcept {
  if (p.size() < kIpv4MinHeaderSize) return DecodeError::truncated;
  const size_t header_size = size_t{p[0] & 0x0fu} * 4;
  if (header_size < kIpv4MinHeaderSize) return DecodeError::bad_field;
  const size_t total_length = load_be16(&p[2]);
  if (total_length < header_size) return DecodeError::bad_field;
  if (total_length > p.size()) return DecodeError::truncated;
  InnerAddresses a;
  a.version = 4;
  std::copy_n(&p[12], 4, a.src.begin());
  std::copy_n(&p[16], 4, a.dst.begin());
  a.length = total_length;
  return a;
}

// IPv6 header: payload length at 4, source at 8, destination at 24.
Decoded<InnerAddresses> parse_v6(std::span<const uint8_t> p) noexcept {
  if (p.size() < kIpv6HeaderSize) return DecodeError::truncated;
  const size_t length = kIpv6HeaderSize + load_be16(&p[4]);
  if (length > p.size()) return DecodeError::truncated;
  InnerAddresses a;
  a.version = 6;
  std::copy_n(&p[8], 16, a.src.begin());
  std::copy_n(&p[24], 16, a.dst.begin());
  a.length = length;
  return a;
}

}  // namespace

Decoded<InnerAddresses> parse_inner_addresses(std::span<const uint8_t> packet) noexcept {
  if (packet.empty()) return DecodeError::truncated;
  const unsigned version = packet[0] >> 4;
  if (version != 4 && version != 6) return DecodeError::unknown_type;
  if (packet.size() > kMaxInnerPacket) return DecodeError::oversized;
  return version == 4 ? parse_v4(packet) : parse_v6(packet);
}

}  // namespace ntm::wire
