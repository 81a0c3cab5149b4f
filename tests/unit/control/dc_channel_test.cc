#include <catch2/catch.hpp>

#include "control/dc_channel.h"
#include "control/dc_messages.h"
#include "test_util.h"

using namespace ntm;
using namespace ntm::control;
using ntm::wire::DecodeError;

namespace {

Key32 key_of(uint8_t b) {
  Key32 k;
  k.fill(b);
  return k;
}

struct Pair {
  DcChannel node{DcRole::node, 77, key_of(1)};
  DcChannel dc{DcRole::dc, 77, key_of(1)};
};

const Bytes kTicket(60, 0x99);

}  // namespace

TEST_CASE("DC channel: node seals, DC opens, and back", "[control]") {
  Pair p;
  const auto body = encode(Keepalive{{test::ep4(1, 1)}});
  const auto d = p.node.seal(MessageType::keepalive, body);
  REQUIRE(d.size() == kDcHeaderSize + body.size() + kTagSize);
  CHECK(d[0] == 0x12);
  CHECK(wire::load_be64(&d[4]) == 77);
  CHECK(wire::load_be64(&d[12]) == 0);
  auto o = p.dc.open(d);
  REQUIRE(o);
  CHECK(o->type == MessageType::keepalive);
  CHECK(o->plaintext == body);

  const auto ack = encode(KeepaliveAck{test::ep4(1, 1)});
  auto back = p.node.open(p.dc.seal(MessageType::keepalive_ack, ack));
  REQUIRE(back);
  CHECK(back->type == MessageType::keepalive_ack);
  CHECK(back->plaintext == ack);
}

TEST_CASE("DC channel: Register carries the ticket in the clear, authenticated", "[control]") {
  Pair p;
  const auto body = encode(Register{{test::ep6(1, 9)}});
  const auto d = p.node.seal(MessageType::register_node, body, kTicket);
  auto env = decode_dc_envelope(d);
  REQUIRE(env.ok());
  CHECK(std::equal(env->ticket.begin(), env->ticket.end(), kTicket.begin(), kTicket.end()));
  CHECK(env->aad.size() == kDcHeaderSize + 2 + kTicket.size());

  auto tampered = d;
  tampered[kDcHeaderSize + 2 + 5] ^= 1;  // a ticket byte
  CHECK_FALSE(p.dc.open(tampered));
  auto o = p.dc.open(d);
  REQUIRE(o);
  CHECK(o->plaintext == body);
}

TEST_CASE("DC channel drops a replayed datagram", "[control]") {
  Pair p;
  const auto d1 = p.node.seal(MessageType::keepalive, encode(Keepalive{}));
  const auto d2 = p.node.seal(MessageType::keepalive, encode(Keepalive{}));
  REQUIRE(p.dc.open(d2));
  REQUIRE(p.dc.open(d1));  // out of order is fine
  CHECK_FALSE(p.dc.open(d1));
  CHECK_FALSE(p.dc.open(d2));
}

TEST_CASE("DC channel drops forged, misdirected and foreign datagrams", "[control]") {
  Pair p;
  const auto d = p.node.seal(MessageType::resolve, encode(Resolve::by_name(1, "b")));
  for (size_t i = 0; i < d.size(); ++i) {
    auto bad = d;
    bad[i] ^= 0x01;
    INFO("flipped byte " << i);
    CHECK_FALSE(p.dc.open(bad));
  }
  // Another key.
  DcChannel other(DcRole::node, 77, key_of(2));
  CHECK_FALSE(p.dc.open(other.seal(MessageType::keepalive, {})));
  // Another node_id with the same key.
  DcChannel other_id(DcRole::node, 78, key_of(1));
  CHECK_FALSE(p.dc.open(other_id.seal(MessageType::keepalive, {})));
  // A node->DC datagram reflected back at the node.
  CHECK_FALSE(p.node.open(d));
  // A forged failure must not poison the window: the genuine datagram still opens.
  CHECK(p.dc.open(d));
}

TEST_CASE("DC channel refuses to seal types its side does not send and misused tickets",
          "[control]") {
  Pair p;
  CHECK_THROWS_AS(p.node.seal(MessageType::direction, {}), std::invalid_argument);
  CHECK_THROWS_AS(p.dc.seal(MessageType::keepalive, {}), std::invalid_argument);
  CHECK_THROWS_AS(p.node.seal(MessageType::register_node, {}), std::invalid_argument);
  CHECK_THROWS_AS(p.node.seal(MessageType::keepalive, {}, kTicket), std::invalid_argument);
  CHECK_THROWS_AS(p.node.seal(MessageType::login_request, {}), std::invalid_argument);
}

TEST_CASE("DC envelope decoder checks type, size and reserved bits", "[control]") {
  Pair p;
  const auto d = p.node.seal(MessageType::keepalive, encode(Keepalive{}));
  CHECK(decode_dc_envelope({}).error() == DecodeError::truncated);
  CHECK(decode_dc_envelope(std::span<const uint8_t>(d.data(), kDcHeaderSize + kTagSize - 1))
            .error() == DecodeError::truncated);
  auto unknown = d;
  unknown[0] = 0x1d;  // past the sealed DC types (0x1f, a challenge, is not sealed either)
  CHECK(decode_dc_envelope(unknown).error() == DecodeError::unknown_type);
  unknown[0] = 0x03;
  CHECK(decode_dc_envelope(unknown).error() == DecodeError::unknown_type);
  auto reserved = d;
  reserved[3] = 1;
  CHECK(decode_dc_envelope(reserved).error() == DecodeError::bad_field);
  Bytes huge(kMaxDatagramSize + 1, 0);
  huge[0] = 0x12;
  CHECK(decode_dc_envelope(huge).error() == DecodeError::oversized);

  const auto reg = p.node.seal(MessageType::register_node, {}, kTicket);
  // A ticket length that runs past the end.
  CHECK(decode_dc_envelope(std::span<const uint8_t>(reg.data(), reg.size() - 1)).error() ==
        DecodeError::truncated);
  auto long_ticket = reg;
  wire::store_be16(&long_ticket[kDcHeaderSize], 0xffff);
  CHECK(decode_dc_envelope(long_ticket).error() == DecodeError::truncated);
}

TEST_CASE("DC channel counters increase per direction", "[control]") {
  Pair p;
  CHECK(p.node.send_counter() == 0);
  (void)p.node.seal(MessageType::keepalive, {});
  (void)p.node.seal(MessageType::keepalive, {});
  CHECK(p.node.send_counter() == 2);
  CHECK(p.dc.send_counter() == 0);
  CHECK(p.dc.has_key(key_of(1)));
  CHECK_FALSE(p.dc.has_key(key_of(2)));
}
