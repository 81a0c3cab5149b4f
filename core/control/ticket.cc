#include "control/ticket.h"

#include <cstring>

#include "crypto/aead.h"
#include "crypto/random.h"
#include "crypto/secure.h"

namespace ntm::control {

namespace {

std::span<const uint8_t> ticket_aad() {
  return {reinterpret_cast<const uint8_t*>(kTicketAad), sizeof(kTicketAad) - 1};
}

}  // namespace

Bytes encode_ticket_plaintext(const Ticket& t) {
  return encode_message(kMaxStrSize, [&](ByteWriter& w) {
    w.u64(t.node_id);
    put_str(w, t.fqdn);
    w.bytes(t.static_public);
    w.bytes(t.session_key);
    w.u64(t.expires_unix);
    put_bytes(w, t.certificate);
  });
}

Decoded<Ticket> decode_ticket_plaintext(std::span<const uint8_t> plaintext) {
  ByteReader r(plaintext);
  Ticket t;
  t.node_id = r.u64();
  t.fqdn = get_str(r);
  t.static_public = get_array<kPublicKeySize>(r);
  t.session_key = get_array<kKeySize>(r);
  t.expires_unix = r.u64();
  t.certificate = get_bytes(r);
  if (auto e = finish_decode(r, false)) return *e;
  return t;
}

Bytes seal_ticket(std::span<const uint8_t, kKeySize> ticket_key, const Ticket& ticket) {
  Bytes plain = encode_ticket_plaintext(ticket);
  Bytes out(kNonceSize + plain.size() + kTagSize);
  std::span<uint8_t, kNonceSize> nonce(out.data(), kNonceSize);
  crypto::random_bytes(nonce);
  crypto::Aead aead(crypto::AeadAlgorithm::aes_256_gcm, ticket_key);
  aead.seal(nonce, ticket_aad(), plain, std::span<uint8_t>(out).subspan(kNonceSize));
  crypto::secure_zero(plain);
  return out;
}

std::optional<Ticket> open_ticket(std::span<const uint8_t, kKeySize> ticket_key,
                                  std::span<const uint8_t> sealed) {
  if (sealed.size() < kNonceSize + kTagSize) return std::nullopt;
  std::array<uint8_t, kNonceSize> nonce{};
  std::memcpy(nonce.data(), sealed.data(), kNonceSize);
  const auto body = sealed.subspan(kNonceSize);
  Bytes plain(body.size() - kTagSize);
  crypto::Aead aead(crypto::AeadAlgorithm::aes_256_gcm, ticket_key);
  auto n = aead.open(nonce, ticket_aad(), body, plain);
  if (!n) return std::nullopt;
  auto t = decode_ticket_plaintext(std::span<const uint8_t>(plain.data(), *n));
  crypto::secure_zero(plain);
  if (!t) return std::nullopt;
  return std::move(t).value();
}

}  // namespace ntm::control
