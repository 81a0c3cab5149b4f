// Inner IP packets (what lwIP emits and what a capsule carries): just enough parsing to route
// them by address. Read-only; never looks past the span.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/decoded.h"

namespace ntm::wire {

struct InnerAddresses {
  uint8_t version = 0;              // 4 or 6
  std::array<uint8_t, 16> src{};    // network byte order; IPv4 uses the first 4 bytes, rest zero
  std::array<uint8_t, 16> dst{};
  size_t length = 0;  // the length the header declares (IPv4 total length, IPv6 40 + payload
                      // length); <= packet.size(), any bytes beyond it are padding

  friend bool operator==(const InnerAddresses&, const InnerAddresses&) = default;
};

// Checks, in order: empty -> truncated; version nibble not 4 or 6 -> unknown_type; larger than
// kMaxInnerPacket -> oversized; shorter than the fixed header (20 / 40) -> truncated;
// IPv4: IHL < 5 or total length < IHL * 4 -> bad_field, total length > packet size -> truncated;
// IPv6: 40 + payload length > packet size -> truncated.
Decoded<InnerAddresses> parse_inner_addresses(std::span<const uint8_t> packet) noexcept;

}  // namespace ntm::wire
