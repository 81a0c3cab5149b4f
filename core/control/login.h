// Login (node -> AS over TLS 1.3, docs/protocol.md section 3): the frame format and the two
// messages. One LoginRequest, one LoginResponse, then the AS closes the connection.
//
//   frame          length u32 | type u8 | body          (length counts type + body, 1..64 KiB)
//   LoginRequest   account str | secret str | static_public[32]
//   LoginResponse  status u8 | message str, and when status = ok:
//                  node_id u64 | fqdn str | certificate bytes | as_sign_public[32] |
//                  dc list<endpoint> | session_key[32] | ticket bytes | expires_unix u64
//                  or when status = busy: retry_after_ms u32
#pragma once

#include <optional>
#include <span>
#include <string>

#include "control/codec_util.h"

namespace ntm::control {

// ---- framing ----
struct FrameView {
  MessageType type;
  std::span<const uint8_t> body;  // a view into the decoded buffer
};

// length | type | body. Throws std::length_error when the frame would exceed kMaxFrameSize.
Bytes encode_frame(MessageType type, std::span<const uint8_t> body);
// The length field of a frame (the 4 bytes read first from the stream): truncated if fewer
// than 4 bytes; bad_field for 0; oversized above kMaxFrameSize.
Decoded<uint32_t> decode_frame_length(std::span<const uint8_t> first_bytes) noexcept;
// A whole frame (length field included). Checks in order: the length field as above; fewer
// bytes than it claims -> truncated; more -> oversized; type not login_request/login_response ->
// unknown_type.
Decoded<FrameView> decode_frame(std::span<const uint8_t> frame) noexcept;

// ---- messages ----
struct LoginRequest {
  std::string account;
  std::string secret;  // password or one-time enrollment token
  Key32 static_public{};

  friend bool operator==(const LoginRequest&, const LoginRequest&) = default;
};

// Everything the node receives on a successful login.
struct LoginGrant {
  uint64_t node_id = 0;
  std::string fqdn;
  Bytes certificate;  // encoded NodeCertificate (certificate.h)
  Key32 as_sign_public{};
  std::vector<Endpoint> dc;  // DC endpoints, in order of preference
  Key32 session_key{};      // the DC session key (dc_channel.h)
  Bytes ticket;             // opaque to the node; sent in Register
  uint64_t expires_unix = 0;  // ticket, session and certificate expiry

  friend bool operator==(const LoginGrant&, const LoginGrant&) = default;
};

struct LoginResponse {
  LoginStatus status = LoginStatus::ok;
  std::string message;  // human-readable; empty or "ok" on success
  std::optional<LoginGrant> grant;  // present exactly when status == ok
  uint32_t retry_after_ms = 0;      // on the wire exactly when status == busy

  friend bool operator==(const LoginResponse&, const LoginResponse&) = default;
};

// Bodies (without the frame). Encoders throw std::length_error / std::invalid_argument on
// values the format cannot carry (a grant missing for ok or present otherwise, over-long fields).
Bytes encode_login_request(const LoginRequest& request);
Bytes encode_login_response(const LoginResponse& response);
// Strict decoders: truncated, bad_field (unknown status, a bad endpoint family), oversized
// (trailing bytes).
Decoded<LoginRequest> decode_login_request(std::span<const uint8_t> body);
Decoded<LoginResponse> decode_login_response(std::span<const uint8_t> body);

// Convenience: the whole frame for each message.
Bytes encode_login_request_frame(const LoginRequest& request);
Bytes encode_login_response_frame(const LoginResponse& response);

}  // namespace ntm::control
