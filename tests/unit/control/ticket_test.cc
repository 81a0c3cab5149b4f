#include <catch2/catch.hpp>

#include "control/ticket.h"
#include "crypto/random.h"
#include "test_util.h"

using namespace ntm;
using namespace ntm::control;
using ntm::wire::DecodeError;

namespace {

Ticket sample() {
  Ticket t;
  t.node_id = 42;
  t.fqdn = "carol.example";
  t.static_public.fill(1);
  t.session_key.fill(2);
  t.expires_unix = 123456789;
  t.certificate = Bytes(130, 0x21);
  return t;
}

Key32 random_key() {
  Key32 k;
  crypto::random_bytes(k);
  return k;
}

}  // namespace

TEST_CASE("ticket seals and opens with the ticket key", "[control]") {
  const auto key = random_key();
  const auto sealed = seal_ticket(key, sample());
  CHECK(sealed.size() == 12 + encode_ticket_plaintext(sample()).size() + 16);
  auto t = open_ticket(key, sealed);
  REQUIRE(t);
  CHECK(*t == sample());
}

TEST_CASE("two seals of one ticket differ (fresh nonce)", "[control]") {
  const auto key = random_key();
  CHECK(seal_ticket(key, sample()) != seal_ticket(key, sample()));
}

TEST_CASE("ticket does not open with another key or after tampering", "[control]") {
  const auto key = random_key();
  const auto sealed = seal_ticket(key, sample());
  CHECK_FALSE(open_ticket(random_key(), sealed));
  for (size_t i = 0; i < sealed.size(); i += 7) {
    auto bad = sealed;
    bad[i] ^= 0x80;
    CHECK_FALSE(open_ticket(key, bad));
  }
  CHECK_FALSE(open_ticket(key, std::span<const uint8_t>(sealed.data(), 27)));
  CHECK_FALSE(open_ticket(key, {}));
}

TEST_CASE("ticket plaintext decoder rejects truncation and trailing bytes", "[control]") {
  test::check_truncations_and_trailing(encode_ticket_plaintext(sample()),
                                       [](auto s) { return decode_ticket_plaintext(s); });
}
