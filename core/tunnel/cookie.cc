#include "tunnel/cookie.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "crypto/random.h"
#include "crypto/secure.h"
#include "tunnel/constants.h"

namespace ntm::tunnel {

namespace {

constexpr std::string_view kMac1Label = "ntmobile mac1";
constexpr std::string_view kCookieLabel = "ntmobile cookie";

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

MacKey hash2(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  crypto::Sha256 h;
  h.update(a);
  h.update(b);
  return h.finish();
}

// The AEAD that seals cookie replies for initiators of a node: SHA-256("ntmobile cookie" ||
// its mac1 key), so only holders of the mac1 key can read them.
crypto::Aead cookie_aead(const MacKey& mac1_key) {
  MacKey key = hash2(bytes(kCookieLabel), mac1_key);
  crypto::Aead aead(crypto::AeadAlgorithm::aes_256_gcm, key);
  crypto::secure_zero(key);
  return aead;
}

Mac truncate(const crypto::Sha256Digest& full) {
  Mac mac{};
  std::memcpy(mac.data(), full.data(), mac.size());
  return mac;
}

}  // namespace

MacKey mac1_key_from_public(const crypto::X25519Key& static_public) {
  return hash2(bytes(kMac1Label), static_public);
}

MacKey mac1_key_of(const PeerIdentity& peer) {
  return peer.mac1_key ? *peer.mac1_key : mac1_key_from_public(peer.static_public);
}

MacKey mac1_key_of(const Peer& peer) {
  return peer.mac1_key ? *peer.mac1_key : mac1_key_from_public(peer.identity.static_public);
}

Mac compute_mac(std::span<const uint8_t> key, std::span<const uint8_t> covered) {
  return truncate(crypto::hmac_sha256(key, covered));
}

Mac compute_mac(const crypto::HmacSha256& key, std::span<const uint8_t> covered) {
  return truncate(key.mac(covered));
}

Mac init_mac2(const Cookie& cookie, std::span<const uint8_t, wire::kHandshakeInitSize> init) {
  return compute_mac(cookie, std::span<const uint8_t>(init).first(wire::kHandshakeInitMac2Offset));
}

CookieChecker::CookieChecker() = default;

Cookie CookieChecker::cookie_for_locked(const Endpoint& source, std::optional<uint32_t> relay_id,
                                        TimePoint now) {
  if (!secret_ || now - secret_made_ >= kCookieRefreshTime) {
    std::array<uint8_t, 32> secret{};
    crypto::random_bytes(secret);
    secret_.emplace(secret);
    crypto::secure_zero(secret);
    secret_made_ = now;
  }
  // family | address[16] | port u16 | relayed u8 | relay_id u32
  std::array<uint8_t, 1 + 16 + 2 + 1 + 4> id{};
  id[0] = static_cast<uint8_t>(source.family);
  std::copy(source.address.begin(), source.address.end(), id.begin() + 1);
  id[17] = static_cast<uint8_t>(source.port >> 8);
  id[18] = static_cast<uint8_t>(source.port);
  if (relay_id) {
    id[19] = 1;
    for (int i = 0; i < 4; ++i) id[20 + i] = static_cast<uint8_t>(*relay_id >> (24 - 8 * i));
  }
  return compute_mac(*secret_, id);
}

bool CookieChecker::check_mac2(std::span<const uint8_t> init_datagram, const Endpoint& source,
                               std::optional<uint32_t> relay_id, TimePoint now) {
  if (init_datagram.size() != wire::kHandshakeInitSize) return false;
  const auto mac2 = init_datagram.subspan(wire::kHandshakeInitMac2Offset, wire::kHandshakeMacSize);
  if (std::all_of(mac2.begin(), mac2.end(), [](uint8_t b) { return b == 0; })) return false;
  Cookie cookie;
  {
    std::lock_guard lock(mutex_);
    cookie = cookie_for_locked(source, relay_id, now);
  }
  const Mac expected = init_mac2(cookie, init_datagram.first<wire::kHandshakeInitSize>());
  return crypto::constant_time_equal(expected, mac2);
}

wire::CookieReply CookieChecker::make_reply(const wire::HandshakeInit& init,
                                            const MacKey& own_mac1_key, const Endpoint& source,
                                            std::optional<uint32_t> relay_id, TimePoint now) {
  wire::CookieReply reply;
  reply.receiver_path_id = init.sender_path_id;
  std::lock_guard lock(mutex_);
  const Cookie cookie = cookie_for_locked(source, relay_id, now);
  if (!sealer_ || sealing_for_ != own_mac1_key) {
    sealer_.emplace(cookie_aead(own_mac1_key));
    sealing_for_ = own_mac1_key;
    crypto::random_bytes(nonce_prefix_);
    nonce_counter_ = 0;
  }
  if (nonce_counter_ == UINT32_MAX) {
    crypto::random_bytes(nonce_prefix_);
    nonce_counter_ = 0;
  }
  const uint32_t n = nonce_counter_++;
  std::copy(nonce_prefix_.begin(), nonce_prefix_.end(), reply.nonce.begin());
  for (int i = 0; i < 4; ++i) reply.nonce[8 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  sealer_->seal(reply.nonce, init.mac, cookie, reply.encrypted_cookie);
  return reply;
}

std::optional<Cookie> open_cookie_reply(const wire::CookieReply& reply, const MacKey& peer_mac1_key,
                                        const Mac& sent_mac1) {
  Cookie cookie{};
  if (!cookie_aead(peer_mac1_key).open(reply.nonce, sent_mac1, reply.encrypted_cookie, cookie)) {
    return std::nullopt;
  }
  return cookie;
}

}  // namespace ntm::tunnel
