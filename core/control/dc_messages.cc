#include "control/dc_messages.h"

#include <cstring>

namespace ntm::control {

namespace {

constexpr size_t kMaxMessage = kMaxDatagramSize;

template <class T>
Decoded<T> finish(const ByteReader& r, bool bad, T&& value) {
  if (auto e = finish_decode(r, bad)) return *e;
  return std::forward<T>(value);
}

}  // namespace

Resolve Resolve::by_name(uint32_t request_id, std::string fqdn) {
  Resolve m;
  m.request_id = request_id;
  m.by = ResolveBy::fqdn;
  m.fqdn = std::move(fqdn);
  return m;
}

Resolve Resolve::by_ipv4(uint32_t request_id, const Ipv4Address& a) {
  Resolve m;
  m.request_id = request_id;
  m.by = ResolveBy::virtual_address;
  m.family = Endpoint::Family::v4;
  std::memcpy(m.address.data(), a.data(), 4);
  return m;
}

Resolve Resolve::by_ipv6(uint32_t request_id, const Ipv6Address& a) {
  Resolve m;
  m.request_id = request_id;
  m.by = ResolveBy::virtual_address;
  m.family = Endpoint::Family::v6;
  m.address = a;
  return m;
}

// ---- Register / Keepalive ----
Bytes encode(const Register& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    put_endpoints(w, m.private_endpoints);
    w.bytes(m.challenge);
  });
}
Decoded<Register> decode_register(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  Register m;
  m.private_endpoints = get_endpoints(r, bad);
  m.challenge = get_array<kChallengeSize>(r);
  return finish(r, bad, std::move(m));
}

Bytes encode(const Keepalive& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) { put_endpoints(w, m.private_endpoints); });
}
Decoded<Keepalive> decode_keepalive(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  Keepalive m;
  m.private_endpoints = get_endpoints(r, bad);
  return finish(r, bad, std::move(m));
}

// ---- RegisterAck / KeepaliveAck ----
Bytes encode(const RegisterAck& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    w.bytes(m.virtual_ipv4);
    w.bytes(m.virtual_ipv6);
    put_endpoint(w, m.observed);
    w.u16(m.keepalive_s);
    put_endpoints(w, m.relays);
  });
}
Decoded<RegisterAck> decode_register_ack(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  RegisterAck m;
  m.virtual_ipv4 = get_array<4>(r);
  m.virtual_ipv6 = get_array<16>(r);
  m.observed = get_endpoint(r, bad);
  m.keepalive_s = r.u16();
  m.relays = get_endpoints(r, bad);
  return finish(r, bad, std::move(m));
}

Bytes encode(const KeepaliveAck& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) { put_endpoint(w, m.observed); });
}
Decoded<KeepaliveAck> decode_keepalive_ack(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  KeepaliveAck m;
  m.observed = get_endpoint(r, bad);
  return finish(r, bad, std::move(m));
}

// ---- Resolve / ResolveReply ----
Bytes encode(const Resolve& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    w.u32(m.request_id);
    w.u8(static_cast<uint8_t>(m.by));
    if (m.by == ResolveBy::fqdn) {
      put_str(w, m.fqdn);
    } else if (m.family == Endpoint::Family::v4) {
      w.u8(4);
      w.bytes(std::span<const uint8_t>(m.address.data(), 4));
    } else if (m.family == Endpoint::Family::v6) {
      w.u8(6);
      w.bytes(m.address);
    } else {
      throw std::invalid_argument("Resolve by virtual address without an address family");
    }
  });
}
Decoded<Resolve> decode_resolve(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  Resolve m;
  m.request_id = r.u32();
  const uint8_t by = r.u8();
  if (by == static_cast<uint8_t>(ResolveBy::fqdn)) {
    m.by = ResolveBy::fqdn;
    m.fqdn = get_str(r);
  } else if (by == static_cast<uint8_t>(ResolveBy::virtual_address)) {
    m.by = ResolveBy::virtual_address;
    const uint8_t family = r.u8();
    if (family == 4) {
      m.family = Endpoint::Family::v4;
      r.read_into(std::span<uint8_t>(m.address.data(), 4));
    } else if (family == 6) {
      m.family = Endpoint::Family::v6;
      r.read_into(m.address);
    } else if (!r.failed()) {
      bad = true;
    }
  } else if (!r.failed()) {
    bad = true;
  }
  return finish(r, bad, std::move(m));
}

