#include "control/relay_messages.h"

#include "crypto/hash.h"
#include "crypto/secure.h"

namespace ntm::control {

namespace {

void put_header(ByteWriter& w, MessageType type, uint8_t flags, uint32_t relay_id) {
  w.u8(static_cast<uint8_t>(type));
  w.u8(flags);
  w.u16(0);
  w.u32(relay_id);
}

// Type, exact or minimum size, reserved; the reader is left after the header.
std::optional<DecodeError> check_header(std::span<const uint8_t> d, MessageType type,
                                        size_t min_size, size_t max_size, ByteReader& r,
                                        uint8_t& flags, uint32_t& relay_id) noexcept {
  if (d.empty()) return DecodeError::truncated;
  if (d[0] != static_cast<uint8_t>(type)) return DecodeError::unknown_type;
  if (d.size() < min_size) return DecodeError::truncated;
  if (d.size() > max_size) return DecodeError::oversized;
  r.skip(1);
  flags = r.u8();
  const uint16_t reserved = r.u16();
  relay_id = r.u32();
  if (reserved != 0) return DecodeError::bad_field;
  return std::nullopt;
}

}  // namespace

void encode_relayed_header(const RelayedHeader& h,
                           std::span<uint8_t, kRelayHeaderSize> out) noexcept {
  ByteWriter w(out);
  put_header(w, MessageType::relayed, h.flags, h.relay_id);
}

Bytes encode_relayed(uint32_t relay_id, std::span<const uint8_t> tunnel_datagram) {
  return encode_message(kMaxDatagramSize, [&](ByteWriter& w) {
    put_header(w, MessageType::relayed, 0, relay_id);
    w.bytes(tunnel_datagram);
  });
}

Decoded<RelayedHeader> decode_relayed_header(std::span<const uint8_t> d) noexcept {
  ByteReader r(d);
  RelayedHeader h;
  if (auto e = check_header(d, MessageType::relayed, kRelayHeaderSize + 1, kMaxDatagramSize, r,
                            h.flags, h.relay_id))
    return *e;
  return h;
}

namespace {

void put_bind_fields(ByteWriter& w, const RelayBind& m) {
  put_header(w, MessageType::relay_bind, 0, m.relay_id);
  w.u64(m.node_id);
  w.u64(m.expires_unix);
  w.u64(m.sequence);
  w.bytes(m.cookie);
}

RelayProof bind_proof(std::span<const uint8_t> token, const RelayBind& m) {
  std::array<uint8_t, kRelayBindSize - kRelayProofSize> signed_part{};
  ByteWriter w(signed_part);
  put_bind_fields(w, m);
  const auto mac = crypto::hmac_sha256(token, signed_part);
  RelayProof proof{};
  std::copy_n(mac.begin(), proof.size(), proof.begin());
  return proof;
}

Bytes encode_cookie_message(MessageType type, uint32_t relay_id, const RelayCookie& cookie) {
  return encode_message(kRelayBindAckSize, [&](ByteWriter& w) {
    put_header(w, type, 0, relay_id);
    w.bytes(cookie);
  });
}

template <class T>
Decoded<T> decode_cookie_message(std::span<const uint8_t> d, MessageType type) noexcept {
  ByteReader r(d);
  T m;
  uint8_t flags = 0;
  if (auto e = check_header(d, type, kRelayBindAckSize, kRelayBindAckSize, r, flags, m.relay_id))
    return *e;
  r.read_into(m.cookie);
  return m;
}

}  // namespace

Bytes encode(const RelayBind& m) {
  return encode_message(kRelayBindSize, [&](ByteWriter& w) {
    put_bind_fields(w, m);
    w.bytes(m.proof);
  });
}

Bytes encode(const RelayBindAck& m) {
  return encode_cookie_message(MessageType::relay_bind_ack, m.relay_id, m.cookie);
}

Bytes encode(const RelayChallenge& m) {
  return encode_cookie_message(MessageType::relay_challenge, m.relay_id, m.cookie);
}

Decoded<RelayBind> decode_relay_bind(std::span<const uint8_t> d) noexcept {
  ByteReader r(d);
  RelayBind m;
  uint8_t flags = 0;
  if (auto e = check_header(d, MessageType::relay_bind, kRelayBindSize, kRelayBindSize, r, flags,
                            m.relay_id))
    return *e;
  m.node_id = r.u64();
  m.expires_unix = r.u64();
  m.sequence = r.u64();
  r.read_into(m.cookie);
  r.read_into(m.proof);
  return m;
}

Decoded<RelayBindAck> decode_relay_bind_ack(std::span<const uint8_t> d) noexcept {
  return decode_cookie_message<RelayBindAck>(d, MessageType::relay_bind_ack);
}

Decoded<RelayChallenge> decode_relay_challenge(std::span<const uint8_t> d) noexcept {
  return decode_cookie_message<RelayChallenge>(d, MessageType::relay_challenge);
}

RelayBind make_relay_bind(uint32_t relay_id, uint64_t node_id, uint64_t expires_unix,
                          const RelayToken& token, uint64_t sequence, const RelayCookie& cookie) {
  RelayBind b{relay_id, node_id, expires_unix, sequence, cookie, {}};
  b.proof = bind_proof(token, b);
  return b;
}

bool verify_relay_bind(std::span<const uint8_t, kKeySize> dc_rs_key, const RelayBind& bind,
                       uint64_t now_unix) {
  if (now_unix >= bind.expires_unix) return false;
  const RelayToken token = compute_relay_token(dc_rs_key, bind.relay_id, bind.node_id,
                                               bind.expires_unix);
  return crypto::constant_time_equal(bind_proof(token, bind), bind.proof);
}

RelayToken compute_relay_token(std::span<const uint8_t, kKeySize> dc_rs_key, uint32_t relay_id,
                               uint64_t node_id, uint64_t expires_unix) {
  std::array<uint8_t, 20> msg{};
  wire::store_be32(&msg[0], relay_id);
  wire::store_be64(&msg[4], node_id);
  wire::store_be64(&msg[12], expires_unix);
  return crypto::hmac_sha256(dc_rs_key, msg);
}

bool verify_relay_token(std::span<const uint8_t, kKeySize> dc_rs_key, uint32_t relay_id,
                        uint64_t node_id, uint64_t expires_unix, std::span<const uint8_t> token,
                        uint64_t now_unix) {
  if (now_unix >= expires_unix) return false;
  const RelayToken expected = compute_relay_token(dc_rs_key, relay_id, node_id, expires_unix);
  return crypto::constant_time_equal(expected, token);
}


}  // namespace ntm::control
