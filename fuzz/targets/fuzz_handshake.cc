// Fuzz target "handshake": the three handshake messages and the init payload (core/wire), then
// what a responder does with an init that decodes - the mac1 check and the Noise IK consume
// (core/tunnel/handshake) - and what an initiator does with a cookie reply.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "crypto/x25519.h"
#include "fuzz_check.h"
#include "tunnel/cookie.h"
#include "tunnel/handshake.h"
#include "wire/handshake.h"

using namespace ntm;

namespace {

// A fixed responder identity: the seeds (fuzz/make_corpus.cc) hold inits addressed to it, so
// mutations of them reach the AEAD and DH steps.
const crypto::X25519KeyPair& responder() {
  static const crypto::X25519KeyPair pair = [] {
    crypto::X25519KeyPair p;
    p.private_key.fill(0x42);
    p.public_key = crypto::x25519_public_from_private(p.private_key);
    return p;
  }();
  return pair;
}

template <class Message>
std::vector<uint8_t> encoded(const Message& m) {
  std::vector<uint8_t> out(256);
  out.resize(wire::encode(m, out));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);

  if (auto init = wire::decode_handshake_init(in)) {
    fuzz::check_round_trip(*init, in, encoded<wire::HandshakeInit>, "handshake init round trip");
    const tunnel::MacKey key = tunnel::mac1_key_from_public(responder().public_key);
    (void)tunnel::verify_init_mac(*init, in, key);
    if (auto received = tunnel::consume_init(responder(), *init)) {
      tunnel::HandshakeKeys keys;
      const auto response = tunnel::create_response(
          *received, 7, tunnel::mac1_key_from_public(received->initiator_static), keys);
      fuzz::check(response.receiver_path_id == init->sender_path_id, "response answers the init");
    }
  }
  if (auto response = wire::decode_handshake_response(in)) {
    fuzz::check_round_trip(*response, in, encoded<wire::HandshakeResponse>,
                           "handshake response round trip");
    (void)tunnel::verify_response_mac(in, tunnel::mac1_key_from_public(responder().public_key));
  }
  if (auto cookie = wire::decode_cookie_reply(in)) {
    fuzz::check_round_trip(*cookie, in, encoded<wire::CookieReply>, "cookie reply round trip");
    // The seed replies answer an init whose mac1 is zero (fuzz/make_corpus.cc).
    (void)tunnel::open_cookie_reply(*cookie, tunnel::mac1_key_from_public(responder().public_key),
                                    tunnel::Mac{});
  }
  if (auto payload = wire::decode_handshake_payload(in)) {
    std::array<uint8_t, wire::kHandshakePayloadSize> out{};
    wire::encode_handshake_payload(*payload, out);
    fuzz::check(fuzz::same_bytes(out, in), "handshake payload round trip");
  }
  return 0;
}
