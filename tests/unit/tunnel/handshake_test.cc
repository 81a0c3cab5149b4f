// The node-to-node handshake: matching keys, authentication of both messages, payload transport
// and forward secrecy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "crypto/aead.h"
#include "crypto/x25519.h"
#include "tunnel/cookie.h"
#include "tunnel/handshake.h"
#include "wire/constants.h"
#include "wire/handshake.h"

namespace ntm::tunnel {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kTimestamp = 0x0123456789abcdefULL;

Bytes encoded(const wire::HandshakeInit& m) {
  Bytes out(wire::kHandshakeInitSize);
  REQUIRE(wire::encode(m, out) == out.size());
  return out;
}

Bytes encoded(const wire::HandshakeResponse& m) {
  Bytes out(wire::kHandshakeResponseSize);
  REQUIRE(wire::encode(m, out) == out.size());
  return out;
}

// One complete exchange between two static key pairs.
struct Exchange {
  crypto::X25519KeyPair initiator;
  crypto::X25519KeyPair responder;
  InitiatorHandshake state;
  wire::HandshakeInit init;
  std::optional<ReceivedInit> received;
  wire::HandshakeResponse response;
  HandshakeKeys responder_keys;

  explicit Exchange(crypto::AeadAlgorithm aead = crypto::AeadAlgorithm::aes_256_gcm)
      : Exchange(crypto::x25519_generate(), crypto::x25519_generate(), aead) {}

  Exchange(const crypto::X25519KeyPair& initiator_key, const crypto::X25519KeyPair& responder_key,
           crypto::AeadAlgorithm aead = crypto::AeadAlgorithm::aes_256_gcm)
      : initiator(initiator_key), responder(responder_key) {
    auto [s, i] = create_init(initiator, responder.public_key,
                              mac1_key_from_public(responder.public_key), 0x11111111, kTimestamp,
                              aead);
    state = std::move(s);
    init = i;
    received = consume_init(responder, init);
    REQUIRE(received);
    response = create_response(*received, 0x22222222,
                               mac1_key_from_public(initiator.public_key), responder_keys);
  }
};

// Seals with one key and opens with the other: the keys work as a pair, not just compare equal.
bool keys_interoperate(const std::array<uint8_t, 32>& send, const std::array<uint8_t, 32>& recv) {
  crypto::Aead sealer(crypto::AeadAlgorithm::aes_256_gcm, send);
  crypto::Aead opener(crypto::AeadAlgorithm::aes_256_gcm, recv);
  const std::array<uint8_t, 12> nonce{};
  const std::array<uint8_t, 5> message{1, 2, 3, 4, 5};
  std::array<uint8_t, 5 + 16> sealed{};
  sealer.seal(nonce, {}, message, sealed);
  std::array<uint8_t, 5> opened{};
  auto n = opener.open(nonce, {}, sealed, opened);
  return n && *n == 5 && opened == message;
}

TEST_CASE("tunnel handshake gives initiator and responder matching per-direction keys",
          "[tunnel]") {
  Exchange x;
  REQUIRE(verify_init_mac(x.init, encoded(x.init), mac1_key_from_public(x.responder.public_key)));
  REQUIRE(verify_response_mac(encoded(x.response), mac1_key_from_public(x.initiator.public_key)));
  auto initiator_keys = consume_response(x.state, x.initiator, x.response);
  REQUIRE(initiator_keys);

  CHECK(initiator_keys->send_key == x.responder_keys.recv_key);
  CHECK(initiator_keys->recv_key == x.responder_keys.send_key);
  CHECK(initiator_keys->send_key != initiator_keys->recv_key);
  CHECK(initiator_keys->send_key != std::array<uint8_t, 32>{});
  CHECK(keys_interoperate(initiator_keys->send_key, x.responder_keys.recv_key));
  CHECK(keys_interoperate(x.responder_keys.send_key, initiator_keys->recv_key));
}

TEST_CASE("tunnel handshake delivers the initiator's identity, PathIDs, timestamp and AEAD",
          "[tunnel]") {
  const auto aead = GENERATE(crypto::AeadAlgorithm::aes_256_gcm,
                             crypto::AeadAlgorithm::chacha20_poly1305);
  Exchange x(aead);
  CHECK(x.init.sender_path_id == 0x11111111);
  CHECK(x.received->initiator_path_id == 0x11111111);
  CHECK(x.received->initiator_static == x.initiator.public_key);
  CHECK(x.received->initiator_ephemeral == x.init.ephemeral);
  CHECK(x.received->timestamp_ns == kTimestamp);
  CHECK(x.received->aead == aead);
  CHECK(x.response.sender_path_id == 0x22222222);
  CHECK(x.response.receiver_path_id == 0x11111111);
  // Neither the initiator's static key nor the payload travels in the clear.
  const Bytes wire_init = encoded(x.init);
  const Bytes pub(x.initiator.public_key.begin(), x.initiator.public_key.end());
  CHECK(std::search(wire_init.begin(), wire_init.end(), pub.begin(), pub.end()) ==
        wire_init.end());
}

TEST_CASE("tunnel handshake init for another responder key fails the mac and consume_init",
          "[tunnel]") {
  Exchange x;
  const auto stranger = crypto::x25519_generate();
  CHECK_FALSE(verify_init_mac(x.init, encoded(x.init), mac1_key_from_public(stranger.public_key)));
  CHECK_FALSE(consume_init(stranger, x.init));
}

TEST_CASE("tunnel handshake response fails for an initiator that did not send the init",
          "[tunnel]") {
  Exchange x;
  const auto stranger = crypto::x25519_generate();
  CHECK_FALSE(verify_response_mac(encoded(x.response), mac1_key_from_public(stranger.public_key)));
  CHECK_FALSE(consume_response(x.state, stranger, x.response));
  // A response that belongs to another exchange does not complete this one.
  Exchange other;
  CHECK_FALSE(consume_response(x.state, x.initiator, other.response));
}

TEST_CASE("tunnel handshake rejects an init with any byte changed", "[tunnel]") {
  Exchange x;
  const Bytes good = encoded(x.init);
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes bad = good;
    bad[i] ^= 0x01;
    auto decoded = wire::decode_handshake_init(bad);
    if (!decoded) continue;  // type or reserved bytes: the codec already refuses it
    INFO("byte " << i);
    // mac2 is not covered by mac1: it is checked only under load (CookieChecker).
    CHECK(verify_init_mac(decoded.value(), bad, mac1_key_from_public(x.responder.public_key)) ==
          (i >= wire::kHandshakeInitMac2Offset));
    // Behind the mac, the AEAD and key schedule refuse changes to the covered fields too.
    if (i >= wire::kHandshakeInitEphemeralOffset && i < wire::kHandshakeInitMacOffset) {
      CHECK_FALSE(consume_init(x.responder, decoded.value()));
    }
  }
}

