#include "wire/capsule.h"

#include "wire/bytes.h"

namespace ntm::wire {

void encode_capsule_header(const CapsuleHeader& header,
                           std::span<uint8_t, kCapsuleHeaderSize> out) noexcept {
  out[0] = static_cast<uint8_t>(MessageType::data);
  out[1] = header.flags;
  store_be16(&out[2], 0);
  store_be32(&out[4], header.receiver_path_id);
  store_be64(&out[8], header.counter);
}

Decoded<CapsuleHeader> decode_capsule_header(std::span<const uint8_t> datagram) noexcept {
  if (datagram.empty()) return DecodeError::truncated;
  if (datagram[0] != static_cast<uint8_t>(MessageType::data)) return DecodeError::unknown_type;
  if (datagram.size() < kCapsuleOverhead) return DecodeError::truncated;
  if (datagram.size() > kMaxDatagramSize) return DecodeError::oversized;

  ByteReader r(datagram);
  r.skip(1);  // type, checked above
  CapsuleHeader h;
  h.flags = r.u8();
  const uint16_t reserved = r.u16();
  h.receiver_path_id = r.u32();
  h.counter = r.u64();
  if (reserved != 0) return DecodeError::bad_field;
  return h;
}

Decoded<CapsuleView> decode_capsule(std::span<const uint8_t> datagram) noexcept {
  auto header = decode_capsule_header(datagram);
  if (!header) return header.error();
  const size_t ciphertext_size = datagram.size() - kCapsuleOverhead;
  return CapsuleView{
      .header = header.value(),
      .aad = datagram.first(kCapsuleHeaderSize),
      .ciphertext = datagram.subspan(kCapsuleHeaderSize, ciphertext_size),
      .tag = datagram.last(kTagSize),
  };
}

std::array<uint8_t, kNonceSize> capsule_nonce(uint64_t counter) noexcept {
  std::array<uint8_t, kNonceSize> nonce{};
  store_be64(&nonce[4], counter);
  return nonce;
}

}  // namespace ntm::wire
