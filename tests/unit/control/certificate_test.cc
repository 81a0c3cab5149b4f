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
  c.virtual_ipv4 = {100, 64, 0, 7};
  c.virtual_ipv6 = {0xfd, 0x00, 0x6e, 0x74, 0x00, 0x6d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
  c.expires_unix = 2000;
  sign(c, as.private_key);
  return c;
}

}  // namespace

TEST_CASE("certificate has the documented layout and round-trips", "[control]") {
  const auto as = crypto::ed25519_generate();
  const auto c = sample(as);
  const auto bytes = encode_certificate(c);
  CHECK(bytes.size() == 1 + 8 + 2 + 11 + 32 + 4 + 16 + 8 + 64);
  CHECK(bytes[0] == 2);
  CHECK(bytes[1 + 8 + 2 + 11 + 32 + 3] == 7);  // the IPv4 address after the static key
  auto d = decode_certificate(bytes);
  REQUIRE(d.ok());
  CHECK(d.value() == c);
}

TEST_CASE("certificate decoder rejects truncation, trailing bytes and other versions",
          "[control]") {
  const auto bytes = encode_certificate(sample(crypto::ed25519_generate()));
  test::check_truncations_and_trailing(bytes, [](auto s) { return decode_certificate(s); });
  for (uint8_t v : {0, 3, 255}) {
    auto other = bytes;
    other[0] = v;
    CHECK(decode_certificate(other).error() == DecodeError::unknown_type);
  }
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
  m.virtual_ipv4[3] ^= 1;
  CHECK_FALSE(verify(m, as.public_key, 1000));
  m = c;
  m.virtual_ipv6[15] ^= 1;
  CHECK_FALSE(verify(m, as.public_key, 1000));
  m = c;
  m.signature[5] ^= 1;
  CHECK_FALSE(verify(m, as.public_key, 1000));
}

TEST_CASE("a version 1 certificate (an AS before 0.4) decodes without addresses", "[control]") {
  const auto as = crypto::ed25519_generate();
  auto c = sample(as);
  c.version = kLegacyCertificateVersion;
  c.virtual_ipv4 = {};
  c.virtual_ipv6 = {};
  sign(c, as.private_key);
  const auto bytes = encode_certificate(c);
  CHECK(bytes.size() == 1 + 8 + 2 + 11 + 32 + 8 + 64);
  CHECK(bytes[0] == 1);
  auto d = decode_certificate(bytes);
  REQUIRE(d.ok());
  CHECK(d.value() == c);
  test::check_truncations_and_trailing(bytes, [](auto s) { return decode_certificate(s); });
}

TEST_CASE("a Direction's peer is accepted only with a version 2 certificate, signed by the pinned "
          "AS key, unexpired, that certifies the addresses the Direction gives",
          "[control][certificate]") {
  const auto as = crypto::ed25519_generate();
  const auto c = sample(as);
  const auto bytes = encode_certificate(c);
  auto ok = check_directed_peer(bytes, c.virtual_ipv4, c.virtual_ipv6, as.public_key, 1000);
  REQUIRE(ok.cert);
  CHECK(*ok.cert == c);
  CHECK(ok.refusal.empty());

  auto refused = [&](std::span<const uint8_t> cert, const Ipv4Address& v4, const Ipv6Address& v6,
                     const crypto::Ed25519PublicKey& key, uint64_t now) {
    auto r = check_directed_peer(cert, v4, v6, key, now);
    CHECK_FALSE(r.cert);
    CHECK_FALSE(r.refusal.empty());
    return r.refusal;
  };
  // A compromised DC points another node's address at this certificate.
  Ipv4Address other4 = c.virtual_ipv4;
  other4[3] = 9;
  CHECK_THAT(refused(bytes, other4, c.virtual_ipv6, as.public_key, 1000),
             Catch::Contains("100.64.0.9") && Catch::Contains("100.64.0.7"));
  Ipv6Address other6 = c.virtual_ipv6;
  other6[15] = 9;
  CHECK_THAT(refused(bytes, c.virtual_ipv4, other6, as.public_key, 1000),
             Catch::Contains("other than its certificate"));
  // The certificate altered to claim that address: its signature no longer holds.
  auto altered = c;
  altered.virtual_ipv4 = other4;
  CHECK_THAT(refused(encode_certificate(altered), other4, c.virtual_ipv6, as.public_key, 1000),
             Catch::Contains("not signed by our AS"));
  // Forged: signed by another key (a DC making up its own certificates).
  const auto forger = crypto::ed25519_generate();
  auto forged = c;
  forged.virtual_ipv4 = other4;
  sign(forged, forger.private_key);
  CHECK_THAT(refused(encode_certificate(forged), other4, c.virtual_ipv6, as.public_key, 1000),
             Catch::Contains("not signed by our AS"));
  // Expired.
  CHECK_THAT(refused(bytes, c.virtual_ipv4, c.virtual_ipv6, as.public_key, 2000),
             Catch::Contains("expired"));
  // Version 1 (no addresses), even validly signed.
  auto v1 = c;
  v1.version = kLegacyCertificateVersion;
  sign(v1, as.private_key);
  CHECK_THAT(refused(encode_certificate(v1), c.virtual_ipv4, c.virtual_ipv6, as.public_key, 1000),
             Catch::Contains("version 1"));
  // Junk.
  const Bytes junk(10, 0x02);
  CHECK_THAT(refused(junk, c.virtual_ipv4, c.virtual_ipv6, as.public_key, 1000),
             Catch::Contains("malformed"));
}