Bytes encode(const ResolveReply& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    w.u32(m.request_id);
    w.u8(static_cast<uint8_t>(m.status));
    w.u64(m.node_id);
    put_str(w, m.fqdn);
    w.bytes(m.virtual_ipv4);
    w.bytes(m.virtual_ipv6);
  });
}
Decoded<ResolveReply> decode_resolve_reply(std::span<const uint8_t> p) {
  ByteReader r(p);
  ResolveReply m;
  m.request_id = r.u32();
  const uint8_t status = r.u8();
  const bool bad = status > kMaxResolveStatus;
  m.status = static_cast<ResolveStatus>(status);
  m.node_id = r.u64();
  m.fqdn = get_str(r);
  m.virtual_ipv4 = get_array<4>(r);
  m.virtual_ipv6 = get_array<16>(r);
  return finish(r, bad, std::move(m));
}

// ---- Direction / DirectionAck ----
Bytes encode(const Direction& m) {
  if (m.mode == DirectionMode::relay && !m.relay.valid())
    throw std::invalid_argument("Direction: relay mode without a relay endpoint");
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    w.u32(m.direction_id);
    put_bytes(w, m.peer_certificate);
    w.bytes(m.peer_virtual_ipv4);
    w.bytes(m.peer_virtual_ipv6);
    put_endpoints(w, m.candidates);
    w.u8(static_cast<uint8_t>(m.mode));
    put_optional_endpoint(w, m.relay);
    w.u32(m.relay_id);
    w.u64(m.relay_expires_unix);
    w.bytes(m.relay_token);
  });
}
Decoded<Direction> decode_direction(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  Direction m;
  m.direction_id = r.u32();
  m.peer_certificate = get_bytes(r);
  m.peer_virtual_ipv4 = get_array<4>(r);
  m.peer_virtual_ipv6 = get_array<16>(r);
  m.candidates = get_endpoints(r, bad);
  const uint8_t mode = r.u8();
  if (mode > static_cast<uint8_t>(DirectionMode::relay)) bad = true;
  m.mode = static_cast<DirectionMode>(mode);
  m.relay = get_optional_endpoint(r, bad);
  m.relay_id = r.u32();
  m.relay_expires_unix = r.u64();
  m.relay_token = get_array<kRelayTokenSize>(r);
  if (!r.failed() && m.mode == DirectionMode::relay && !m.relay.valid()) bad = true;
  return finish(r, bad, std::move(m));
}

Bytes encode(const DirectionAck& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) { w.u32(m.direction_id); });
}
Decoded<DirectionAck> decode_direction_ack(std::span<const uint8_t> p) {
  ByteReader r(p);
  DirectionAck m;
  m.direction_id = r.u32();
  return finish(r, false, std::move(m));
}

// ---- Error ----
Bytes encode(const DcError& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    w.u8(static_cast<uint8_t>(m.code));
    put_str(w, m.message);
  });
}
Decoded<DcError> decode_dc_error(std::span<const uint8_t> p) {
  ByteReader r(p);
  DcError m;
  const uint8_t code = r.u8();
  const bool bad = !r.failed() && (code == 0 || code > kMaxDcErrorCode);
  m.code = static_cast<DcErrorCode>(code);
  m.message = get_str(r);
  return finish(r, bad, std::move(m));
}

// ---- PeerRevoked / PeerRevokedAck ----
Bytes encode(const PeerRevoked& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    w.u32(m.notice_id);
    w.u64(m.node_id);
    put_str(w, m.reason);
  });
}
Decoded<PeerRevoked> decode_peer_revoked(std::span<const uint8_t> p) {
  ByteReader r(p);
  PeerRevoked m;
  m.notice_id = r.u32();
  m.node_id = r.u64();
  m.reason = get_str(r);
  return finish(r, false, std::move(m));
}

Bytes encode(const PeerRevokedAck& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) { w.u32(m.notice_id); });
}
Decoded<PeerRevokedAck> decode_peer_revoked_ack(std::span<const uint8_t> p) {
  ByteReader r(p);
  PeerRevokedAck m;
  m.notice_id = r.u32();
  return finish(r, false, std::move(m));
}

}  // namespace ntm::control
