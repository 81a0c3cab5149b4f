// Writes the seed corpora of the fuzz targets with the project's own encoders: one file per kind
// of valid message (plus a few near misses), under <out>/<target>/. Keys are the fixed ones of
// targets/fuzz_keys.h, so mutated seeds get past the first MAC or AEAD check. Ephemeral keys and
// nonces are random: running it again changes the bytes, not the kinds.
//   ntm_fuzz_make_corpus fuzz/corpus
// The config targets' seeds (server_config, cli_config) are hand-written example files and are
// not touched here.
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "control/certificate.h"
#include "control/dc_channel.h"
#include "control/dc_messages.h"
#include "control/login.h"
#include "control/net_probe.h"
#include "control/relay_messages.h"
#include "control/ticket.h"
#include "crypto/ed25519.h"
#include "crypto/x25519.h"
#include "fuzz_keys.h"
#include "tunnel/cookie.h"
#include "tunnel/handshake.h"
#include "wire/capsule.h"
#include "wire/handshake.h"

using namespace ntm;
using Bytes = std::vector<uint8_t>;
namespace fs = std::filesystem;

namespace {

fs::path g_out;

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

crypto::X25519KeyPair fixed_pair(uint8_t fill) {
  crypto::X25519KeyPair p;
  p.private_key.fill(fill);
  p.public_key = crypto::x25519_public_from_private(p.private_key);
  return p;
}

template <class Message>
Bytes encoded(const Message& m) {
  Bytes out(256);
  out.resize(wire::encode(m, out));
  return out;
}

Bytes ipv4_udp(size_t payload) {
  Bytes p(20 + 8 + payload, 0);
  p[0] = 0x45;
  p[2] = static_cast<uint8_t>(p.size() >> 8);
  p[3] = static_cast<uint8_t>(p.size());
  p[8] = 64;
  p[9] = 17;
  const uint8_t addrs[8] = {100, 64, 0, 2, 100, 64, 0, 3};
  std::memcpy(&p[12], addrs, 8);
  return p;
}

Bytes ipv6_udp(size_t payload) {
  Bytes p(40 + 8 + payload, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>((8 + payload) >> 8);
  p[5] = static_cast<uint8_t>(8 + payload);
  p[6] = 17;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = 2;
  p[24] = 0xfd;
  p[39] = 3;
  return p;
}

void wire_seeds() {
  for (size_t n : {size_t{0}, size_t{28}, size_t{60}}) {
    Bytes d(wire::capsule_size(n), 0xab);
    wire::CapsuleHeader h;
    h.receiver_path_id = 7;
    h.counter = 1 + n;
    wire::encode_capsule_header(h, std::span<uint8_t, wire::kCapsuleHeaderSize>(d.data(), wire::kCapsuleHeaderSize));
    write("wire", "capsule-" + std::to_string(n), d);
  }
  write("wire", "inner-ipv4-udp", ipv4_udp(4));
  write("wire", "inner-ipv6-udp", ipv6_udp(4));
  Bytes options = ipv4_udp(0);
  options[0] = 0x46;  // IHL 6: one option word
  options.insert(options.begin() + 20, 4, 0);
  options[3] = static_cast<uint8_t>(options.size());
  write("wire", "inner-ipv4-options", options);
}

// Inner packets for the stack target (fuzz_stack.cc: 100.64.0.2 / fd00::2, TCP 80, UDP 53) and
// the engine target's mode 2 (A = 100.64.0.1 / fd00::1 sends to B = 100.64.0.2 / fd00::2).
Bytes ipv4(uint8_t protocol, const Bytes& l4, uint16_t fragment = 0) {
  Bytes p(20, 0);
  p[0] = 0x45;
  const size_t total = 20 + l4.size();
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total);
  p[4] = 0x12;
  p[6] = static_cast<uint8_t>(fragment >> 8);
  p[7] = static_cast<uint8_t>(fragment);
  p[8] = 64;
  p[9] = protocol;
  const uint8_t addrs[8] = {100, 64, 0, 1, 100, 64, 0, 2};
  std::memcpy(&p[12], addrs, 8);
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

Bytes ipv6(uint8_t next, const Bytes& l4) {
  Bytes p(40, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>(l4.size() >> 8);
  p[5] = static_cast<uint8_t>(l4.size());
  p[6] = next;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = 1;
  p[24] = 0xfd;
  p[39] = 2;
  p.insert(p.end(), l4.begin(), l4.end());
  return p;
}

Bytes tcp_syn(uint16_t port) {
  Bytes t(24, 0);
  t[0] = 0xc3;  // source port 50000
  t[1] = 0x50;
  t[2] = static_cast<uint8_t>(port >> 8);
  t[3] = static_cast<uint8_t>(port);
  t[7] = 1;  // sequence number
  t[12] = 0x60;  // data offset 6 words (one option: MSS)
  t[13] = 0x02;  // SYN
  t[14] = 0xff;  // window
  t[15] = 0xff;
  t[20] = 2;  // MSS option
  t[21] = 4;
  t[22] = 0x05;
  t[23] = 0x00;
  return t;
}

Bytes udp(uint16_t port, size_t payload) {
  Bytes u(8 + payload, 0x61);
  u[0] = 0xc3;
  u[1] = 0x51;
  u[2] = static_cast<uint8_t>(port >> 8);
  u[3] = static_cast<uint8_t>(port);
  u[4] = static_cast<uint8_t>(u.size() >> 8);
  u[5] = static_cast<uint8_t>(u.size());
  u[6] = 0;
  u[7] = 0;
  return u;
}

std::vector<std::pair<std::string, Bytes>> inner_packets() {
  const Bytes echo{8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'};
  const Bytes echo6{128, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'};
  Bytes fragment6{17, 0, 0x00, 0x01, 0, 0, 0, 9};  // next UDP, offset 0, more fragments, id 9
  const Bytes u = udp(53, 16);
  fragment6.insert(fragment6.end(), u.begin(), u.end());
  return {
      {"ipv4-tcp-syn", ipv4(6, tcp_syn(80))},
      {"ipv6-tcp-syn", ipv6(6, tcp_syn(80))},
      {"ipv4-udp", ipv4(17, udp(53, 12))},
      {"ipv6-udp", ipv6(17, udp(53, 12))},
      {"ipv4-icmp-echo", ipv4(1, echo)},
      {"ipv6-icmp-echo", ipv6(58, echo6)},
      {"ipv4-first-fragment", ipv4(17, udp(53, 16), 0x2000)},
      {"ipv6-fragment", ipv6(44, fragment6)},
  };
}

void stack_seeds() {
  for (const auto& [name, packet] : inner_packets()) write("stack", name, packet);
}

void engine_seeds() {
  // Mode 2: inner packets A sends B (the first byte picks the mode, fuzz_engine.cc).
  for (const auto& [name, packet] : inner_packets()) {
    Bytes seed{2};
    seed.insert(seed.end(), packet.begin(), packet.end());
    write("engine", "inner-" + name, seed);
  }
  // Mode 0: an init to B from A (both keys fixed in the target), a data capsule for an unknown
  // path; mode 1: the init again, through a relay.
  const auto a = fixed_pair(0x24);
  const auto b = fixed_pair(0x42);
  auto [state, init] = tunnel::create_init(a, b.public_key, tunnel::mac1_key_from_public(b.public_key),
                                           11, 2'000'000'000, crypto::AeadAlgorithm::aes_256_gcm);
  Bytes seed{0};
  const Bytes init_bytes = encoded(init);
  seed.insert(seed.end(), init_bytes.begin(), init_bytes.end());
  write("engine", "init-to-b", seed);
  Bytes capsule(wire::capsule_size(20), 0x77);
  wire::encode_capsule_header({0, 12345, 1}, std::span<uint8_t, wire::kCapsuleHeaderSize>(capsule.data(), wire::kCapsuleHeaderSize));
  seed = {0};
  seed.insert(seed.end(), capsule.begin(), capsule.end());
  write("engine", "capsule-unknown-path", seed);
  seed = {1};
  seed.insert(seed.end(), init_bytes.begin(), init_bytes.end());
  write("engine", "relayed-init-to-b", seed);
}

void handshake_seeds() {
  const auto initiator = fixed_pair(0x24);
  const auto responder = fixed_pair(0x42);  // fuzz_handshake.cc's responder
  const auto responder_mac1 = tunnel::mac1_key_from_public(responder.public_key);
  for (auto aead : {crypto::AeadAlgorithm::aes_256_gcm, crypto::AeadAlgorithm::chacha20_poly1305}) {
    auto [state, init] =
        tunnel::create_init(initiator, responder.public_key, responder_mac1, 5, 1'000'000, aead);
    const Bytes init_bytes = encoded(init);
    write("handshake", std::string("init-") + (aead == crypto::AeadAlgorithm::aes_256_gcm ? "aes" : "chacha"),
          init_bytes);
    if (aead != crypto::AeadAlgorithm::aes_256_gcm) continue;
    auto received = tunnel::consume_init(responder, init);
    if (!received) throw std::runtime_error("seed init does not verify");
    tunnel::HandshakeKeys keys;
    const auto response = tunnel::create_response(
        *received, 9, tunnel::mac1_key_from_public(initiator.public_key), keys);
    write("handshake", "response", encoded(response));
    tunnel::CookieChecker checker;
    wire::HandshakeInit zero_mac = init;
    zero_mac.mac = {};  // fuzz_handshake.cc opens cookie replies for an init whose mac1 is zero
    const auto reply = checker.make_reply(zero_mac, responder_mac1, Endpoint::v4({127, 0, 0, 1}, 4000),
                                          std::nullopt, tunnel::Clock::now());
    write("handshake", "cookie-reply", encoded(reply));
  }
  std::array<uint8_t, wire::kHandshakePayloadSize> payload{};
  wire::encode_handshake_payload({123456789, wire::AeadAlgorithm::chacha20_poly1305}, payload);
  write("handshake", "payload", Bytes(payload.begin(), payload.end()));
}

void relay_seeds() {
  write("relay", "relayed-capsule", control::encode_relayed(3, Bytes(wire::capsule_size(20), 0x33)));
  const auto token = control::compute_relay_token(fuzz::kDcRsKey, 3, fuzz::kNodeId, fuzz::kNowUnix + 3600);
  const auto bind = control::make_relay_bind(3, fuzz::kNodeId, fuzz::kNowUnix + 3600, token, 1, {});
  write("relay", "bind", control::encode(bind));
  control::RelayBindAck ack;
  ack.relay_id = 3;
  write("relay", "bind-ack", control::encode(ack));
}

control::NodeCertificate certificate() {
  control::NodeCertificate cert;
  cert.node_id = fuzz::kNodeId;
  cert.fqdn = "alice.example";
  cert.static_public = fixed_pair(0x24).public_key;
  cert.virtual_ipv4 = {100, 64, 0, 2};
  cert.virtual_ipv6 = {0xfd, 0x00, 0x6e, 0x74, 0x00, 0x6d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  cert.expires_unix = fuzz::kNowUnix + 86400;
  crypto::Ed25519PrivateKey as_key{};
  as_key.fill(0x77);
  control::sign(cert, as_key);
  return cert;
}

// One plaintext body for fuzz_control.cc's body mode: the selector byte, then the body.
Bytes with_selector(uint8_t pick, const Bytes& body) {
  Bytes out{pick};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

void control_seeds() {
  const std::vector<Endpoint> endpoints{Endpoint::v4({192, 0, 2, 1}, 40000),
                                        Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 40001)};
  control::Register reg;
  reg.private_endpoints = endpoints;
  control::RegisterAck ack;
  ack.virtual_ipv4 = {100, 64, 0, 2};
  ack.observed = endpoints[0];
  ack.keepalive_s = 20;
  ack.relays = {endpoints[1]};
  control::Keepalive keepalive;
  keepalive.private_endpoints = endpoints;
  control::KeepaliveAck keepalive_ack;
  keepalive_ack.observed = endpoints[1];
  const auto resolve_name = control::Resolve::by_name(1, "bob.example");
  const auto resolve_v4 = control::Resolve::by_ipv4(2, {100, 64, 0, 3});
  const auto resolve_v6 = control::Resolve::by_ipv6(3, {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3});
  control::ResolveReply reply;
  reply.request_id = 1;
  reply.node_id = 9;
  reply.fqdn = "bob.example";
  reply.virtual_ipv4 = {100, 64, 0, 3};
  control::Direction direct;
  direct.direction_id = 4;
  direct.peer_certificate = control::encode_certificate(certificate());
  direct.peer_virtual_ipv4 = certificate().virtual_ipv4;
  direct.peer_virtual_ipv6 = certificate().virtual_ipv6;
  direct.peer_mac1_key.fill(0x4d);
  direct.candidates = endpoints;
  control::Direction relayed = direct;
  relayed.mode = control::DirectionMode::relay;
  relayed.relay = endpoints[0];
  relayed.relay_id = 3;
  relayed.relay_expires_unix = fuzz::kNowUnix + 3600;
  control::Direction restricted = direct;  // with an access policy (protocol.md 4.2)
  restricted.access.restricted = true;
  restricted.access.inbound = {{tunnel::kProtocolTcp, 22, 22}};
  restricted.access.outbound = {{tunnel::kProtocolUdp, 5000, 5010}};
  control::PeerAccessNotice peer_access{7, 9, restricted.access};
  control::PeerRevoked peer_revoked{8, 9, "account 'bob' is disabled"};
  control::DirectionAck direction_ack;
  direction_ack.direction_id = 4;
  control::DcError error;
  error.code = control::DcErrorCode::session_expired;
  error.message = "log in again";

  // A node before 0.4 (no protocol version) and an AS before 0.4 (no addresses).
  control::Register reg_v1 = reg;
  reg_v1.version = 1;
  control::NodeCertificate cert_v1 = certificate();
  cert_v1.version = control::kLegacyCertificateVersion;

  // Body mode: selector = type - 0x10 (fuzz_control.cc), 9 certificate, 10 ticket plaintext,
  // 11 PeerRevoked, 12 PeerAccess.
  const std::vector<std::pair<std::string, Bytes>> bodies{
      {"register", with_selector(0, control::encode(reg))},
      {"register-ack", with_selector(1, control::encode(ack))},
      {"keepalive", with_selector(2, control::encode(keepalive))},
      {"keepalive-ack", with_selector(3, control::encode(keepalive_ack))},
      {"resolve-name", with_selector(4, control::encode(resolve_name))},
      {"resolve-v4", with_selector(4, control::encode(resolve_v4))},
      {"resolve-v6", with_selector(4, control::encode(resolve_v6))},
      {"resolve-reply", with_selector(5, control::encode(reply))},
      {"direction-direct", with_selector(6, control::encode(direct))},
      {"direction-relay", with_selector(6, control::encode(relayed))},
      {"direction-restricted", with_selector(6, control::encode(restricted))},
      {"peer-revoked", with_selector(11, control::encode(peer_revoked))},
      {"peer-access", with_selector(12, control::encode(peer_access))},
      {"direction-ack", with_selector(7, control::encode(direction_ack))},
      {"error", with_selector(8, control::encode(error))},
      {"certificate", with_selector(9, control::encode_certificate(certificate()))},
      {"register-v1", with_selector(0, control::encode(reg_v1))},
      {"certificate-v1", with_selector(9, control::encode_certificate(cert_v1))},
  };
  for (const auto& [name, bytes] : bodies) write("control", "body-" + name, bytes);

  control::Ticket ticket;
  ticket.node_id = fuzz::kNodeId;
  ticket.fqdn = "alice.example";
  ticket.static_public = fixed_pair(0x24).public_key;
  ticket.session_key = fuzz::kSessionKey;
  ticket.expires_unix = fuzz::kNowUnix + 86400;
  ticket.certificate = control::encode_certificate(certificate());
  write("control", "body-ticket", with_selector(10, control::encode_ticket_plaintext(ticket)));

  // Datagram mode: sealed envelopes, node -> DC and DC -> node.
  control::DcChannel node(control::DcRole::node, fuzz::kNodeId, fuzz::kSessionKey);
  control::DcChannel dc(control::DcRole::dc, fuzz::kNodeId, fuzz::kSessionKey);
  const Bytes sealed_ticket = control::seal_ticket(fuzz::kTicketKey, ticket);
  using control::MessageType;
  write("control", "dgram-register", node.seal(MessageType::register_node, control::encode(reg), sealed_ticket));
  write("control", "dgram-keepalive", node.seal(MessageType::keepalive, control::encode(keepalive)));
  write("control", "dgram-resolve", node.seal(MessageType::resolve, control::encode(resolve_name)));
  write("control", "dgram-direction-ack", node.seal(MessageType::direction_ack, control::encode(direction_ack)));
  write("control", "dgram-register-ack", dc.seal(MessageType::register_ack, control::encode(ack)));
  write("control", "dgram-keepalive-ack", dc.seal(MessageType::keepalive_ack, control::encode(keepalive_ack)));
  write("control", "dgram-resolve-reply", dc.seal(MessageType::resolve_reply, control::encode(reply)));
  write("control", "dgram-direction", dc.seal(MessageType::direction, control::encode(relayed)));
  write("control", "dgram-error", dc.seal(MessageType::error, control::encode(error)));
  // Reachability probes (unauthenticated): a minimal one, a path-MTU sized one and both replies.
  write("control", "probe-min", control::encode(control::NetProbe{.nonce = 7, .size = control::kNetProbeMinSize}));
  write("control", "probe-1280", control::encode(control::NetProbe{.nonce = 8, .size = 1280}));
  write("control", "probe-reply-v4",
        control::encode(control::NetProbeReply{.nonce = 7, .received_size = 32,
                                               .observed = Endpoint::v4({198, 51, 100, 4}, 40000)}));
  write("control", "probe-reply-v6",
        control::encode(control::NetProbeReply{
            .nonce = 8, .received_size = 1280,
            .observed = Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}, 40000)}));
}

void login_seeds() {
  control::LoginRequest request;
  request.account = "alice";
  request.secret = "correct horse battery staple";
  request.static_public = fixed_pair(0x24).public_key;
  write("login", "request", control::encode_login_request_frame(request));
  control::LoginResponse ok;
  control::LoginGrant grant;
  grant.node_id = fuzz::kNodeId;
  grant.fqdn = "alice.example";
  grant.certificate = control::encode_certificate(certificate());
  grant.dc = {Endpoint::v4({127, 0, 0, 1}, 7801)};
  grant.session_key = fuzz::kSessionKey;
  grant.ticket = Bytes(120, 0x5c);
  grant.expires_unix = fuzz::kNowUnix + 86400;
  ok.grant = grant;
  write("login", "response-ok", control::encode_login_response_frame(ok));
  control::LoginResponse refused;
  refused.status = control::LoginStatus::bad_credentials;
  refused.message = "bad credentials";
  write("login", "response-refused", control::encode_login_response_frame(refused));
}

Bytes dns_query(const std::string& name, uint16_t qtype) {
  Bytes q{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  return q;
}

void dns_seeds() {
  write("dns", "query-a", dns_query("bob.example", 1));
  write("dns", "query-aaaa", dns_query("Bob.Example", 28));
  write("dns", "query-any", dns_query("a.b.c.example", 255));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR   (writes CORPUS_DIR/<target>/...)\n", argv[0]);
    return 2;
  }
  g_out = argv[1];
  wire_seeds();
  handshake_seeds();
  stack_seeds();
  engine_seeds();
  relay_seeds();
  control_seeds();
  login_seeds();
  dns_seeds();
  return 0;
}
