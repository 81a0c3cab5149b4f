// Fuzz target "login": the node <-> AS frames (core/control/login) as the AS and the node read
// them from the TLS stream: the length field first, then the whole frame, then the request or
// response body it holds. Whatever decodes must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>

#include "control/certificate.h"
#include "control/login.h"
#include "fuzz_check.h"

using namespace ntm;
using control::MessageType;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);

  if (auto length = control::decode_frame_length(in)) {
    fuzz::check(*length >= 1 && *length <= control::kMaxFrameSize, "frame length in range");
  }
  auto frame = control::decode_frame(in);
  if (!frame) return 0;
  fuzz::check(fuzz::within(frame->body, in), "frame body inside the frame");
  if (frame->type == MessageType::login_request) {
    if (auto request = control::decode_login_request(frame->body)) {
      fuzz::check_round_trip(*request, in, control::encode_login_request_frame,
                             "login request round trip");
    }
  } else if (auto response = control::decode_login_response(frame->body)) {
    fuzz::check_round_trip(*response, in, control::encode_login_response_frame,
                           "login response round trip");
    if (response->grant) (void)control::decode_certificate(response->grant->certificate);
  }
  return 0;
}
