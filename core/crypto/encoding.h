// Text encodings for keys and digests: hex and base64 (RFC 4648, standard alphabet, padded).
// Pure functions; no OpenSSL.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ntm::crypto {

// Lower-case hex, two characters per byte.
std::string to_hex(std::span<const uint8_t> data);
// Accepts upper or lower case; nullopt for an odd length or any non-hex character.
std::optional<std::vector<uint8_t>> from_hex(std::string_view text);

// Standard alphabet (A-Z a-z 0-9 + /) with '=' padding to a multiple of 4 characters.
std::string base64_encode(std::span<const uint8_t> data);
// Strict inverse of base64_encode: nullopt for a length that is not a multiple of 4, a
// character outside the alphabet (including whitespace and the URL-safe '-' '_'), misplaced
// padding, or non-zero unused bits in the last group (a non-canonical encoding).
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace ntm::crypto
