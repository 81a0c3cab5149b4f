#include "wire/message.h"

namespace ntm::wire {

Decoded<MessageType> peek_type(std::span<const uint8_t> datagram) noexcept {
  if (datagram.empty()) return DecodeError::truncated;
  switch (datagram[0]) {
    case static_cast<uint8_t>(MessageType::handshake_init): return MessageType::handshake_init;
    case static_cast<uint8_t>(MessageType::handshake_response):
      return MessageType::handshake_response;
    case static_cast<uint8_t>(MessageType::data): return MessageType::data;
    case static_cast<uint8_t>(MessageType::cookie_reply): return MessageType::cookie_reply;
    default: return DecodeError::unknown_type;
  }
}

}  // namespace ntm::wire
