// The data capsule: one encrypted inner IP packet per tunnel datagram.
//
//   0      1      2            4                  8                     16
//   | type | flags | reserved   | receiver_path_id | counter            | ciphertext ... | tag[16] |
//     u8=3   u8      u16 = 0      u32                u64
//
// All integers big-endian. The 16 header bytes are the AEAD associated data; the AEAD nonce is
// capsule_nonce(counter). This codec neither encrypts nor authenticates: nothing in a decoded
// header may be trusted until the tag has been verified.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "wire/constants.h"
#include "wire/decoded.h"

namespace ntm::wire {

struct CapsuleHeader {
  uint8_t flags = 0;
  uint32_t receiver_path_id = 0;
  uint64_t counter = 0;

  friend bool operator==(const CapsuleHeader&, const CapsuleHeader&) = default;
};

// A datagram split into its parts (views into the datagram).
struct CapsuleView {
  CapsuleHeader header;
  std::span<const uint8_t> aad;         // the 16 header bytes
  std::span<const uint8_t> ciphertext;  // may be empty (keepalive)
  std::span<const uint8_t> tag;         // kTagSize bytes
};

// Total datagram size for a given plaintext size.
constexpr size_t capsule_size(size_t plaintext_size) noexcept {
  return kCapsuleOverhead + plaintext_size;
}

// Writes the 16-byte header (type = data, reserved = 0).
void encode_capsule_header(const CapsuleHeader& header,
                           std::span<uint8_t, kCapsuleHeaderSize> out) noexcept;

// Parses the header of a whole datagram (header + ciphertext + tag). Checks, in order:
// empty -> truncated; type != data -> unknown_type; shorter than header + tag -> truncated;
// longer than kMaxDatagramSize -> oversized; reserved != 0 -> bad_field.
Decoded<CapsuleHeader> decode_capsule_header(std::span<const uint8_t> datagram) noexcept;

// decode_capsule_header(), plus views of the AAD, ciphertext and tag.
Decoded<CapsuleView> decode_capsule(std::span<const uint8_t> datagram) noexcept;

// The 12-byte AEAD nonce: 4 zero bytes, then the counter big-endian.
std::array<uint8_t, kNonceSize> capsule_nonce(uint64_t counter) noexcept;

}  // namespace ntm::wire
