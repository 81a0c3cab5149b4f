#include "wire/handshake.h"

#include <algorithm>
#include <optional>

#include "wire/bytes.h"

namespace ntm::wire {
namespace {

// Common checks of a fixed-size message, in the order the header documents; nullopt if it passes.
std::optional<DecodeError> check_fixed(std::span<const uint8_t> datagram, MessageType type,
                                       size_t size) noexcept {
  if (datagram.empty()) return DecodeError::truncated;
  if (datagram[0] != static_cast<uint8_t>(type)) return DecodeError::unknown_type;
  if (datagram.size() < size) return DecodeError::truncated;
  if (datagram.size() > size) return DecodeError::oversized;
  if (load_be16(&datagram[2]) != 0) return DecodeError::bad_field;
  return std::nullopt;
}

// timestamp_ns u64 | aead_algorithm u8 | reserved
constexpr size_t kPayloadReservedSize = kHandshakePayloadSize - 8 - 1;

bool is_known(AeadAlgorithm a) noexcept {
  return a == AeadAlgorithm::aes_256_gcm || a == AeadAlgorithm::chacha20_poly1305;
}

}  // namespace

size_t encode(const HandshakeInit& m, std::span<uint8_t> out) noexcept {
  if (out.size() < kHandshakeInitSize) return 0;
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(MessageType::handshake_init));
  w.u8(m.flags);
  w.u16(0);
  w.u32(m.sender_path_id);
  w.bytes(m.ephemeral);
  w.bytes(m.encrypted_static);
  w.bytes(m.encrypted_payload);
  w.bytes(m.mac);
  w.bytes(m.mac2);
  return w.failed() ? 0 : w.written();
}

size_t encode(const HandshakeResponse& m, std::span<uint8_t> out) noexcept {
  if (out.size() < kHandshakeResponseSize) return 0;
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(MessageType::handshake_response));
  w.u8(m.flags);
  w.u16(0);
  w.u32(m.sender_path_id);
  w.u32(m.receiver_path_id);
  w.bytes(m.ephemeral);
  w.bytes(m.encrypted_empty);
  w.bytes(m.mac);
  return w.failed() ? 0 : w.written();
}

size_t encode(const CookieReply& m, std::span<uint8_t> out) noexcept {
  if (out.size() < kCookieReplySize) return 0;
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(MessageType::cookie_reply));
  w.u8(m.flags);
  w.u16(0);
  w.u32(m.receiver_path_id);
  w.bytes(m.nonce);
  w.bytes(m.encrypted_cookie);
  return w.failed() ? 0 : w.written();
}

void encode_handshake_payload(const HandshakePayload& p,
                              std::span<uint8_t, kHandshakePayloadSize> out) noexcept {
  ByteWriter w(out);
  w.u64(p.timestamp_ns);
  w.u8(static_cast<uint8_t>(p.aead));
  w.zeros(kPayloadReservedSize);
}

Decoded<HandshakeInit> decode_handshake_init(std::span<const uint8_t> datagram) noexcept {
  if (auto e = check_fixed(datagram, MessageType::handshake_init, kHandshakeInitSize)) return *e;
  ByteReader r(datagram);
  HandshakeInit m;
  r.skip(1);  // type, checked above
  m.flags = r.u8();
  r.skip(2);  // reserved, checked above
  m.sender_path_id = r.u32();
  r.read_into(m.ephemeral);
  r.read_into(m.encrypted_static);
  r.read_into(m.encrypted_payload);
  r.read_into(m.mac);
  r.read_into(m.mac2);
  if (r.failed() || r.remaining() != 0) return DecodeError::truncated;  // unreachable
  return m;
}

Decoded<HandshakeResponse> decode_handshake_response(std::span<const uint8_t> datagram) noexcept {
  if (auto e = check_fixed(datagram, MessageType::handshake_response, kHandshakeResponseSize)) {
    return *e;
  }
  ByteReader r(datagram);
  HandshakeResponse m;
  r.skip(1);  // type, checked above
  m.flags = r.u8();
  r.skip(2);  // reserved, checked above
  m.sender_path_id = r.u32();
  m.receiver_path_id = r.u32();
  r.read_into(m.ephemeral);
  r.read_into(m.encrypted_empty);
  r.read_into(m.mac);
  if (r.failed() || r.remaining() != 0) return DecodeError::truncated;  // unreachable
  return m;
}

Decoded<CookieReply> decode_cookie_reply(std::span<const uint8_t> datagram) noexcept {
  if (auto e = check_fixed(datagram, MessageType::cookie_reply, kCookieReplySize)) return *e;
  ByteReader r(datagram);
  CookieReply m;
  r.skip(1);  // type, checked above
  m.flags = r.u8();
  r.skip(2);  // reserved, checked above
  m.receiver_path_id = r.u32();
  r.read_into(m.nonce);
  r.read_into(m.encrypted_cookie);
  if (r.failed() || r.remaining() != 0) return DecodeError::truncated;  // unreachable
  return m;
}

Decoded<HandshakePayload> decode_handshake_payload(std::span<const uint8_t> plaintext) noexcept {
  if (plaintext.size() < kHandshakePayloadSize) return DecodeError::truncated;
  if (plaintext.size() > kHandshakePayloadSize) return DecodeError::oversized;
  ByteReader r(plaintext);
  HandshakePayload p;
  p.timestamp_ns = r.u64();
  p.aead = static_cast<AeadAlgorithm>(r.u8());
  const auto reserved = r.bytes(kPayloadReservedSize);
  if (!is_known(p.aead)) return DecodeError::bad_field;
  if (!std::all_of(reserved.begin(), reserved.end(), [](uint8_t b) { return b == 0; })) {
    return DecodeError::bad_field;
  }
  return p;
}

}  // namespace ntm::wire
