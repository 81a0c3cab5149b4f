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

// access = restricted u8 | inbound list<port_range> | outbound list<port_range>
void put_ranges(ByteWriter& w, const std::vector<tunnel::PortRange>& ranges) {
  if (ranges.size() > kMaxListSize) throw std::length_error("access: more than 255 port ranges");
  w.u8(static_cast<uint8_t>(ranges.size()));
  for (const auto& r : ranges) {
    if (r.first > r.last) throw std::invalid_argument("access: a port range ends before it starts");
    w.u8(r.protocol);
    w.u16(r.first);
    w.u16(r.last);
  }
}
void put_access(ByteWriter& w, const tunnel::PeerAccess& a) {
  w.u8(a.restricted ? 1 : 0);
  put_ranges(w, a.restricted ? a.inbound : std::vector<tunnel::PortRange>{});
  put_ranges(w, a.restricted ? a.outbound : std::vector<tunnel::PortRange>{});
}
std::vector<tunnel::PortRange> get_ranges(ByteReader& r, bool& bad) {
  std::vector<tunnel::PortRange> out;
  const uint8_t n = r.u8();
  for (uint8_t i = 0; i < n && !r.failed(); ++i) {
    tunnel::PortRange range;
    range.protocol = r.u8();
    range.first = r.u16();
    range.last = r.u16();
    if (r.failed()) break;  // truncated, not malformed
    if (range.first > range.last) bad = true;
    if (range.protocol != tunnel::kProtocolAny && range.protocol != tunnel::kProtocolTcp &&
        range.protocol != tunnel::kProtocolUdp)
      bad = true;
    out.push_back(range);
  }
  return out;
}
tunnel::PeerAccess get_access(ByteReader& r, bool& bad) {
  tunnel::PeerAccess a;
  const uint8_t restricted = r.u8();
  if (restricted > 1) bad = true;
  a.restricted = restricted == 1;
  a.inbound = get_ranges(r, bad);
  a.outbound = get_ranges(r, bad);
  if (!a.restricted && (!a.inbound.empty() || !a.outbound.empty())) bad = true;
  return a;
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
    if (m.version == 0) throw std::invalid_argument("Register: version 0");
    if (m.version >= 2) w.u8(m.version);
  });
}
Decoded<Register> decode_register(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  Register m;
  m.private_endpoints = get_endpoints(r, bad);
  m.challenge = get_array<kChallengeSize>(r);
  // A node before 0.4 sent no version (1); a stated one is 2 or more.
  m.version = 1;
  if (!r.failed() && r.remaining() > 0) {
    m.version = r.u8();
    if (m.version < 2) bad = true;
  }
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
    if (m.failed_relay.valid()) put_endpoint(w, m.failed_relay);
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
  if (!r.failed() && !bad && r.remaining() > 0) {
    // Anything but an endpoint after the request is trailing bytes.
    const uint8_t family = p[p.size() - r.remaining()];
    if (family != 4 && family != 6) return DecodeError::oversized;
    m.failed_relay = get_endpoint(r, bad);
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
    w.bytes(m.peer_mac1_key);
    if (m.access.restricted) put_access(w, m.access);
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
  m.peer_mac1_key = get_array<kKeySize>(r);
  // The access is optional (a DC before 0.4, or no restriction) and always restricted when
  // present: anything else after the token is trailing bytes.
  if (!r.failed() && r.remaining() > 0) {
    if (p[p.size() - r.remaining()] != 1) return DecodeError::oversized;
    m.access = get_access(r, bad);
  }
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

namespace ntm::control {

// ---- PeerAccess / PeerAccessAck ----
Bytes encode(const PeerAccessNotice& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) {
    w.u32(m.notice_id);
    w.u64(m.node_id);
    put_access(w, m.access);
  });
}
Decoded<PeerAccessNotice> decode_peer_access(std::span<const uint8_t> p) {
  ByteReader r(p);
  bool bad = false;
  PeerAccessNotice m;
  m.notice_id = r.u32();
  m.node_id = r.u64();
  m.access = get_access(r, bad);
  return finish(r, bad, std::move(m));
}
Bytes encode(const PeerAccessAck& m) {
  return encode_message(kMaxMessage, [&](ByteWriter& w) { w.u32(m.notice_id); });
}
Decoded<PeerAccessAck> decode_peer_access_ack(std::span<const uint8_t> p) {
  ByteReader r(p);
  PeerAccessAck m;
  m.notice_id = r.u32();
  return finish(r, false, std::move(m));
}

}  // namespace ntm::control
