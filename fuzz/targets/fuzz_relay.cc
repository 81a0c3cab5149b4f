// Fuzz target "relay": the Relay Server's datagrams (core/control/relay_messages): the 0x30
// relayed header both the RS and a node parse, RelayBind and its ack, and the token check the
// RS runs on every bind.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "control/relay_messages.h"
#include "fuzz_check.h"
#include "fuzz_keys.h"

using namespace ntm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);

  if (auto header = control::decode_relayed_header(in)) {
    const auto payload = control::relayed_payload(in);
    fuzz::check(!payload.empty() && fuzz::within(payload, in), "relayed payload inside the datagram");
    fuzz::check_round_trip(*header, in, [&](const control::RelayedHeader& h) {
      std::array<uint8_t, control::kRelayHeaderSize> head{};
      control::encode_relayed_header(h, head);
      std::vector<uint8_t> out(head.begin(), head.end());
      out.insert(out.end(), payload.begin(), payload.end());
      return out;
    }, "relayed header round trip");
  }
  // RelayBind and RelayBindAck keep no flags (version 1 defines none and the token does not
  // cover them): they round-trip with the flags byte zeroed.
  std::vector<uint8_t> no_flags(in.begin(), in.end());
  if (no_flags.size() > 1) no_flags[1] = 0;
  if (auto bind = control::decode_relay_bind(in)) {
    fuzz::check_round_trip(*bind, no_flags, [](const auto& m) { return control::encode(m); },
                           "relay bind round trip");
    (void)control::verify_relay_bind(fuzz::kDcRsKey, *bind, fuzz::kNowUnix);
  }
  if (auto ack = control::decode_relay_bind_ack(in)) {
    fuzz::check_round_trip(*ack, no_flags, [](const auto& m) { return control::encode(m); },
                           "relay bind ack round trip");
  }
  if (auto challenge = control::decode_relay_challenge(in)) {
    fuzz::check_round_trip(*challenge, no_flags, [](const auto& m) { return control::encode(m); },
                           "relay challenge round trip");
  }
  return 0;
}
