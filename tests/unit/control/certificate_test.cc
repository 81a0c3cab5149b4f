#include <catch2/catch.hpp>

#include "control/certificate.h"
#include "test_util.h"

using namespace ntm;
using namespace ntm::control;
using ntm::wire::DecodeError;

namespace {

NodeCertificate sample(const crypto::Ed25519KeyPair& as) {
  NodeCertificate c;
  c.node_id = 0x1122334455667788;
  c.fqdn = "bob.example";
  c.static_public.fill(0x33);
  c.expires_unix = 2000;
  sign(c, as.private_key);
  return c;
}

}  // namespace

TEST_CASE("certificate has the documented layout and round-trips", "[control]") {
  const auto as = crypto::ed25519_generate();
  const auto c = sample(as);
  const auto bytes = encode_certificate(c);
  CHECK(bytes.size() == 1 + 8 + 2 + 11 + 32 + 8 + 64);
  CHECK(bytes[0] == 1);
  auto d = decode_certificate(bytes);
  REQUIRE(d.ok());
  CHECK(d.value() == c);
}

TEST_CASE("certificate decoder rejects truncation, trailing bytes and other versions",
          "[control]") {
  const auto bytes = encode_certificate(sample(crypto::ed25519_generate()));
  test::check_truncations_and_trailing(bytes, [](auto s) { return decode_certificate(s); });
  auto v2 = bytes;
  v2[0] = 2;
  CHECK(decode_certificate(v2).error() == DecodeError::unknown_type);
}

TEST_CASE("certificate verifies under the AS key until it expires", "[control]") {
  const auto as = crypto::ed25519_generate();
  const auto c = sample(as);
  CHECK(verify(c, as.public_key, 1999));
  CHECK_FALSE(verify(c, as.public_key, 2000));
  CHECK_FALSE(verify(c, crypto::ed25519_generate().public_key, 1000));
}

TEST_CASE("certificate verification fails when any signed field changes", "[control]") {
  const auto as = crypto::ed25519_generate();
  const auto c = sample(as);
  auto m = c;
  m.node_id ^= 1;
  CHECK_FALSE(verify(m, as.public_key, 1000));
  m = c;
  m.fqdn = "eve.example";
  CHECK_FALSE(verify(m, as.public_key, 1000));
  m = c;
  m.static_public[0] ^= 1;
  CHECK_FALSE(verify(m, as.public_key, 1000));
  m = c;
  m.expires_unix += 1;
  CHECK_FALSE(verify(m, as.public_key, 1000));
  m = c;
  m.signature[5] ^= 1;
  CHECK_FALSE(verify(m, as.public_key, 1000));
}
