#include <catch2/catch.hpp>

#include "control/login.h"
#include "test_util.h"

using namespace ntm;
using namespace ntm::control;
using ntm::wire::DecodeError;

namespace {

LoginRequest sample_request() {
  LoginRequest q;
  q.account = "alice";
  q.secret = "correct horse";
  q.static_public.fill(0x42);
  return q;
}

LoginResponse sample_ok() {
  LoginGrant g;
  g.node_id = 0x0102030405060708;
  g.fqdn = "alice.example";
  g.certificate = {1, 2, 3};
  g.as_sign_public.fill(7);
  g.dc = {test::ep4(1, 7801), test::ep6(1, 7801)};
  g.session_key.fill(9);
  g.ticket = Bytes(80, 0xaa);
  g.expires_unix = 1700000000;
  return LoginResponse{LoginStatus::ok, "ok", g};
}

}  // namespace

TEST_CASE("login request round-trips", "[control]") {
  const auto q = sample_request();
  const auto body = encode_login_request(q);
  auto d = decode_login_request(body);
  REQUIRE(d.ok());
  CHECK(d.value() == q);
}

TEST_CASE("login request rejects truncated and trailing bytes", "[control]") {
  test::check_truncations_and_trailing(encode_login_request(sample_request()),
                                       [](auto s) { return decode_login_request(s); });
}

TEST_CASE("login response with a grant round-trips", "[control]") {
  const auto p = sample_ok();
  auto d = decode_login_response(encode_login_response(p));
  REQUIRE(d.ok());
  CHECK(d.value() == p);
}

TEST_CASE("login response without a grant round-trips for each refusal status", "[control]") {
  for (auto s : {LoginStatus::bad_credentials, LoginStatus::account_disabled,
                 LoginStatus::bad_request, LoginStatus::server_error, LoginStatus::rate_limited}) {
    const LoginResponse p{s, "no", std::nullopt};
    auto d = decode_login_response(encode_login_response(p));
    REQUIRE(d.ok());
    CHECK(d.value() == p);
  }
}

TEST_CASE("a busy login response carries its retry time", "[control]") {
  LoginResponse p{LoginStatus::busy, "retry in 750 ms", std::nullopt};
  p.retry_after_ms = 750;
  const auto body = encode_login_response(p);
  auto d = decode_login_response(body);
  REQUIRE(d.ok());
  CHECK(d.value() == p);
  CHECK(d.value().retry_after_ms == 750);
  test::check_truncations_and_trailing(body, [](auto s) { return decode_login_response(s); });
  // Only busy carries the field: another status with the same bytes has trailing bytes.
  auto other = body;
  other[0] = static_cast<uint8_t>(LoginStatus::server_error);
  CHECK_FALSE(decode_login_response(other).ok());
}

TEST_CASE("login response rejects truncated and trailing bytes", "[control]") {
  test::check_truncations_and_trailing(encode_login_response(sample_ok()),
                                       [](auto s) { return decode_login_response(s); });
  test::check_truncations_and_trailing(
      encode_login_response({LoginStatus::bad_credentials, "bad", std::nullopt}),
      [](auto s) { return decode_login_response(s); });
}

TEST_CASE("login response rejects an unknown status and a bad endpoint family", "[control]") {
  auto body = encode_login_response({LoginStatus::bad_credentials, "x", std::nullopt});
  body[0] = 99;
  CHECK(decode_login_response(body).error() == DecodeError::bad_field);

  auto ok = encode_login_response(sample_ok());
  // The dc list starts after status, message, node_id, fqdn, certificate, as_sign_public.
  const size_t dc_at = 1 + 2 + 2 + 8 + 2 + 13 + 2 + 3 + 32;
  REQUIRE(ok[dc_at] == 2);       // count
  REQUIRE(ok[dc_at + 1] == 4);   // family of the first endpoint
  ok[dc_at + 1] = 5;
  CHECK(decode_login_response(ok).error() == DecodeError::bad_field);
}

TEST_CASE("login response encoder refuses a grant that does not match the status", "[control]") {
  CHECK_THROWS_AS(encode_login_response({LoginStatus::ok, "", std::nullopt}), std::invalid_argument);
  auto p = sample_ok();
  p.status = LoginStatus::bad_request;
  CHECK_THROWS_AS(encode_login_response(p), std::invalid_argument);
}

TEST_CASE("login frame carries length, type and body", "[control]") {
  const auto frame = encode_login_request_frame(sample_request());
  const auto body = encode_login_request(sample_request());
  REQUIRE(frame.size() == 5 + body.size());
  CHECK(wire::load_be32(frame.data()) == body.size() + 1);
  CHECK(frame[4] == 0x20);
  auto f = decode_frame(frame);
  REQUIRE(f.ok());
  CHECK(f->type == MessageType::login_request);
  CHECK(std::equal(f->body.begin(), f->body.end(), body.begin(), body.end()));
}

TEST_CASE("login frame rejects truncation, trailing bytes, bad lengths and unknown types",
          "[control]") {
  const auto frame = encode_login_response_frame({LoginStatus::server_error, "x", std::nullopt});
  for (size_t n = 0; n < frame.size(); ++n)
    CHECK(decode_frame(std::span<const uint8_t>(frame.data(), n)).error() == DecodeError::truncated);
  auto longer = frame;
  longer.push_back(0);
  CHECK(decode_frame(longer).error() == DecodeError::oversized);

  auto unknown = frame;
  unknown[4] = 0x16;
  CHECK(decode_frame(unknown).error() == DecodeError::unknown_type);

  const std::vector<uint8_t> zero{0, 0, 0, 0};
  CHECK(decode_frame_length(zero).error() == DecodeError::bad_field);
  const std::vector<uint8_t> huge{0, 1, 0, 1};  // 65537
  CHECK(decode_frame_length(huge).error() == DecodeError::oversized);
  const std::vector<uint8_t> max{0, 1, 0, 0};  // 65536
  CHECK(decode_frame_length(max).value() == 65536u);
  CHECK_THROWS_AS(encode_frame(MessageType::login_request, Bytes(kMaxFrameSize)), std::length_error);
}

TEST_CASE("login encoders refuse strings longer than a u16 length", "[control]") {
  auto q = sample_request();
  q.account.assign(70000, 'a');
  CHECK_THROWS_AS(encode_login_request(q), std::length_error);
}
