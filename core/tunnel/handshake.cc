#include "tunnel/handshake.h"

#include <cstring>
#include <string_view>

#include "crypto/hkdf.h"
#include "crypto/secure.h"
#include "tunnel/cookie.h"

namespace ntm::tunnel {

namespace {

using crypto::Sha256Digest;
using Key = std::array<uint8_t, 32>;

constexpr std::string_view kConstruction = "ntmobile IK X25519 AESGCM SHA256 v1";
constexpr std::string_view kIdentifier = "ntmobile tunnel";

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Sha256Digest hash2(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  crypto::Sha256 h;
  h.update(a);
  h.update(b);
  return h.finish();
}

void mix_hash(HandshakeState& s, std::span<const uint8_t> data) { s.hash = hash2(s.hash, data); }

// KDF_n of Noise/WireGuard: HKDF with the chaining key as salt, outputs n 32-byte keys.
template <size_t N>
std::array<Key, N> kdf(const Sha256Digest& chaining_key, std::span<const uint8_t> input) {
  std::array<uint8_t, 32 * N> out{};
  crypto::hkdf_sha256(chaining_key, input, {}, out);
  std::array<Key, N> keys{};
  for (size_t i = 0; i < N; ++i) std::memcpy(keys[i].data(), out.data() + 32 * i, 32);
  crypto::secure_zero(out);
  return keys;
}

void mix_key(HandshakeState& s, std::span<const uint8_t> input) {
  s.chaining_key = kdf<1>(s.chaining_key, input)[0];
}

// Mixes a DH result into the chaining key and returns a message key.
std::optional<Key> mix_dh(HandshakeState& s, const crypto::X25519Key& priv,
                          const crypto::X25519Key& pub) {
  auto shared = crypto::x25519_shared(priv, pub);
  if (!shared) return std::nullopt;
  auto keys = kdf<2>(s.chaining_key, *shared);
  crypto::secure_zero(*shared);
  s.chaining_key = keys[0];
  return keys[1];
}

bool mix_dh_only(HandshakeState& s, const crypto::X25519Key& priv, const crypto::X25519Key& pub) {
  auto shared = crypto::x25519_shared(priv, pub);
  if (!shared) return false;
  mix_key(s, *shared);
  crypto::secure_zero(*shared);
  return true;
}

constexpr std::array<uint8_t, 12> kZeroNonce{};

// Each message key is used once, so a zero nonce is safe; the transcript hash is the AAD.
void seal(const Key& key, const HandshakeState& s, std::span<const uint8_t> plaintext,
          std::span<uint8_t> out) {
  crypto::Aead aead(crypto::AeadAlgorithm::aes_256_gcm, key);
  aead.seal(kZeroNonce, s.hash, plaintext, out);
}

bool open(const Key& key, const HandshakeState& s, std::span<const uint8_t> ciphertext,
          std::span<uint8_t> out) {
  crypto::Aead aead(crypto::AeadAlgorithm::aes_256_gcm, key);
  return aead.open(kZeroNonce, s.hash, ciphertext, out).has_value();
}

HandshakeState initial_state(const crypto::X25519Key& responder_static) {
  HandshakeState s;
  s.chaining_key = crypto::sha256(bytes(kConstruction));
  s.hash = hash2(s.chaining_key, bytes(kIdentifier));
  mix_hash(s, responder_static);
  return s;
}

}  // namespace

std::pair<InitiatorHandshake, wire::HandshakeInit> create_init(
    const crypto::X25519KeyPair& local_static, const crypto::X25519Key& peer_static,
    const Mac1Key& peer_mac1_key, uint32_t sender_path_id, uint64_t timestamp_ns,
    crypto::AeadAlgorithm aead) {
  InitiatorHandshake hs;
  hs.peer_static = peer_static;
  hs.state = initial_state(peer_static);
  hs.ephemeral = crypto::x25519_generate();

  wire::HandshakeInit msg;
  msg.sender_path_id = sender_path_id;
  msg.ephemeral = hs.ephemeral.public_key;
  mix_hash(hs.state, msg.ephemeral);
  mix_key(hs.state, msg.ephemeral);

  auto k1 = mix_dh(hs.state, hs.ephemeral.private_key, peer_static);
  if (!k1) throw std::invalid_argument("peer static key is a low-order point");
  seal(*k1, hs.state, local_static.public_key, msg.encrypted_static);
  mix_hash(hs.state, msg.encrypted_static);

  auto k2 = mix_dh(hs.state, local_static.private_key, peer_static);
  if (!k2) throw std::invalid_argument("peer static key is a low-order point");
  std::array<uint8_t, wire::kHandshakePayloadSize> payload{};
  wire::encode_handshake_payload(
      wire::HandshakePayload{timestamp_ns, static_cast<wire::AeadAlgorithm>(aead)}, payload);
  seal(*k2, hs.state, payload, msg.encrypted_payload);
  mix_hash(hs.state, msg.encrypted_payload);

  std::array<uint8_t, wire::kHandshakeInitSize> encoded{};
  wire::encode(msg, encoded);
  msg.mac = compute_mac(peer_mac1_key, std::span(encoded).first(wire::kHandshakeInitMacOffset));
  return {std::move(hs), msg};
}

bool verify_init_mac(const wire::HandshakeInit& init, std::span<const uint8_t> datagram,
                     const Mac1Key& own_mac1_key) {
  if (datagram.size() != wire::kHandshakeInitSize) return false;
  auto expected = compute_mac(own_mac1_key, datagram.first(wire::kHandshakeInitMacOffset));
  return crypto::constant_time_equal(expected, init.mac);
}

bool verify_response_mac(std::span<const uint8_t> datagram, const Mac1Key& own_mac1_key) {
  if (datagram.size() != wire::kHandshakeResponseSize) return false;
  auto expected = compute_mac(own_mac1_key, datagram.first(wire::kHandshakeResponseMacOffset));
  return crypto::constant_time_equal(
      expected, datagram.subspan(wire::kHandshakeResponseMacOffset, wire::kHandshakeMacSize));
}

bool verify_init_mac(std::span<const uint8_t> datagram, const crypto::HmacSha256& own_mac1) {
  if (datagram.size() != wire::kHandshakeInitSize) return false;
  auto expected = compute_mac(own_mac1, datagram.first(wire::kHandshakeInitMacOffset));
  return crypto::constant_time_equal(
      expected, datagram.subspan(wire::kHandshakeInitMacOffset, wire::kHandshakeMacSize));
}

bool verify_response_mac(std::span<const uint8_t> datagram, const crypto::HmacSha256& own_mac1) {
  if (datagram.size() != wire::kHandshakeResponseSize) return false;
  auto expected = compute_mac(own_mac1, datagram.first(wire::kHandshakeResponseMacOffset));
  return crypto::constant_time_equal(
      expected, datagram.subspan(wire::kHandshakeResponseMacOffset, wire::kHandshakeMacSize));
}

std::optional<ReceivedInit> consume_init(const crypto::X25519KeyPair& local_static,
                                         const wire::HandshakeInit& init) {
  ReceivedInit r;
  r.state = initial_state(local_static.public_key);
  r.initiator_ephemeral = init.ephemeral;
  r.initiator_path_id = init.sender_path_id;
  mix_hash(r.state, init.ephemeral);
  mix_key(r.state, init.ephemeral);

  auto k1 = mix_dh(r.state, local_static.private_key, init.ephemeral);
  if (!k1) return std::nullopt;
  if (!open(*k1, r.state, init.encrypted_static, r.initiator_static)) return std::nullopt;
  mix_hash(r.state, init.encrypted_static);

  auto k2 = mix_dh(r.state, local_static.private_key, r.initiator_static);
  if (!k2) return std::nullopt;
  std::array<uint8_t, wire::kEncryptedPayloadSize> payload{};
  if (!open(*k2, r.state, init.encrypted_payload, payload)) return std::nullopt;
  mix_hash(r.state, init.encrypted_payload);
  auto decoded =
      wire::decode_handshake_payload(std::span(payload).first(wire::kHandshakePayloadSize));
  if (!decoded) return std::nullopt;
  r.timestamp_ns = decoded.value().timestamp_ns;
  r.aead = static_cast<crypto::AeadAlgorithm>(decoded.value().aead);
  return r;
}

namespace {

// The part of the response both roles compute identically once both ephemerals are known.
HandshakeKeys finish(HandshakeState& s, bool initiator) {
  auto keys = kdf<2>(s.chaining_key, {});
  HandshakeKeys out;
  out.send_key = initiator ? keys[0] : keys[1];
  out.recv_key = initiator ? keys[1] : keys[0];
  crypto::secure_zero(keys[0]);
  crypto::secure_zero(keys[1]);
  return out;
}

constexpr std::array<uint8_t, 32> kNoPresharedKey{};

// The pre-shared-key slot of Noise IKpsk2, left at zero: it keeps the key schedule open for an
// optional PSK later without changing the message layout.
Key mix_dh_key(HandshakeState& s) {
  auto keys = kdf<2>(s.chaining_key, kNoPresharedKey);
  s.chaining_key = keys[0];
  return keys[1];
}

}  // namespace

wire::HandshakeResponse create_response(const ReceivedInit& received, uint32_t sender_path_id,
                                        const Mac1Key& initiator_mac1_key,
                                        HandshakeKeys& keys_out) {
  HandshakeState s = received.state;
  auto ephemeral = crypto::x25519_generate();
  wire::HandshakeResponse msg;
  msg.sender_path_id = sender_path_id;
  msg.receiver_path_id = received.initiator_path_id;
  msg.ephemeral = ephemeral.public_key;
  mix_hash(s, msg.ephemeral);
  mix_key(s, msg.ephemeral);
  // Both were checked in consume_init(); a failure here cannot happen for valid points.
  mix_dh_only(s, ephemeral.private_key, received.initiator_ephemeral);
  mix_dh_only(s, ephemeral.private_key, received.initiator_static);
  auto k = mix_dh_key(s);
  seal(k, s, {}, msg.encrypted_empty);
  mix_hash(s, msg.encrypted_empty);
  keys_out = finish(s, false);
  crypto::secure_zero(ephemeral.private_key);

  std::array<uint8_t, wire::kHandshakeResponseSize> encoded{};
  wire::encode(msg, encoded);
  msg.mac = compute_mac(initiator_mac1_key,
                        std::span(encoded).first(wire::kHandshakeResponseMacOffset));
  return msg;
}

std::optional<HandshakeKeys> consume_response(const InitiatorHandshake& initiator,
                                              const crypto::X25519KeyPair& local_static,
                                              const wire::HandshakeResponse& response) {
  HandshakeState s = initiator.state;
  mix_hash(s, response.ephemeral);
  mix_key(s, response.ephemeral);
  if (!mix_dh_only(s, initiator.ephemeral.private_key, response.ephemeral)) return std::nullopt;
  if (!mix_dh_only(s, local_static.private_key, response.ephemeral)) return std::nullopt;
  auto k = mix_dh_key(s);
  std::array<uint8_t, 0> empty{};
  if (!open(k, s, response.encrypted_empty, empty)) return std::nullopt;
  mix_hash(s, response.encrypted_empty);
  return finish(s, true);
}

}  // namespace ntm::tunnel
