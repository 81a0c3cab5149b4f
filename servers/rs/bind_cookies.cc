#include "rs/bind_cookies.h"

#include "crypto/random.h"
#include "crypto/secure.h"
#include "wire/bytes.h"

namespace ntm::servers {

namespace {
control::Key32 random_key() {
  control::Key32 k{};
  crypto::random_bytes(k);
  return k;
}
}  // namespace

BindCookies::BindCookies() : hmac_(random_key()) {}

uint32_t BindCookies::period(Clock::time_point now) const {
  return static_cast<uint32_t>((now - start_) / kPeriod);
}

control::RelayCookie BindCookies::make(const Endpoint& e, uint32_t p) const {
  std::array<uint8_t, 1 + 16 + 2 + 4> msg{};
  msg[0] = static_cast<uint8_t>(e.family);
  std::copy(e.address.begin(), e.address.end(), msg.begin() + 1);
  wire::store_be16(&msg[17], e.port);
  wire::store_be32(&msg[19], p);
  const auto full = hmac_.mac(msg);
  control::RelayCookie c{};
  std::copy_n(full.begin(), c.size(), c.begin());
  return c;
}

control::RelayCookie BindCookies::issue(const Endpoint& to, Clock::time_point now) const {
  return make(to, period(now));
}

bool BindCookies::valid(const control::RelayCookie& cookie, const Endpoint& from,
                        Clock::time_point now) const {
  const uint32_t p = period(now);
  if (crypto::constant_time_equal(make(from, p), cookie)) return true;
  return p > 0 && crypto::constant_time_equal(make(from, p - 1), cookie);
}

}  // namespace ntm::servers
