#include "capi_util.h"

#include <arpa/inet.h>

#include <cstring>

#include "crypto/encoding.h"

namespace ntm::capi {

void copy_text(std::string_view text, char* out, size_t size) {
  if (out == nullptr || size == 0) return;
  size_t n = std::min(text.size(), size - 1);
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

std::optional<crypto::X25519Key> parse_key(const char* base64) {
  if (base64 == nullptr) return std::nullopt;
  auto bytes = crypto::base64_decode(base64);
  if (!bytes || bytes->size() != 32) return std::nullopt;
  crypto::X25519Key key;
  std::memcpy(key.data(), bytes->data(), 32);
  return key;
}

std::optional<std::array<uint8_t, 4>> parse_ipv4(const char* text) {
  std::array<uint8_t, 4> a;
  if (text == nullptr || inet_pton(AF_INET, text, a.data()) != 1) return std::nullopt;
  return a;
}

std::optional<std::array<uint8_t, 16>> parse_ipv6(const char* text) {
  std::array<uint8_t, 16> a;
  if (text == nullptr || inet_pton(AF_INET6, text, a.data()) != 1) return std::nullopt;
  return a;
}

std::string format_ipv4(const std::array<uint8_t, 4>& address) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, address.data(), buf, sizeof(buf));
  return buf;
}

std::string format_ipv6(const std::array<uint8_t, 16>& address) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, address.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace ntm::capi
