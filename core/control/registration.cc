#include "control/registration.h"

#include "crypto/hkdf.h"

namespace ntm::control {

namespace {
constexpr char kRegistrationInfo[] = "ntmobile dc registration v1";
constexpr char kMac1Info[] = "ntmobile mac1 v1";
}

Bytes encode(const RegisterChallenge& m) {
  return encode_message(kRegisterChallengeSize, [&](ByteWriter& w) {
    w.u8(static_cast<uint8_t>(MessageType::register_challenge));
    w.u8(0);
    w.u16(0);
    w.u64(m.node_id);
    w.bytes(m.challenge);
  });
}

Decoded<RegisterChallenge> decode_register_challenge(std::span<const uint8_t> d) noexcept {
  if (d.empty()) return DecodeError::truncated;
  if (d[0] != static_cast<uint8_t>(MessageType::register_challenge))
    return DecodeError::unknown_type;
  if (d.size() < kRegisterChallengeSize) return DecodeError::truncated;
  if (d.size() > kRegisterChallengeSize) return DecodeError::oversized;
  ByteReader r(d);
  r.skip(1);
  const uint8_t flags = r.u8();
  const uint16_t reserved = r.u16();
  RegisterChallenge m;
  m.node_id = r.u64();
  r.read_into(m.challenge);
  if (flags != 0 || reserved != 0) return DecodeError::bad_field;
  return m;
}

Key32 registration_key(std::span<const uint8_t, kKeySize> session_key, const Challenge& challenge,
                       uint64_t register_counter) {
  std::array<uint8_t, sizeof(kRegistrationInfo) - 1 + 8> info{};
  std::copy_n(kRegistrationInfo, sizeof(kRegistrationInfo) - 1, info.begin());
  wire::store_be64(&info[sizeof(kRegistrationInfo) - 1], register_counter);
  Key32 key{};
  crypto::hkdf_sha256(challenge, session_key, info, key);
  return key;
}

Key32 node_mac1_key(std::span<const uint8_t, kKeySize> session_key, uint64_t node_id) {
  std::array<uint8_t, sizeof(kMac1Info) - 1 + 8> info{};
  std::copy_n(kMac1Info, sizeof(kMac1Info) - 1, info.begin());
  wire::store_be64(&info[sizeof(kMac1Info) - 1], node_id);
  Key32 key{};
  crypto::hkdf_sha256(std::span<const uint8_t>(), session_key, info, key);
  return key;
}

}  // namespace ntm::control
