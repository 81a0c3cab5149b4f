// The DC's registration challenges (docs/protocol.md section 4.1, control/registration.h):
// stateless, like WireGuard's cookies. A challenge names this DC instance (random at start),
// when it was issued (seconds of the instance's monotonic clock) and a MAC, under a secret
// drawn at start, of the node_id and the source endpoint it was issued to:
//
//   challenge = instance u64 | issued_s u32 | reserved u32 | mac[16]
//   mac       = first 16 bytes of HMAC-SHA256(secret, node_id u64 | family u8 | address[16] |
//                                             port u16 | instance u64 | issued_s u32)
//
// A restarted DC has another instance and secret, so nothing issued before the restart is valid.
#pragma once

#include <chrono>
#include <cstdint>

#include "control/dc_messages.h"
#include "crypto/hash.h"

namespace ntm::servers {

class RegisterChallenges {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kLifetime{30};

  RegisterChallenges();  // draws the instance and the secret

  control::Challenge issue(uint64_t node_id, const Endpoint& to, Clock::time_point now) const;
  // True for a challenge this instance issued to `node_id` at `from` within kLifetime.
  bool valid(const control::Challenge& c, uint64_t node_id, const Endpoint& from,
             Clock::time_point now) const;
  uint64_t instance() const { return instance_; }

 private:
  uint32_t seconds(Clock::time_point now) const;
  std::array<uint8_t, 16> mac(uint64_t node_id, const Endpoint& e, uint32_t issued) const;

  uint64_t instance_ = 0;
  crypto::HmacSha256 hmac_;
  Clock::time_point start_ = Clock::now();
};

}  // namespace ntm::servers
