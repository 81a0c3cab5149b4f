#include <catch2/catch.hpp>

#include "control/net_probe.h"

using namespace ntm;
using namespace ntm::control;
using ntm::wire::DecodeError;

TEST_CASE("net probe has the documented layout, padding included, and round-trips", "[control]") {
  const auto d = encode(NetProbe{0x0102030405060708, 100});
  REQUIRE(d.size() == 100);
  CHECK(d[0] == 0x40);
  CHECK(d[1] == 0);
  CHECK(wire::load_be64(&d[4]) == 0x0102030405060708);
  auto m = decode_net_probe(d);
  REQUIRE(m.ok());
  CHECK(m->nonce == 0x0102030405060708);
  CHECK(m->size == 100);
  CHECK_THROWS_AS(encode(NetProbe{1, kNetProbeMinSize - 1}), std::length_error);
}

TEST_CASE("net probe rejects short probes, non-zero reserved bytes and padding", "[control]") {
  const auto d = encode(NetProbe{7, kNetProbeMinSize});
  for (size_t n = 0; n < d.size(); ++n)
    CHECK(decode_net_probe(std::span<const uint8_t>(d.data(), n)).error() == DecodeError::truncated);
  auto t = d;
  t[0] = 0x41;
  CHECK(decode_net_probe(t).error() == DecodeError::unknown_type);
  t = d;
  t[2] = 1;
  CHECK(decode_net_probe(t).error() == DecodeError::bad_field);
  t = d;
  t.back() = 1;  // padding must be zeros: a probe carries nothing the server could reflect
  CHECK(decode_net_probe(t).error() == DecodeError::bad_field);
}

TEST_CASE("net probe reply carries the observed endpoint and is never larger than the probe",
          "[control]") {
  const Endpoint from6 = *Endpoint::parse("[2001:db8::1]:40000");
  const auto probe = encode(NetProbe{99, kNetProbeMinSize});
  auto reply = answer_net_probe(probe, from6);
  REQUIRE(reply);
  CHECK(reply->size() <= probe.size());  // no amplification, even for the longest (IPv6) reply
  auto r = decode_net_probe_reply(*reply);
  REQUIRE(r.ok());
  CHECK(r->nonce == 99);
  CHECK(r->received_size == kNetProbeMinSize);
  CHECK(r->observed == from6);

  const Endpoint from4 = *Endpoint::parse("192.0.2.7:5");
  auto r4 = decode_net_probe_reply(*answer_net_probe(encode(NetProbe{1, 1400}), from4));
  REQUIRE(r4.ok());
  CHECK(r4->received_size == 1400);
  CHECK(r4->observed == from4);
}

TEST_CASE("net probe: junk gets no answer, a bad reply is rejected", "[control]") {
  const Endpoint from = *Endpoint::parse("192.0.2.7:5");
  CHECK_FALSE(answer_net_probe(Bytes{0x40, 0, 0, 0}, from));
  CHECK_FALSE(answer_net_probe(Bytes(64, 0x10), from));
  auto reply = encode(NetProbeReply{1, 32, from});
  for (size_t n = 0; n < reply.size(); ++n)
    CHECK_FALSE(decode_net_probe_reply(std::span<const uint8_t>(reply.data(), n)).ok());
  auto t = reply;
  t[12] = 5;  // endpoint family
  CHECK(decode_net_probe_reply(t).error() == DecodeError::bad_field);
  t = reply;
  t.push_back(0);
  CHECK(decode_net_probe_reply(t).error() == DecodeError::oversized);
}
