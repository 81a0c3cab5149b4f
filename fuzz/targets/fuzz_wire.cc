// Fuzz target "wire": what a node does first with any UDP datagram (peek_type), the data capsule
// header, and the inner IP packet parser that routes decrypted packets (core/wire).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz_check.h"
#include "wire/capsule.h"
#include "wire/ip_packet.h"
#include "wire/message.h"

using namespace ntm;

namespace {
bool within_all(const wire::Decoded<wire::CapsuleView>& c, std::span<const uint8_t> in) {
  return fuzz::within(c->aad, in) && fuzz::within(c->ciphertext, in) && fuzz::within(c->tag, in);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);

  if (auto type = wire::peek_type(in)) {
    fuzz::check(!in.empty() && in[0] == static_cast<uint8_t>(*type), "peek_type reads byte 0");
  }

  if (auto capsule = wire::decode_capsule(in)) {
    fuzz::check(capsule->aad.size() == wire::kCapsuleHeaderSize && within_all(capsule, in),
                "capsule views inside the datagram");
    fuzz::check(capsule->aad.size() + capsule->ciphertext.size() + capsule->tag.size() == in.size(),
                "capsule parts add up to the datagram");
    std::array<uint8_t, wire::kCapsuleHeaderSize> header{};
    wire::encode_capsule_header(capsule->header, header);
    fuzz::check(fuzz::same_bytes(header, in.first(wire::kCapsuleHeaderSize)),
                "capsule header round trip");
    (void)wire::capsule_nonce(capsule->header.counter);
  }

  if (auto inner = wire::parse_inner_addresses(in)) {
    fuzz::check(inner->version == 4 || inner->version == 6, "inner version is 4 or 6");
    fuzz::check(inner->length <= in.size(), "inner length within the packet");
  }
  return 0;
}
