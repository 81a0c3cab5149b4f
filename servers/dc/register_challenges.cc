#include "dc/register_challenges.h"

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

RegisterChallenges::RegisterChallenges() : hmac_(random_key()) {
  while (instance_ == 0) instance_ = crypto::random_u64();
}

uint32_t RegisterChallenges::seconds(Clock::time_point now) const {
  return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(now - start_).count());
}

std::array<uint8_t, 16> RegisterChallenges::mac(uint64_t node_id, const Endpoint& e,
                                                uint32_t issued) const {
  std::array<uint8_t, 8 + 1 + 16 + 2 + 8 + 4> msg{};
  wire::store_be64(&msg[0], node_id);
  msg[8] = static_cast<uint8_t>(e.family);
  std::copy(e.address.begin(), e.address.end(), msg.begin() + 9);
  wire::store_be16(&msg[25], e.port);
  wire::store_be64(&msg[27], instance_);
  wire::store_be32(&msg[35], issued);
  const auto full = hmac_.mac(msg);
  std::array<uint8_t, 16> out{};
  std::copy_n(full.begin(), out.size(), out.begin());
  return out;
}

control::Challenge RegisterChallenges::issue(uint64_t node_id, const Endpoint& to,
                                             Clock::time_point now) const {
  const uint32_t issued = seconds(now);
  control::Challenge c{};
  wire::store_be64(&c[0], instance_);
  wire::store_be32(&c[8], issued);
  const auto m = mac(node_id, to, issued);
  std::copy(m.begin(), m.end(), c.begin() + 16);
  return c;
}

bool RegisterChallenges::valid(const control::Challenge& c, uint64_t node_id, const Endpoint& from,
                               Clock::time_point now) const {
  if (wire::load_be64(&c[0]) != instance_ || wire::load_be32(&c[12]) != 0) return false;
  const uint32_t issued = wire::load_be32(&c[8]);
  const uint32_t age = seconds(now) - issued;  // unsigned: a future `issued` is a huge age
  if (age > static_cast<uint32_t>(kLifetime.count())) return false;
  const auto m = mac(node_id, from, issued);
  return crypto::constant_time_equal(m, std::span<const uint8_t>(c).subspan(16));
}

}  // namespace ntm::servers
