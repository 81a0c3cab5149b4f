#include "control/net_probe.h"

#include <algorithm>

namespace ntm::control {

Bytes encode(const NetProbe& m) {
  if (m.size < kNetProbeMinSize || m.size > kMaxDatagramSize)
    throw std::length_error("net probe: size out of range");
  return encode_message(m.size, [&](ByteWriter& w) {
    w.u8(kNetProbeType);
    w.u8(0);
    w.u16(0);
    w.u64(m.nonce);
    // encode_message's buffer is zero-filled; the padding only has to be claimed.
    const std::vector<uint8_t> padding(m.size - 12, 0);
    w.bytes(padding);
  });
}

Bytes encode(const NetProbeReply& m) {
  return encode_message(kNetProbeReplyMaxSize, [&](ByteWriter& w) {
    w.u8(kNetProbeReplyType);
    w.u8(0);
    w.u16(m.received_size);
    w.u64(m.nonce);
    put_endpoint(w, m.observed);
  });
}

Decoded<NetProbe> decode_net_probe(std::span<const uint8_t> d) noexcept {
  if (d.empty()) return DecodeError::truncated;
  if (d[0] != kNetProbeType) return DecodeError::unknown_type;
  if (d.size() < kNetProbeMinSize) return DecodeError::truncated;
  if (d.size() > kMaxDatagramSize) return DecodeError::oversized;
  ByteReader r(d);
  r.skip(1);
  const uint8_t reserved8 = r.u8();
  const uint16_t reserved16 = r.u16();
  NetProbe m;
  m.nonce = r.u64();
  m.size = d.size();
  if (reserved8 != 0 || reserved16 != 0) return DecodeError::bad_field;
  if (!std::all_of(d.begin() + 12, d.end(), [](uint8_t b) { return b == 0; }))
    return DecodeError::bad_field;
  return m;
}

Decoded<NetProbeReply> decode_net_probe_reply(std::span<const uint8_t> d) noexcept {
  if (d.empty()) return DecodeError::truncated;
  if (d[0] != kNetProbeReplyType) return DecodeError::unknown_type;
  if (d.size() > kNetProbeReplyMaxSize) return DecodeError::oversized;
  ByteReader r(d);
  r.skip(1);
  const uint8_t reserved = r.u8();
  NetProbeReply m;
  m.received_size = r.u16();
  m.nonce = r.u64();
  bool bad = false;
  m.observed = get_endpoint(r, bad);
  if (r.failed()) return DecodeError::truncated;
  if (bad || reserved != 0) return DecodeError::bad_field;
  if (r.remaining() != 0) return DecodeError::oversized;
  return m;
}

std::optional<Bytes> answer_net_probe(std::span<const uint8_t> d, const Endpoint& from) {
  auto probe = decode_net_probe(d);
  if (!probe || !from.valid()) return std::nullopt;
  const auto received = static_cast<uint16_t>(std::min<size_t>(d.size(), UINT16_MAX));
  return encode(NetProbeReply{probe->nonce, received, from});
}

}  // namespace ntm::control