TEST_CASE("tunnel handshake rejects a response with any byte changed", "[tunnel]") {
  Exchange x;
  const Bytes good = encoded(x.response);
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes bad = good;
    bad[i] ^= 0x80;
    auto decoded = wire::decode_handshake_response(bad);
    if (!decoded) continue;
    INFO("byte " << i);
    CHECK_FALSE(verify_response_mac(bad, mac1_key_from_public(x.initiator.public_key)));
    if (i >= wire::kHandshakeResponseEphemeralOffset && i < wire::kHandshakeResponseMacOffset) {
      CHECK_FALSE(consume_response(x.state, x.initiator, decoded.value()));
    }
  }
}

TEST_CASE("tunnel handshake mac check refuses datagrams of the wrong size", "[tunnel]") {
  Exchange x;
  Bytes init = encoded(x.init);
  Bytes response = encoded(x.response);
  init.push_back(0);
  response.push_back(0);
  CHECK_FALSE(verify_init_mac(x.init, init, mac1_key_from_public(x.responder.public_key)));
  CHECK_FALSE(verify_response_mac(response, mac1_key_from_public(x.initiator.public_key)));
  init.resize(wire::kHandshakeInitSize - 1);
  response.resize(wire::kHandshakeResponseSize - 1);
  CHECK_FALSE(verify_init_mac(x.init, init, mac1_key_from_public(x.responder.public_key)));
  CHECK_FALSE(verify_response_mac(response, mac1_key_from_public(x.initiator.public_key)));
}

TEST_CASE("tunnel handshake refuses a low-order ephemeral key", "[tunnel]") {
  Exchange x;
  wire::HandshakeInit bad = x.init;
  bad.ephemeral.fill(0);  // u = 0: every shared secret is zero
  CHECK_FALSE(consume_init(x.responder, bad));
  wire::HandshakeResponse bad_response = x.response;
  bad_response.ephemeral.fill(0);
  CHECK_FALSE(consume_response(x.state, x.initiator, bad_response));
}

TEST_CASE("tunnel handshakes between the same peers give fresh keys each time", "[tunnel]") {
  Exchange first;
  Exchange second(first.initiator, first.responder);
  auto first_keys = consume_response(first.state, first.initiator, first.response);
  auto initiator_keys = consume_response(second.state, second.initiator, second.response);
  REQUIRE(first_keys);
  REQUIRE(initiator_keys);
  const HandshakeKeys& responder_keys = second.responder_keys;
  const auto& init = second.init;
  const auto& response = second.response;

  CHECK(init.ephemeral != first.init.ephemeral);
  CHECK(response.ephemeral != first.response.ephemeral);
  CHECK(initiator_keys->send_key != first_keys->send_key);
  CHECK(initiator_keys->recv_key != first_keys->recv_key);
  CHECK(responder_keys.send_key != first.responder_keys.send_key);
  // Still a matching pair within the second exchange.
  CHECK(initiator_keys->send_key == responder_keys.recv_key);
  CHECK(initiator_keys->recv_key == responder_keys.send_key);
}

}  // namespace
}  // namespace ntm::tunnel
