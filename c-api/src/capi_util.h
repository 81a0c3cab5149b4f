// Small conversions the C ABI shares: text keys and addresses, fixed-size string copies.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/x25519.h"

namespace ntm::capi {

// Copies `text` into a fixed-size C buffer, always NUL-terminated (truncating if needed).
void copy_text(std::string_view text, char* out, size_t size);

std::optional<crypto::X25519Key> parse_key(const char* base64);
std::optional<std::array<uint8_t, 4>> parse_ipv4(const char* text);
std::optional<std::array<uint8_t, 16>> parse_ipv6(const char* text);
std::string format_ipv4(const std::array<uint8_t, 4>& address);
std::string format_ipv6(const std::array<uint8_t, 16>& address);

}  // namespace ntm::capi
