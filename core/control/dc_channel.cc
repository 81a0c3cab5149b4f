#include "control/dc_channel.h"

#include "crypto/secure.h"
#include "wire/constants.h"

namespace ntm::control {

Decoded<DcEnvelopeView> decode_dc_envelope(std::span<const uint8_t> d) noexcept {
  if (d.empty()) return DecodeError::truncated;
  if (!is_dc_type(d[0])) return DecodeError::unknown_type;
  const bool is_register = d[0] == static_cast<uint8_t>(MessageType::register_node);
  if (d.size() < kDcHeaderSize + (is_register ? 2 : 0) + kTagSize) return DecodeError::truncated;
  if (d.size() > kMaxDatagramSize) return DecodeError::oversized;
  ByteReader r(d);
  DcEnvelopeView v;
  v.type = static_cast<MessageType>(r.u8());
  v.flags = r.u8();
  const uint16_t reserved = r.u16();
  v.node_id = r.u64();
  v.counter = r.u64();
  if (is_register) {
    v.ticket = get_bytes_view(r);
    if (r.failed() || r.remaining() < kTagSize) return DecodeError::truncated;
  }
  if (reserved != 0) return DecodeError::bad_field;
  v.aad = d.first(r.position());
  v.sealed = d.subspan(r.position());
  return v;
}

std::array<uint8_t, kNonceSize> dc_nonce(uint8_t direction, uint64_t counter) noexcept {
  std::array<uint8_t, kNonceSize> n{};
  n[0] = direction;
  wire::store_be64(&n[4], counter);
  return n;
}

DcChannel::DcChannel(DcRole role, uint64_t node_id, std::span<const uint8_t, kKeySize> session_key,
                     uint64_t first_counter)
    : role_(role),
      node_id_(node_id),
      aead_(crypto::AeadAlgorithm::aes_256_gcm, session_key),
      send_counter_(first_counter) {
  std::copy(session_key.begin(), session_key.end(), key_.begin());
}

DcChannel::~DcChannel() { crypto::secure_zero(key_); }

bool DcChannel::has_key(std::span<const uint8_t, kKeySize> session_key) const {
  return crypto::constant_time_equal(key_, session_key);
}

Bytes DcChannel::seal(MessageType type, std::span<const uint8_t> plaintext,
                      std::span<const uint8_t> ticket) {
  const auto t = static_cast<uint8_t>(type);
  if (!is_dc_type(t)) throw std::invalid_argument("DcChannel::seal: not a DC message type");
  if (is_node_to_dc_type(t) != (role_ == DcRole::node))
    throw std::invalid_argument("DcChannel::seal: this side does not send that message type");
  const bool is_register = type == MessageType::register_node;
  if (is_register == ticket.empty())
    throw std::invalid_argument("DcChannel::seal: a ticket goes with Register, and only with it");
  if (ticket.size() > kMaxStrSize) throw std::length_error("DcChannel::seal: ticket too long");
  const size_t header = kDcHeaderSize + (is_register ? 2 + ticket.size() : 0);
  const size_t total = header + plaintext.size() + kTagSize;
  if (total > kMaxDatagramSize) throw std::length_error("DcChannel::seal: datagram too large");
  if (send_counter_ >= wire::kRejectAfterMessages)
    throw std::length_error("DcChannel::seal: counter exhausted; log in again");

  Bytes out(total);
  ByteWriter w(out);
  const uint64_t counter = send_counter_++;
  w.u8(t);
  w.u8(0);
  w.u16(0);
  w.u64(node_id_);
  w.u64(counter);
  if (is_register) put_bytes(w, ticket);
  const uint8_t direction = role_ == DcRole::node ? kDirectionNodeToDc : kDirectionDcToNode;
  const auto nonce = dc_nonce(direction, counter);
  aead_.seal(nonce, std::span<const uint8_t>(out.data(), header), plaintext,
             std::span<uint8_t>(out).subspan(header));
  return out;
}

std::optional<DcChannel::Opened> DcChannel::open(std::span<const uint8_t> datagram) {
  auto v = decode_dc_envelope(datagram);
  if (!v) return std::nullopt;
  const auto t = static_cast<uint8_t>(v->type);
  // The node opens DC->node types; the DC opens node->DC types.
  if (is_node_to_dc_type(t) != (role_ == DcRole::dc)) return std::nullopt;
  if (v->node_id != node_id_) return std::nullopt;
  if (v->counter >= wire::kRejectAfterMessages || !replay_.check(v->counter)) return std::nullopt;
  const uint8_t direction = role_ == DcRole::dc ? kDirectionNodeToDc : kDirectionDcToNode;
  Bytes plain(v->sealed.size() - kTagSize);
  auto n = aead_.open(dc_nonce(direction, v->counter), v->aad, v->sealed, plain);
  if (!n) return std::nullopt;
  replay_.update(v->counter);
  plain.resize(*n);
  return Opened{v->type, std::move(plain), v->counter, v->flags};
}

}  // namespace ntm::control
