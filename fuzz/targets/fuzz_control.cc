// Fuzz target "control": the node <-> DC control plane (core/control). Every input is tried two
// ways:
//  - as a whole datagram, the way the DC and a node take it: the envelope, the Register ticket
//    opened with the DC's ticket key, the sealed body opened by a DcChannel of each role (the
//    seeds are sealed with the fixed keys below, so mutations reach the AEAD and the bodies);
//  - as a reachability probe (NetProbe / NetProbeReply, unauthenticated, answered by every UDP
//    server): a reply must never be larger than the probe it answers (no amplification);
//  - as one plaintext body: the first byte picks the decoder (the nine DC messages, the node
//    certificate a Direction carries, the ticket plaintext), the rest is the body.
// Whatever decodes must re-encode to the same bytes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "control/certificate.h"
#include "control/dc_channel.h"
#include "control/dc_messages.h"
#include "control/net_probe.h"
#include "control/ticket.h"
#include "fuzz_check.h"
#include "fuzz_keys.h"

using namespace ntm;
using control::MessageType;

namespace {

template <class Decode>
void body_round_trip(Decode&& decode, std::span<const uint8_t> body, const char* what) {
  if (auto m = decode(body)) {
    fuzz::check_round_trip(*m, body, [](const auto& v) { return control::encode(v); }, what);
  }
}

void decode_body(MessageType type, std::span<const uint8_t> body) {
  switch (type) {
    case MessageType::register_node:
      return body_round_trip(control::decode_register, body, "Register round trip");
    case MessageType::register_ack:
      return body_round_trip(control::decode_register_ack, body, "RegisterAck round trip");
    case MessageType::keepalive:
      return body_round_trip(control::decode_keepalive, body, "Keepalive round trip");
    case MessageType::keepalive_ack:
      return body_round_trip(control::decode_keepalive_ack, body, "KeepaliveAck round trip");
    case MessageType::resolve:
      return body_round_trip(control::decode_resolve, body, "Resolve round trip");
    case MessageType::resolve_reply:
      return body_round_trip(control::decode_resolve_reply, body, "ResolveReply round trip");
    case MessageType::direction:
      if (auto d = control::decode_direction(body)) {
        fuzz::check_round_trip(*d, body, [](const auto& v) { return control::encode(v); },
                               "Direction round trip");
        // What a node does with it: the peer check, under the AS key the seeds are signed with
        // (make_corpus.cc), so seeds reach the address comparison.
        static const crypto::Ed25519PublicKey as_public = [] {
          crypto::Ed25519PrivateKey k{};
          k.fill(0x77);
          return crypto::ed25519_public_from_private(k);
        }();
        (void)control::check_directed_peer(d->peer_certificate, d->peer_virtual_ipv4,
                                           d->peer_virtual_ipv6, as_public, fuzz::kNowUnix);
      }
      return;
    case MessageType::direction_ack:
      return body_round_trip(control::decode_direction_ack, body, "DirectionAck round trip");
    case MessageType::error:
      return body_round_trip(control::decode_dc_error, body, "DcError round trip");
    case MessageType::peer_revoked:
      return body_round_trip(control::decode_peer_revoked, body, "PeerRevoked round trip");
    case MessageType::peer_access:
      return body_round_trip(control::decode_peer_access, body, "PeerAccess round trip");
    default:
      return;
  }
}

void as_datagram(std::span<const uint8_t> in) {
  auto envelope = control::decode_dc_envelope(in);
  if (!envelope) return;
  fuzz::check(fuzz::within(envelope->aad, in) && fuzz::within(envelope->sealed, in) &&
                  fuzz::within(envelope->ticket, in),
              "envelope views inside the datagram");
  // The DC: a Register carries the ticket that holds the session key.
  uint64_t node_id = fuzz::kNodeId;
  std::array<uint8_t, control::kKeySize> session_key = fuzz::kSessionKey;
  if (envelope->type == MessageType::register_node) {
    auto ticket = control::open_ticket(fuzz::kTicketKey, envelope->ticket);
    if (!ticket) return;
    node_id = ticket->node_id;
    session_key = ticket->session_key;
  }
  for (auto role : {control::DcRole::dc, control::DcRole::node}) {
    control::DcChannel channel(role, node_id, session_key);
    if (auto opened = channel.open(in)) decode_body(opened->type, opened->plaintext);
  }
}

void as_net_probe(std::span<const uint8_t> in) {
  if (auto probe = control::decode_net_probe(in)) {
    fuzz::check_round_trip(*probe, in, [](const auto& v) { return control::encode(v); },
                           "NetProbe round trip");
  }
  if (auto reply = control::decode_net_probe_reply(in)) {
    fuzz::check_round_trip(*reply, in, [](const auto& v) { return control::encode(v); },
                           "NetProbeReply round trip");
  }
  for (const auto& from : {Endpoint::v4({192, 0, 2, 7}, 40000),
                           Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7},
                                        40000)}) {
    if (auto answer = control::answer_net_probe(in, from)) {
      fuzz::check(answer->size() <= in.size(), "a probe's reply is never larger than the probe");
      fuzz::check(control::decode_net_probe_reply(*answer).ok(), "the reply decodes");
    }
  }
}

void as_body(std::span<const uint8_t> in) {
  if (in.empty()) return;
  const auto body = in.subspan(1);
  const uint8_t pick = in[0] % 13;
  if (pick < 9) return decode_body(static_cast<MessageType>(0x10 + pick), body);
  if (pick == 11) return decode_body(MessageType::peer_revoked, body);
  if (pick == 12) return decode_body(MessageType::peer_access, body);
  if (pick == 9) {
    if (auto cert = control::decode_certificate(body)) {
      fuzz::check_round_trip(*cert, body, control::encode_certificate, "certificate round trip");
    }
    return;
  }
  if (auto ticket = control::decode_ticket_plaintext(body)) {
    fuzz::check_round_trip(*ticket, body, control::encode_ticket_plaintext, "ticket round trip");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  as_datagram(in);
  as_net_probe(in);
  as_body(in);
  return 0;
}
