// Field helpers shared by the control-plane codecs, over wire::ByteReader / wire::ByteWriter:
//   str       u16 length | UTF-8 bytes
//   bytes     u16 length | bytes
//   endpoint  family u8 (4 or 6) | address[4 or 16] | port u16
//   list<T>   u8 count | T...
// Writers throw std::length_error for a field too long for its length prefix (a caller bug);
// the ByteWriter's own overflow is reported by the encode_message() wrapper. Readers never
// throw: they set `ok = false` (or leave the reader failed) and the decoder returns an error.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "control/constants.h"
#include "util/endpoint.h"
#include "wire/bytes.h"
#include "wire/decoded.h"

namespace ntm::control {

using wire::ByteReader;
using wire::ByteWriter;
using wire::Decoded;
using wire::DecodeError;

using Bytes = std::vector<uint8_t>;
using Key32 = std::array<uint8_t, kKeySize>;
using Ipv4Address = std::array<uint8_t, 4>;
using Ipv6Address = std::array<uint8_t, 16>;

// ---- writers ----
inline void put_bytes(ByteWriter& w, std::span<const uint8_t> v) {
  if (v.size() > kMaxStrSize) throw std::length_error("control codec: bytes field over 65535");
  w.u16(static_cast<uint16_t>(v.size()));
  w.bytes(v);
}
inline void put_str(ByteWriter& w, std::string_view s) {
  put_bytes(w, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}
// Throws std::invalid_argument for an endpoint without a family.
inline void put_endpoint(ByteWriter& w, const Endpoint& e) {
  if (e.is_v4()) {
    w.u8(4);
    w.bytes(std::span<const uint8_t>(e.address.data(), 4));
  } else if (e.is_v6()) {
    w.u8(6);
    w.bytes(e.address);
  } else {
    throw std::invalid_argument("control codec: endpoint without an address family");
  }
  w.u16(e.port);
}
// An optional endpoint: family 0 alone means "none" (used only where docs/protocol.md says so).
inline void put_optional_endpoint(ByteWriter& w, const Endpoint& e) {
  if (!e.valid()) {
    w.u8(0);
    return;
  }
  put_endpoint(w, e);
}
template <class T, class Fn>
void put_list(ByteWriter& w, const std::vector<T>& items, Fn&& put_one) {
  if (items.size() > kMaxListSize) throw std::length_error("control codec: list over 255 items");
  w.u8(static_cast<uint8_t>(items.size()));
  for (const auto& item : items) put_one(w, item);
}
inline void put_endpoints(ByteWriter& w, const std::vector<Endpoint>& v) {
  put_list(w, v, [](ByteWriter& ww, const Endpoint& e) { put_endpoint(ww, e); });
}

// Runs `fn` over a ByteWriter into a buffer of `max_size` bytes and returns what it wrote.
// Throws std::length_error if the message does not fit.
template <class Fn>
Bytes encode_message(size_t max_size, Fn&& fn) {
  Bytes out(max_size);
  ByteWriter w(out);
  fn(w);
  if (w.failed()) throw std::length_error("control codec: message too large");
  out.resize(w.written());
  return out;
}

// ---- readers ----
inline std::span<const uint8_t> get_bytes_view(ByteReader& r) noexcept {
  const uint16_t n = r.u16();
  return r.bytes(n);
}
inline Bytes get_bytes(ByteReader& r) {
  auto v = get_bytes_view(r);
  return Bytes(v.begin(), v.end());
}
inline std::string get_str(ByteReader& r) {
  auto v = get_bytes_view(r);
  return std::string(reinterpret_cast<const char*>(v.data()), v.size());
}
// Reads an endpoint. A family other than 4 or 6 sets `bad` (the reader itself stays usable).
inline Endpoint get_endpoint(ByteReader& r, bool& bad) noexcept {
  Endpoint e;
  const uint8_t family = r.u8();
  if (r.failed()) return e;
  if (family == 4) {
    e.family = Endpoint::Family::v4;
    r.read_into(std::span<uint8_t>(e.address.data(), 4));
  } else if (family == 6) {
    e.family = Endpoint::Family::v6;
    r.read_into(e.address);
  } else {
    bad = true;
    return e;
  }
  e.port = r.u16();
  return e;
}
// family 0 -> an invalid (none) Endpoint.
inline Endpoint get_optional_endpoint(ByteReader& r, bool& bad) noexcept {
  ByteReader peek = r;
  if (peek.u8() == 0 && !peek.failed()) {
    r.skip(1);
    return Endpoint{};
  }
  return get_endpoint(r, bad);
}
inline std::vector<Endpoint> get_endpoints(ByteReader& r, bool& bad) {
  const uint8_t n = r.u8();
  std::vector<Endpoint> v;
  v.reserve(n);
  for (uint8_t i = 0; i < n && !r.failed() && !bad; ++i) v.push_back(get_endpoint(r, bad));
  return v;
}
template <size_t N>
std::array<uint8_t, N> get_array(ByteReader& r) noexcept {
  std::array<uint8_t, N> a{};
  r.read_into(a);
  return a;
}

// The common tail of every decoder: bad_field if a field that was read whole holds a forbidden
// value (decoding then no longer makes sense), truncated if the reader ran out, oversized if
// bytes are left over.
inline std::optional<DecodeError> finish_decode(const ByteReader& r, bool bad) noexcept {
  if (bad) return DecodeError::bad_field;
  if (r.failed()) return DecodeError::truncated;
  if (r.remaining() != 0) return DecodeError::oversized;
  return std::nullopt;
}

}  // namespace ntm::control
