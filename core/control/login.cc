#include "control/login.h"

namespace ntm::control {

Bytes encode_frame(MessageType type, std::span<const uint8_t> body) {
  if (body.size() + 1 > kMaxFrameSize) throw std::length_error("login frame too large");
  Bytes out(kFrameLengthSize + 1 + body.size());
  ByteWriter w(out);
  w.u32(static_cast<uint32_t>(body.size() + 1));
  w.u8(static_cast<uint8_t>(type));
  w.bytes(body);
  return out;
}

Decoded<uint32_t> decode_frame_length(std::span<const uint8_t> first_bytes) noexcept {
  if (first_bytes.size() < kFrameLengthSize) return DecodeError::truncated;
  const uint32_t length = wire::load_be32(first_bytes.data());
  if (length == 0) return DecodeError::bad_field;
  if (length > kMaxFrameSize) return DecodeError::oversized;
  return length;
}

Decoded<FrameView> decode_frame(std::span<const uint8_t> frame) noexcept {
  auto length = decode_frame_length(frame);
  if (!length) return length.error();
  const size_t have = frame.size() - kFrameLengthSize;
  if (have < *length) return DecodeError::truncated;
  if (have > *length) return DecodeError::oversized;
  const uint8_t type = frame[kFrameLengthSize];
  if (type != static_cast<uint8_t>(MessageType::login_request) &&
      type != static_cast<uint8_t>(MessageType::login_response)) {
    return DecodeError::unknown_type;
  }
  return FrameView{static_cast<MessageType>(type), frame.subspan(kFrameLengthSize + 1)};
}

Bytes encode_login_request(const LoginRequest& request) {
  return encode_message(kMaxFrameSize, [&](ByteWriter& w) {
    put_str(w, request.account);
    put_str(w, request.secret);
    w.bytes(request.static_public);
  });
}

Decoded<LoginRequest> decode_login_request(std::span<const uint8_t> body) {
  ByteReader r(body);
  LoginRequest q;
  q.account = get_str(r);
  q.secret = get_str(r);
  q.static_public = get_array<kPublicKeySize>(r);
  if (auto e = finish_decode(r, false)) return *e;
  return q;
}

Bytes encode_login_response(const LoginResponse& response) {
  const bool ok = response.status == LoginStatus::ok;
  if (ok != response.grant.has_value())
    throw std::invalid_argument("LoginResponse: a grant goes with status ok, and only with it");
  return encode_message(kMaxFrameSize, [&](ByteWriter& w) {
    w.u8(static_cast<uint8_t>(response.status));
    put_str(w, response.message);
    if (response.status == LoginStatus::busy) w.u32(response.retry_after_ms);
    if (!ok) return;
    const LoginGrant& g = *response.grant;
    w.u64(g.node_id);
    put_str(w, g.fqdn);
    put_bytes(w, g.certificate);
    w.bytes(g.as_sign_public);
    put_endpoints(w, g.dc);
    w.bytes(g.session_key);
    put_bytes(w, g.ticket);
    w.u64(g.expires_unix);
  });
}

Decoded<LoginResponse> decode_login_response(std::span<const uint8_t> body) {
  ByteReader r(body);
  LoginResponse p;
  bool bad = false;
  const uint8_t status = r.u8();
  if (status > kMaxLoginStatus) bad = true;
  p.status = static_cast<LoginStatus>(status);
  p.message = get_str(r);
  if (!r.failed() && !bad && p.status == LoginStatus::busy) p.retry_after_ms = r.u32();
  if (!r.failed() && !bad && p.status == LoginStatus::ok) {
    LoginGrant g;
    g.node_id = r.u64();
    g.fqdn = get_str(r);
    g.certificate = get_bytes(r);
    g.as_sign_public = get_array<kPublicKeySize>(r);
    g.dc = get_endpoints(r, bad);
    g.session_key = get_array<kKeySize>(r);
    g.ticket = get_bytes(r);
    g.expires_unix = r.u64();
    p.grant = std::move(g);
  }
  if (auto e = finish_decode(r, bad)) return *e;
  return p;
}

Bytes encode_login_request_frame(const LoginRequest& request) {
  return encode_frame(MessageType::login_request, encode_login_request(request));
}

Bytes encode_login_response_frame(const LoginResponse& response) {
  return encode_frame(MessageType::login_response, encode_login_response(response));
}

}  // namespace ntm::control
