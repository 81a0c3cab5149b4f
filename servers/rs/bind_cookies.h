// The RS's bind cookies (docs/protocol.md section 5): stateless proof that a RelayBind comes from
// the address it claims, as WireGuard's cookies. A cookie is a MAC of the source endpoint and a
// one-minute period under a secret drawn at start; it is valid in its period and the next one,
// and never after a restart.
//
//   cookie = first 16 bytes of HMAC-SHA256(secret, family u8 | address[16] | port u16 | period u32)
#pragma once

#include <chrono>

#include "control/relay_messages.h"
#include "crypto/hash.h"

namespace ntm::servers {

class BindCookies {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kPeriod{60};

  BindCookies();  // draws the secret
  control::RelayCookie issue(const Endpoint& to, Clock::time_point now) const;
  bool valid(const control::RelayCookie& cookie, const Endpoint& from, Clock::time_point now) const;

 private:
  uint32_t period(Clock::time_point now) const;
  control::RelayCookie make(const Endpoint& e, uint32_t period) const;

  crypto::HmacSha256 hmac_;
  Clock::time_point start_ = Clock::now();
};

}  // namespace ntm::servers
