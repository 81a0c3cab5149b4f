// Dispatch on the first byte of a tunnel datagram.
#pragma once

#include <cstdint>
#include <span>

#include "wire/constants.h"
#include "wire/decoded.h"

namespace ntm::wire {

// The message type of a datagram, from its first byte.
// Errors: empty -> truncated; a byte that is not a known MessageType -> unknown_type.
Decoded<MessageType> peek_type(std::span<const uint8_t> datagram) noexcept;

}  // namespace ntm::wire
