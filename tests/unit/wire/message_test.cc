#include <catch2/catch.hpp>

#include <array>
#include <cstdint>

#include "wire/message.h"

using namespace ntm::wire;

TEST_CASE("peek_type reads the message type from the first byte", "[wire]") {
  const std::array<uint8_t, 1> init{1}, response{2}, data{3}, cookie{4};
  CHECK(peek_type(init).value() == MessageType::handshake_init);
  CHECK(peek_type(response).value() == MessageType::handshake_response);
  CHECK(peek_type(data).value() == MessageType::data);
  CHECK(peek_type(cookie).value() == MessageType::cookie_reply);
}

TEST_CASE("peek_type rejects empty datagrams and unknown types", "[wire]") {
  CHECK(peek_type({}).error() == DecodeError::truncated);
  for (uint8_t t : {0, 5, 0x0f, 0x10, 0xff}) {
    const std::array<uint8_t, 4> d{t, 0, 0, 0};
    CHECK(peek_type(d).error() == DecodeError::unknown_type);
  }
}
